"""Print the row count and the first rows of every table in a DuckDB file: the loaded tables
first, then dbt's marts (schema `<loader schema>_marts`). dbt's staging views are left out: they
are the loaded tables renamed.

The file is attached under an alias, so the script does not depend on the file's own catalog
name (DuckDB names it after the file).

With a query after the file, it prints that query's result instead (tables named
`schema.table`, as the listing shows them): what the demo's last lines suggest.

    .venv/bin/python scripts/show_duckdb.py [FILE] [QUERY]
"""

from __future__ import annotations

import os
import sys

import duckdb

ALIAS = "demo"
DEFAULT_FILE = "output/sandbox.duckdb"  # the demo's: the sandbox environment's file


def first_line(error: duckdb.Error) -> str:
    return str(error).strip().splitlines()[0]


def print_result(result: duckdb.DuckDBPyConnection) -> None:
    """A result as `column | column` lines: the header, then every row."""
    if result.description is None:  # a statement without a result
        return
    print(" | ".join(d[0] for d in result.description))
    for row in result.fetchall():
        print(" | ".join(str(v) for v in row))


def main(path: str, query: str | None = None, rows: int = 3) -> int:
    connection = duckdb.connect()
    try:
        try:
            connection.execute(f"attach '{path}' as {ALIAS} (read_only)")
        except duckdb.Error as error:
            # A missing file, or one another process holds open (DuckDB locks it).
            print(f"show_duckdb.py: cannot read {path}: {first_line(error)}", file=sys.stderr)
            return 1
        if query is not None:
            connection.execute(f"use {ALIAS}")  # `schema.table` names the file's tables
            try:
                print_result(connection.execute(query))
            except duckdb.Error as error:
                print(f"show_duckdb.py: the query failed: {first_line(error)}", file=sys.stderr)
                return 1
            return 0
        tables = connection.execute(
            "select table_schema, table_name from information_schema.tables "
            "where table_catalog = ? and table_schema not like '%\\_staging' escape '\\' "
            "order by 1, 2",
            [ALIAS],
        ).fetchall()
        for schema, table in tables:
            name = f'{ALIAS}."{schema}"."{table}"'
            count = connection.execute(f"select count(*) from {name}").fetchone()
            print(f"\n== {schema}.{table}: {count[0] if count else 0} rows")
            print_result(connection.execute(f"select * from {name} limit {rows}"))
    finally:
        connection.close()
    return 0


if __name__ == "__main__":
    arguments = sys.argv[1:]
    try:
        code = main(
            arguments[0] if arguments else DEFAULT_FILE,
            arguments[1] if len(arguments) > 1 else None,
        )
        sys.stdout.flush()
    except BrokenPipeError:
        # Piped into `head`, which stopped reading: what it wanted was shown. Python's own
        # flush at exit would fail again, so stdout goes nowhere from here on.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        code = 0
    sys.exit(code)
