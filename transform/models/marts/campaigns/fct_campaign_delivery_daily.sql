-- ATOM delivery per campaign, dimension and campaign-local day: the day's total over the
-- dimension's values. Each dimension splits the campaign's delivery its own way, and ATOM
-- leaves out values without activity, so totals can differ between dimensions of one day.
-- Money keeps the staging models' type (sums would widen it, differently per warehouse).
with totals as (
    select
        campaign_id,
        dimension,
        local_date,
        count(*) as dimension_values,
        sum(impressions) as impressions,
        sum(clicks) as clicks,
        sum(actions) as actions,
        sum(bids) as bids,
        cast(sum(bid_amount) as numeric(20, 6)) as bid_amount,
        cast(sum(spend) as numeric(20, 6)) as spend,
        cast(sum(revenue) as numeric(20, 6)) as revenue,
        sum(video_views) as video_views,
        sum(video_completions_0) as video_completions_0,
        sum(video_completions_25) as video_completions_25,
        sum(video_completions_50) as video_completions_50,
        sum(video_completions_75) as video_completions_75,
        sum(video_completions_100) as video_completions_100,
        max(extracted_at_utc) as extracted_at_utc
    from {{ ref('fct_campaign_delivery') }}
    group by campaign_id, dimension, local_date
)

select
    totals.*,
    {{ delivery_rates() }}
from totals
