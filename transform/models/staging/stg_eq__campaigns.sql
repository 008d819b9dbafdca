-- One row per ATOM campaign: the latest extraction (a campaign moves between state lists).
with latest as (
    {{ latest_extraction('eq_campaigns', ['campaign_id'], {
        'campaign_id': 'bigint', 'name': dbt.type_string(), 'state': dbt.type_string(),
        'time_zone': dbt.type_string(), 'start_date': dbt.type_string(),
        'end_date': dbt.type_string(), 'start_utc': 'timestamp', 'end_utc': 'timestamp',
        'days_left': 'bigint', 'total_days': 'bigint', 'currency': dbt.type_string(),
        'enabled': 'boolean', '_sdc_extracted_at': 'timestamp'
    }) }}
)

select
    cast(campaign_id as bigint) as campaign_id,
    cast(name as {{ dbt.type_string() }}) as campaign_name,
    cast(state as {{ dbt.type_string() }}) as campaign_state,
    cast(time_zone as {{ dbt.type_string() }}) as time_zone,
    -- as ATOM gives them: wall times in the campaign's time zone
    cast(start_date as timestamp) as starts_at_local,
    cast(end_date as timestamp) as ends_at_local,
    cast(cast(start_date as timestamp) as date) as start_local_date,
    cast(cast(end_date as timestamp) as date) as end_local_date,
    -- the same moments in UTC (the tap converts them with the campaign's time zone)
    cast(start_utc as timestamp) as starts_at_utc,
    cast(end_utc as timestamp) as ends_at_utc,
    cast(days_left as integer) as days_left,
    cast(total_days as integer) as total_days,
    cast(currency as {{ dbt.type_string() }}) as currency,
    cast(enabled as boolean) as is_enabled,
    cast(_sdc_extracted_at as timestamp) as extracted_at_utc
from latest
