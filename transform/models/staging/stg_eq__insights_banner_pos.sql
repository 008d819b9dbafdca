-- ATOM delivery per campaign, banner_pos value and campaign-local day (macros/stage_insights.sql).
{{ stage_insights('banner_pos') }}
