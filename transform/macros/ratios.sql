{# `numerator / denominator` as a float; null when the denominator is 0 or null (no rate, not 0). #}
{% macro ratio(numerator, denominator) -%}
    cast({{ numerator }} as double precision) / nullif({{ denominator }}, 0)
{%- endmacro %}

{#
  The average of `value` weighted by `weight` over a group's rows, skipping rows where `value`
  is null (a bucket with nobody interested has no stop time): null when no weight remains.
#}
{% macro weighted_average(value, weight) -%}
    {{ ratio(
        "sum(cast(" ~ value ~ " as double precision) * " ~ weight ~ ")",
        "sum(case when " ~ value ~ " is not null then " ~ weight ~ " end)"
    ) }}
{%- endmacro %}
