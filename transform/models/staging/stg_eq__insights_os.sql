-- ATOM delivery per campaign, os value and campaign-local day (macros/stage_insights.sql).
{{ stage_insights('os') }}
