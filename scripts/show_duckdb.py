"""Print the row count and the first rows of every table in a DuckDB file: the loaded tables
first, then dbt's marts (schema `<loader schema>_marts`). dbt's staging views are left out: they
are the loaded tables renamed.

The file is attached under an alias, so the script does not depend on the file's own catalog
name (DuckDB names it after the file).
"""

from __future__ import annotations

import sys

import duckdb

ALIAS = "demo"


def main(path: str, rows: int = 3) -> int:
    connection = duckdb.connect()
    try:
        try:
            connection.execute(f"attach '{path}' as {ALIAS} (read_only)")
        except duckdb.Error as error:
            # A missing file, or one another process holds open (DuckDB locks it).
            reason = str(error).splitlines()[0]
            print(f"show_duckdb.py: cannot read {path}: {reason}", file=sys.stderr)
            return 1
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
            result = connection.execute(f"select * from {name} limit {rows}")
            print(" | ".join(d[0] for d in result.description))
            for row in result.fetchall():
                print(" | ".join(str(v) for v in row))
    finally:
        connection.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "output/sandbox.duckdb"))
