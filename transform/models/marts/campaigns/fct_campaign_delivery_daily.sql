-- ATOM delivery per campaign, dimension and campaign-local day: the day's total over the
-- dimension's values. Each dimension splits the campaign's delivery its own way, and ATOM
-- leaves out values without activity, so totals can differ between dimensions of one day.
with totals as (
    select
        campaign_id,
        dimension,
        local_date,
        cast(count(*) as bigint) as dimension_value_count,
        {{ sums_as(['impressions', 'clicks', 'actions', 'bids'], 'bigint') }},
        {{ sums_as(['bid_amount', 'spend', 'revenue'], 'numeric(20, 6)') }},
        {{ sums_as([
            'video_views', 'video_completions_0', 'video_completions_25',
            'video_completions_50', 'video_completions_75', 'video_completions_100',
        ], 'bigint') }},
        max(extracted_at_utc) as extracted_at_utc
    from {{ ref('fct_campaign_delivery') }}
    group by campaign_id, dimension, local_date
)

select
    totals.*,
    {{ delivery_rates() }}
from totals
