{#
  An integer member of a JSON object column (target-duckdb: JSON, target-postgres: jsonb); null
  when the object or the member is missing. `->>` reads a member as text in both warehouses.
#}
{% macro json_count(column, member) -%}
    cast({{ column }} ->> '{{ member }}' as bigint)
{%- endmacro %}
