-- LOCUS household segments per coordinate, each with its share of the coordinate's households.
select
    coords,
    latitude,
    longitude,
    segment_id,
    segment_name,
    households,
    {{ ratio('households', 'sum(households) over (partition by coords)') }} as household_share,
    vendor_percent / 100.0 as vendor_share,
    extracted_at_utc
from {{ ref('stg_locus__hh_segments') }}
