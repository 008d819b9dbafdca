-- One row per (camera, bucket size, bucket start): the latest extraction of each Angus bucket.
-- The newest bucket is partial when the tap reads it and the lookback reads it again, so an
-- appending target holds several versions; the last one read is the complete one.
with latest as (
    {{ latest_extraction('angus_entities', ['client_id', 'time_bucket', 'bucket_start'], {
        'client_id': dbt.type_string(), 'time_bucket': dbt.type_string(),
        'bucket_start': 'timestamp', 'passing_by': 'bigint', 'interested': 'bigint',
        'stop_time': 'double precision', 'attention_time': 'double precision',
        'satisfaction': 'double precision', 'category': 'json', 'gender': 'json',
        '_sdc_extracted_at': 'timestamp'
    }) }}
)

select
    cast(client_id as {{ dbt.type_string() }}) as camera_id,
    cast(time_bucket as {{ dbt.type_string() }}) as time_bucket,
    -- the targets store the tap's UTC date-times as timestamps without an offset
    cast(bucket_start as timestamp) as bucket_start_utc,
    cast(passing_by as bigint) as passing_by,
    cast(interested as bigint) as interested,
    cast(stop_time as double precision) as stop_time_seconds,
    cast(attention_time as double precision) as attention_time_seconds,
    cast(satisfaction as double precision) as satisfaction,
    -- the interested people by age and gender (those without an estimate are left out)
    {{ json_count('category', 'senior_female') }} as interested_senior_female,
    {{ json_count('category', 'senior_male') }} as interested_senior_male,
    {{ json_count('category', 'young_female') }} as interested_young_female,
    {{ json_count('category', 'young_male') }} as interested_young_male,
    -- the interested people by gender (`unknown` is the API's "?")
    {{ json_count('gender', 'female') }} as interested_female,
    {{ json_count('gender', 'male') }} as interested_male,
    {{ json_count('gender', 'unknown') }} as interested_gender_unknown,
    cast(_sdc_extracted_at as timestamp) as extracted_at_utc
from latest
