-- ATOM delivery per campaign, dimension, dimension value and campaign-local day: the nine
-- insights dimensions in one table (`dimension` says which), with the rates a report reads.
with delivery as (
    {% for dimension in var('insight_dimensions') %}
    select * from {{ ref('stg_eq__insights_' ~ dimension) }}
    {% if not loop.last %}union all{% endif %}
    {% endfor %}
)

select
    campaign_id,
    dimension,
    dimension_value,
    local_date,
    impressions,
    clicks,
    actions,
    bids,
    bid_amount,
    spend,
    revenue,
    video_views,
    video_completions_0,
    video_completions_25,
    video_completions_50,
    video_completions_75,
    video_completions_100,
    {{ delivery_rates() }},
    extracted_at_utc
from delivery
