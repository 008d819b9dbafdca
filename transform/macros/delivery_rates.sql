{#
  The rates of a delivery row, from its counts: click-through (clicks per impression), win
  rate (impressions per bid) and video completion at each quartile (completions per video
  view). Null where the denominator is 0: a campaign without video has no completion rate.
#}
{% macro delivery_rates() -%}
    {{ ratio('clicks', 'impressions') }} as click_through_rate,
    {{ ratio('impressions', 'bids') }} as win_rate,
    {{ ratio('video_completions_25', 'video_views') }} as video_completion_rate_25,
    {{ ratio('video_completions_50', 'video_views') }} as video_completion_rate_50,
    {{ ratio('video_completions_75', 'video_views') }} as video_completion_rate_75,
    {{ ratio('video_completions_100', 'video_views') }} as video_completion_rate_100
{%- endmacro %}
