{#
  Does the warehouse hold what the tap loaded? Run before every `dbt build`, `run`, `test` and
  `source freshness` (`on-run-start` in dbt_project.yml), once, before any model is built.

  Each table of the `tap_audience` source is one of:
  - missing: its stream was left out of the catalog (Meltano's `select:`). Not an error: the
    stream's staging model is empty and logs one line naming the table (latest_extraction);
  - empty: the stream is selected but synced no record. Both targets create a stream's table
    from its SCHEMA message alone (measured: target-duckdb 0.8.0 and target-postgres 0.8.1 with
    a vendor left without credentials, or LOCUS without coordinates), so this is a normal run,
    not a fault: one warning naming the table, and the build goes on;
  - loaded: it holds rows.
  When no table is loaded (none exists, or every one is empty) nothing was loaded where dbt
  looks: the load has not run yet, or dbt points at another file, database or schema than the
  loader. The build then fails here, in one line naming where it looked, instead of rebuilding
  every mart empty and passing.
#}
{% macro check_sources_loaded() %}
    {%- if not execute -%}
        {{ return('') }}
    {%- endif -%}
    {%- set sources = graph.sources.values()
        | selectattr('source_name', 'equalto', 'tap_audience') | sort(attribute='name') -%}
    {%- set present = [] -%}
    {%- for source in sources -%}
        {%- set relation = adapter.get_relation(
            database=source.database, schema=source.schema, identifier=source.identifier
        ) -%}
        {%- if relation is not none -%}
            {%- do present.append((source.name, relation)) -%}
        {%- endif -%}
    {%- endfor -%}

    {%- set empty = [] -%}
    {%- if present -%}
        {%- set query -%}
            {%- for name, relation in present %}
            select '{{ name }}' as source_table, exists (select 1 from {{ relation }}) as has_rows
            {% if not loop.last %}union all{% endif %}
            {%- endfor %}
        {%- endset -%}
        {%- for row in run_query(query).rows if not row['has_rows'] -%}
            {%- do empty.append(row['source_table']) -%}
        {%- endfor -%}
    {%- endif -%}

    {%- if empty | length == present | length -%}
        {%- if target.type == 'duckdb' -%}
            {%- set place = 'the DuckDB file ' ~ target.path -%}
            {%- set settings = "dbt-duckdb's path and schema at target-duckdb's filepath and"
                ~ " default_target_schema" -%}
        {%- else -%}
            {%- set place = 'the PostgreSQL database ' ~ target.database ~ ' on ' ~ target.host
                ~ ':' ~ target.port -%}
            {%- set settings = "dbt-postgres's dbname and schema at target-postgres's database and"
                ~ " default_target_schema" -%}
        {%- endif -%}
        {%- set found = 'no tap-audience table' if not present
            else 'every tap-audience table there is empty (' ~ empty | sort | join(', ') ~ ')' -%}
        {{ exceptions.raise_database_error(
            'tap_audience: nothing loaded in schema "' ~ (sources | first).schema ~ '" of '
            ~ place ~ ': ' ~ found ~ '. Run the load first (meltano run tap-audience target-'
            ~ target.type ~ '), or point ' ~ settings ~ '.'
        ) }}
    {%- endif -%}

    {%- for name, relation in present if name in empty -%}
        {%- do exceptions.warn(
            'tap_audience: warning: ' ~ relation ~ ' holds no rows (its stream synced no record:'
            ~ ' a vendor without credentials, LOCUS without coordinates, nothing in the range'
            ~ ' yet): its models are empty'
        ) -%}
    {%- endfor -%}
{% endmacro %}
