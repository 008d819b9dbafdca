-- ATOM delivery per campaign, dimension and campaign-local day: the day's total over the
-- dimension's values. Each dimension splits the campaign's delivery its own way, and ATOM
-- leaves out values without activity, so totals can differ between dimensions of one day.
-- Sums keep the staging models' types (they would widen, differently per warehouse).
with totals as (
    select
        campaign_id,
        dimension,
        local_date,
        cast(count(*) as bigint) as dimension_value_count,
        cast(sum(impressions) as bigint) as impressions,
        cast(sum(clicks) as bigint) as clicks,
        cast(sum(actions) as bigint) as actions,
        cast(sum(bids) as bigint) as bids,
        cast(sum(bid_amount) as numeric(20, 6)) as bid_amount,
        cast(sum(spend) as numeric(20, 6)) as spend,
        cast(sum(revenue) as numeric(20, 6)) as revenue,
        cast(sum(video_views) as bigint) as video_views,
        cast(sum(video_completions_0) as bigint) as video_completions_0,
        cast(sum(video_completions_25) as bigint) as video_completions_25,
        cast(sum(video_completions_50) as bigint) as video_completions_50,
        cast(sum(video_completions_75) as bigint) as video_completions_75,
        cast(sum(video_completions_100) as bigint) as video_completions_100,
        max(extracted_at_utc) as extracted_at_utc
    from {{ ref('fct_campaign_delivery') }}
    group by campaign_id, dimension, local_date
)

select
    totals.*,
    {{ delivery_rates() }}
from totals
