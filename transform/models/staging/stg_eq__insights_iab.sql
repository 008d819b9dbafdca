-- ATOM delivery per campaign, iab value and campaign-local day (macros/stage_insights.sql).
{{ stage_insights('iab') }}
