-- One row per (coordinate, household segment): the latest extraction.
with latest as (
    {{ latest_extraction('locus_hh_segments', ['coords', 'segment_id'], {
        'coords': dbt.type_string(), 'lat': 'double precision', 'lon': 'double precision',
        'segment_id': 'bigint', 'segment_name': dbt.type_string(), 'households': 'bigint',
        'percent': 'double precision', '_sdc_extracted_at': 'timestamp'
    }) }}
)

select
    cast(coords as {{ dbt.type_string() }}) as coords,
    cast(lat as double precision) as latitude,
    cast(lon as double precision) as longitude,
    cast(segment_id as bigint) as segment_id,
    cast(segment_name as {{ dbt.type_string() }}) as segment_name,
    cast(households as bigint) as households,
    -- LOCUS's own percentage (0-100) of the coordinate's households
    cast(percent as double precision) as vendor_percent,
    cast(_sdc_extracted_at as timestamp) as extracted_at_utc
from latest
