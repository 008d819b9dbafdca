-- Audience per camera and UTC day. A day is rolled up from its hourly buckets: counts summed,
-- averages weighted by the interested people of each hour, `is_complete_day` when all 24 hours
-- are there (the current day, or a day the sync range cuts, is not). A camera synced with
-- `angus_time_bucket: by_day` has no hours: its day comes from the daily bucket, complete
-- once the day had ended when the tap read it.
with hourly_days as (
    select
        camera_id,
        cast(bucket_start_utc as date) as day_utc,
        'by_hour' as source_time_bucket,
        count(*) as hours_present,
        sum(passing_by) as passing_by,
        sum(interested) as interested,
        {{ weighted_average('stop_time_seconds', 'interested') }} as avg_stop_time_seconds,
        {{ weighted_average('attention_time_seconds', 'interested') }} as avg_attention_time_seconds,
        {{ weighted_average('satisfaction', 'interested') }} as avg_satisfaction,
        sum(interested_senior_female) as interested_senior_female,
        sum(interested_senior_male) as interested_senior_male,
        sum(interested_young_female) as interested_young_female,
        sum(interested_young_male) as interested_young_male,
        sum(interested_female) as interested_female,
        sum(interested_male) as interested_male,
        sum(interested_gender_unknown) as interested_gender_unknown,
        max(extracted_at_utc) as extracted_at_utc
    from {{ ref('stg_angus__entities') }}
    where time_bucket = 'by_hour'
    group by camera_id, cast(bucket_start_utc as date)
),

daily_buckets as (
    select
        daily.camera_id,
        cast(daily.bucket_start_utc as date) as day_utc,
        'by_day' as source_time_bucket,
        cast(null as bigint) as hours_present,
        daily.passing_by,
        daily.interested,
        daily.stop_time_seconds as avg_stop_time_seconds,
        daily.attention_time_seconds as avg_attention_time_seconds,
        daily.satisfaction as avg_satisfaction,
        daily.interested_senior_female,
        daily.interested_senior_male,
        daily.interested_young_female,
        daily.interested_young_male,
        daily.interested_female,
        daily.interested_male,
        daily.interested_gender_unknown,
        daily.extracted_at_utc
    from {{ ref('stg_angus__entities') }} as daily
    where daily.time_bucket = 'by_day'
        and not exists (
            select 1
            from hourly_days
            where hourly_days.camera_id = daily.camera_id
                and hourly_days.day_utc = cast(daily.bucket_start_utc as date)
        )
),

days as (
    select * from hourly_days
    union all
    select * from daily_buckets
)

select
    camera_id,
    day_utc,
    source_time_bucket,
    hours_present,
    case
        when source_time_bucket = 'by_hour' then hours_present = 24
        else extracted_at_utc >= cast(day_utc as timestamp) + interval '1 day'
    end as is_complete_day,
    passing_by,
    interested,
    {{ ratio('interested', 'passing_by') }} as attention_rate,
    avg_stop_time_seconds,
    avg_attention_time_seconds,
    avg_satisfaction,
    interested_senior_female,
    interested_senior_male,
    interested_young_female,
    interested_young_male,
    interested_female,
    interested_male,
    interested_gender_unknown,
    {{ audience_mix_shares() }},
    extracted_at_utc
from days
