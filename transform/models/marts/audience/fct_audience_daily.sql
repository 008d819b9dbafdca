-- Audience per camera and UTC day. A day is rolled up from its hourly buckets: counts summed,
-- averages weighted by the interested people of each hour, the attention rate over the hours
-- that have both counts. `is_complete_day` when all 24 hours are there and each had ended when
-- the tap read it (the current day, or a day the sync range cuts, is not).
-- A camera synced with `angus_time_bucket: by_day` has daily buckets instead; a daily bucket is
-- complete once its day had ended when the tap read it. A camera switched between bucket sizes
-- may have both for a day: the complete one wins, else the one read last (hours on a tie).
with hours as (
    select
        *,
        cast(bucket_start_utc as date) as day_utc,
        extracted_at_utc >= bucket_start_utc + interval '1 hour' as is_finished,
        -- the pair the attention rate divides, from hours that have both counts
        case when interested is not null then passing_by end as paired_passing_by,
        case when passing_by is not null then interested end as paired_interested
    from {{ ref('stg_angus__entities') }}
    where time_bucket = 'by_hour'
),

hourly_days as (
    select
        camera_id,
        day_utc,
        'by_hour' as source_time_bucket,
        cast(count(*) as bigint) as hours_present,
        count(*) = 24 and min(case when is_finished then 1 else 0 end) = 1 as is_complete_day,
        {{ sums_as(['passing_by', 'interested'], 'bigint') }},
        {{ ratio('sum(paired_interested)', 'sum(paired_passing_by)') }} as attention_rate,
        {{ weighted_average('stop_time_seconds', 'interested') }} as avg_stop_time_seconds,
        {{ weighted_average('attention_time_seconds', 'interested') }} as avg_attention_time_seconds,
        {{ weighted_average('satisfaction', 'interested') }} as avg_satisfaction,
        {{ sums_as(interested_counts(), 'bigint') }},
        max(extracted_at_utc) as extracted_at_utc
    from hours
    group by camera_id, day_utc
),

daily_buckets as (
    select
        camera_id,
        cast(bucket_start_utc as date) as day_utc,
        'by_day' as source_time_bucket,
        cast(null as bigint) as hours_present,
        extracted_at_utc >= bucket_start_utc + interval '1 day' as is_complete_day,
        passing_by,
        interested,
        {{ ratio('interested', 'passing_by') }} as attention_rate,
        stop_time_seconds as avg_stop_time_seconds,
        attention_time_seconds as avg_attention_time_seconds,
        satisfaction as avg_satisfaction,
        {{ interested_counts() | join(',\n        ') }},
        extracted_at_utc
    from {{ ref('stg_angus__entities') }}
    where time_bucket = 'by_day'
),

candidates as (
    select * from hourly_days
    union all
    select * from daily_buckets
),

days as (
    select *
    from (
        select
            candidates.*,
            row_number() over (
                partition by camera_id, day_utc
                order by
                    case when is_complete_day then 0 else 1 end,
                    extracted_at_utc desc,
                    case when source_time_bucket = 'by_hour' then 0 else 1 end
            ) as candidate_rank
        from candidates
    ) as ranked
    where candidate_rank = 1
)

select
    camera_id,
    day_utc,
    source_time_bucket,
    hours_present,
    is_complete_day,
    passing_by,
    interested,
    attention_rate,
    avg_stop_time_seconds,
    avg_attention_time_seconds,
    avg_satisfaction,
    {{ interested_counts() | join(',\n    ') }},
    {{ audience_mix_shares() }},
    extracted_at_utc
from days
