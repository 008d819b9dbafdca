{#
  An integer member of a JSON object column (target-duckdb: JSON, target-postgres: jsonb); null
  when the object or the member is missing. `->>` reads a member as text in both warehouses.
#}
{% macro json_count(column, member) -%}
    cast({{ column }} ->> '{{ member }}' as bigint)
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
