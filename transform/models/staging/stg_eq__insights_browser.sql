-- ATOM delivery per campaign, browser value and campaign-local day (macros/stage_insights.sql).
{{ stage_insights('browser') }}
