-- The segments of each coordinate share out all of its households: shares sum to 1.
select coords, sum(household_share) as total_share
from {{ ref('fct_household_segments') }}
group by coords
having abs(sum(household_share) - 1) > 1e-9
