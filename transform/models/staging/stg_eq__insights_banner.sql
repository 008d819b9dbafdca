-- ATOM delivery per campaign, banner value and campaign-local day (macros/stage_insights.sql).
{{ stage_insights('banner') }}
