{#
  The newest extraction of each row of the tap's `table` (a stream's name) at `grain` (a list
  of columns).

  Upserting targets (target-duckdb, target-postgres) hold one version of a row; appending loads
  (target-jsonl, or target-postgres for a stream whose key properties a stream map drops) hold
  one per run whose lookback re-read it. Either way the staging models read only the latest:
  the highest `_sdc_extracted_at` (when the tap read the row), then `_sdc_batched_at` (when the
  target wrote it) to break a tie.

  A stream left out of the catalog (Meltano's `select:`) never gets a table: then the model is
  empty instead of failing the build, with one log line saying why. `columns` (column -> type,
  `json` for an object column) are the raw columns the model reads, typed as the target makes
  them, so the empty relation has the same shape.
#}
{% macro latest_extraction(table, grain, columns) %}
    {%- set relation = source('tap_audience', table) -%}
    {%- if execute and model.config.materialized != 'unit' and load_relation(relation) is none %}
        {{ log(
            "tap_audience: " ~ relation ~ " has not been loaded (is the stream selected?): "
            ~ model.name ~ " is empty",
            info=true
        ) }}
    select
        {% for name, type in columns.items() -%}
        cast(null as {{ json_type() if type == 'json' else type }}) as {{ name }}
        {%- if not loop.last %},{% endif %}
        {% endfor %}
    where 1 = 0
    {%- else %}
    select *
    from (
        select
            versions.*,
            row_number() over (
                partition by {{ grain | join(', ') }}
                order by _sdc_extracted_at desc nulls last, _sdc_batched_at desc nulls last
            ) as version_rank
        from {{ relation }} as versions
    ) as ranked
    where version_rank = 1
    {%- endif %}
{% endmacro %}
