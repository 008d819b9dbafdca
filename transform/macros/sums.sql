{#
  `cast(sum(<column>) as <type>) as <column>` for each column: a rollup's sums keep the staging
  models' types, which the warehouses would widen differently (DuckDB sums bigint to HUGEINT,
  PostgreSQL to numeric).
#}
{% macro sums_as(columns, type) -%}
    {%- for column in columns %}
    cast(sum({{ column }}) as {{ type }}) as {{ column }}{% if not loop.last %},{% endif %}
    {%- endfor %}
{%- endmacro %}
