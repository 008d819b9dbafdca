"""Print the row count and the first rows of every table in a DuckDB file."""

from __future__ import annotations

import sys

import duckdb


def main(path: str, rows: int = 3) -> None:
    connection = duckdb.connect(path, read_only=True)
    try:
        tables = connection.execute(
            "select table_schema, table_name from information_schema.tables order by 1, 2"
        ).fetchall()
        for schema, table in tables:
            count = connection.execute(f'select count(*) from "{schema}"."{table}"').fetchone()
            print(f"\n== {schema}.{table}: {count[0] if count else 0} rows")
            result = connection.execute(f'select * from "{schema}"."{table}" limit {rows}')
            columns = [d[0] for d in result.description]
            print(" | ".join(columns))
            for row in result.fetchall():
                print(" | ".join(str(v) for v in row))
    finally:
        connection.close()


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "output/audience.duckdb")
