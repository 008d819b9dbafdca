-- ATOM delivery per campaign, lang value and campaign-local day (macros/stage_insights.sql).
{{ stage_insights('lang') }}
