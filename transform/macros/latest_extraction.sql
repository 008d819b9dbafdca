{#
  The newest extraction of each row of `relation` at `grain` (a list of columns).

  Upserting targets (target-duckdb, target-postgres) hold one version of a row; appending ones
  (target-postgres with load_method append-only, a JSONL lake) hold one per run whose lookback
  re-read it. Either way the staging models read only the latest: the highest
  `_sdc_extracted_at` (when the tap read the row), then `_sdc_batched_at` (when the target
  wrote it) to break a tie.
#}
{% macro latest_extraction(relation, grain) %}
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
{% endmacro %}
