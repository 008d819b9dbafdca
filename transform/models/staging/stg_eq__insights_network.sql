-- ATOM delivery per campaign, network value and campaign-local day (macros/stage_insights.sql).
{{ stage_insights('network') }}
