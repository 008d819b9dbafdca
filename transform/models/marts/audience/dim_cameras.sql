-- Every Angus camera stream the tap has loaded, with the span of buckets it has.
select
    camera_id,
    min(bucket_start_utc) as first_bucket_start_utc,
    max(bucket_start_utc) as last_bucket_start_utc,
    max(extracted_at_utc) as last_extracted_at_utc
from {{ ref('stg_angus__entities') }}
group by camera_id
