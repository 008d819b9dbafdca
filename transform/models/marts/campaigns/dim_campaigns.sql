-- Every campaign the delivery tables mention, with its attributes from the campaign list.
-- A campaign synced through `eq_campaign_ids` but absent from the list (or with eq_campaigns
-- not selected) is still here, `is_listed` false and its attributes null, so joins from the
-- delivery facts never lose rows.
with listed as (
    select * from {{ ref('stg_eq__campaigns') }}
),

delivered as (
    select distinct campaign_id from {{ ref('fct_campaign_delivery') }}
)

select
    coalesce(listed.campaign_id, delivered.campaign_id) as campaign_id,
    listed.campaign_id is not null as is_listed,
    listed.campaign_name,
    listed.campaign_state,
    listed.time_zone,
    listed.starts_at_local,
    listed.ends_at_local,
    listed.start_local_date,
    listed.end_local_date,
    listed.starts_at_utc,
    listed.ends_at_utc,
    listed.days_left,
    listed.total_days,
    listed.currency,
    listed.is_enabled,
    listed.extracted_at_utc
from listed
full outer join delivered on listed.campaign_id = delivered.campaign_id
