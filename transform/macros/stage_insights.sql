{#
  One ATOM insights table (`eq_<dimension>`) at the reporting grain (campaign, dimension,
  dimension value, campaign-local day): renamed, cast, its latest extraction only. Each
  stg_eq__insights_<dimension> model is this one call, so the nine stay alike.
#}
{% macro stage_insights(dimension) %}
with latest as (
    {{ latest_extraction('eq_' ~ dimension, ['campaign_id', 'dimension_value', 'date'], {
        'campaign_id': 'bigint', 'dimension_value': dbt.type_string(), 'date': 'date',
        'imps': 'bigint', 'clicks': 'bigint', 'actions': 'bigint', 'bids': 'bigint',
        'bid_amount': 'double precision', 'imp_cost': 'double precision',
        'revenue': 'double precision', 'vast_view': 'bigint', 'vast_completion_0': 'bigint',
        'vast_completion_25': 'bigint', 'vast_completion_50': 'bigint',
        'vast_completion_75': 'bigint', 'vast_completion_100': 'bigint',
        '_sdc_extracted_at': 'timestamp'
    }) }}
)

select
    cast(campaign_id as bigint) as campaign_id,
    cast('{{ dimension }}' as {{ dbt.type_string() }}) as dimension,
    cast(dimension_value as {{ dbt.type_string() }}) as dimension_value,
    -- the campaign's local day, as ATOM reports it (never converted)
    cast(date as date) as local_date,
    cast(imps as bigint) as impressions,
    cast(clicks as bigint) as clicks,
    cast(actions as bigint) as actions,
    cast(bids as bigint) as bids,
    cast(bid_amount as numeric(20, 6)) as bid_amount,
    cast(imp_cost as numeric(20, 6)) as spend,
    cast(revenue as numeric(20, 6)) as revenue,
    cast(vast_view as bigint) as video_views,
    cast(vast_completion_0 as bigint) as video_completions_0,
    cast(vast_completion_25 as bigint) as video_completions_25,
    cast(vast_completion_50 as bigint) as video_completions_50,
    cast(vast_completion_75 as bigint) as video_completions_75,
    cast(vast_completion_100 as bigint) as video_completions_100,
    cast(_sdc_extracted_at as timestamp) as extracted_at_utc
from latest
{% endmacro %}
