-- ATOM delivery per campaign, user_segment value and campaign-local day (macros/stage_insights.sql).
{{ stage_insights('user_segment') }}
