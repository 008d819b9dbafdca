-- Audience per camera and UTC hour (the Angus `by_hour` buckets), with the rates and mixes
-- a report reads directly.
select
    camera_id,
    bucket_start_utc as hour_start_utc,
    cast(bucket_start_utc as date) as day_utc,
    passing_by,
    interested,
    {{ ratio('interested', 'passing_by') }} as attention_rate,
    stop_time_seconds as avg_stop_time_seconds,
    attention_time_seconds as avg_attention_time_seconds,
    satisfaction as avg_satisfaction,
    {{ interested_counts() | join(',\n    ') }},
    {{ audience_mix_shares() }},
    extracted_at_utc
from {{ ref('stg_angus__entities') }}
where time_bucket = 'by_hour'
