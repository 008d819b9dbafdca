-- ATOM delivery per campaign, session value and campaign-local day (macros/stage_insights.sql).
{{ stage_insights('session') }}
