"""Print the row count and the first rows of every table in a DuckDB file.

The file is attached under its own alias: DuckDB names a file's catalog after the file
("sandbox" for output/sandbox.duckdb, the demo's), target-duckdb puts the tables in its
`default_target_schema` ("sandbox" in meltano.yml's sandbox environment, "audience" in
output/audience.duckdb for production), and a catalog and a schema with one name are ambiguous.
"""

from __future__ import annotations

import sys

import duckdb

ALIAS = "demo"


def main(path: str, rows: int = 3) -> None:
    connection = duckdb.connect()
    try:
        connection.execute(f"attach '{path}' as {ALIAS} (read_only)")
        tables = connection.execute(
            "select table_schema, table_name from information_schema.tables "
            "where table_catalog = ? order by 1, 2",
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


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "output/sandbox.duckdb")
