{#
  An integer member of a JSON object column (target-duckdb: JSON, target-postgres: jsonb). A
  member missing from the object counts 0 (the tap keeps what Angus sends; an absent "?" means
  nobody unknown), so one absent member does not null the totals a share divides by; a missing
  object (the metric not requested) stays null. `->>` reads a member as text in both warehouses.
#}
{% macro json_count(column, member) -%}
    case
        when {{ column }} is not null
            then coalesce(cast({{ column }} ->> '{{ member }}' as bigint), 0)
    end
{%- endmacro %}

{# The type the warehouse's target gives an object column. #}
{% macro json_type() -%}
    {{ return(adapter.dispatch('json_type', 'tap_audience')()) }}
{%- endmacro %}

{% macro default__json_type() -%}
    json
{%- endmacro %}

{% macro postgres__json_type() -%}
    jsonb
{%- endmacro %}
