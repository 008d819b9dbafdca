"""Meltano's system database, made ready before a shard runs: its schema, then its tables.

job.yaml's init container runs this in every pod, before run-shard.sh. The system database
(MELTANO_DATABASE_URI, from the Secret) holds every shard's state, so it must outlive the
pods: it is the loader's PostgreSQL, in the schema the URI's `search_path` names. Meltano
creates its tables itself (every `meltano run` migrates first), but not that schema, and the
pods of an Indexed Job start together: of three Meltano processes migrating a new database at
once, two failed (a duplicate key on `alembic_version`) and would each have spent a retry of
their shard. So one pod at a time does it, under a PostgreSQL advisory lock, and the others
wait, then find nothing to do. An image with a newer Meltano migrates the same way, once.

Exit status: 0 ready; 1 the database refused the connection or Meltano's migration failed;
2 MELTANO_DATABASE_URI is missing, not PostgreSQL, or names a schema this cannot create.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from urllib.parse import parse_qs, urlsplit

import sqlalchemy
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import NullPool

# pg_advisory_lock's key: a number no other client of the database locks for anything else
# (the bytes of "melt-sdb" as a 64-bit integer).
LOCK_KEY = int.from_bytes(b"melt-sdb", "big")
# A pod that takes the lock and then hangs (its connection still open) must not hang the
# others for good: they give up after this long, and the Job retries them.
LOCK_TIMEOUT = "5min"
# Unquoted, as `search_path` reads it: PostgreSQL folds an unquoted name to lower case, so
# only a lower-case name is the same schema in both places.
SCHEMA_NAME = re.compile(r"[a-z_][a-z0-9_]*")


def say(message: str) -> None:
    print(f"prepare-system-db: {message}", file=sys.stderr, flush=True)


def search_path_schema(uri: str) -> str | None:
    """The first schema of the URI's `options=-csearch_path=...` (where Meltano's tables go),
    or None when it sets none (the role's default schema, `public` unless changed)."""
    for options in parse_qs(urlsplit(uri).query).get("options", []):
        if found := re.search(r"-c\s*search_path=([^\s,]+)", options):
            return found[1]
    return None


def main() -> int:
    uri = os.environ.get("MELTANO_DATABASE_URI", "")
    scheme = urlsplit(uri).scheme
    if not scheme.startswith("postgresql"):
        what = f"a {scheme} URI" if scheme else "not set" if not uri else "not a URI"
        say(
            "MELTANO_DATABASE_URI must be the PostgreSQL database that keeps every shard's "
            f"state (postgresql+psycopg://...); it is {what}. A database inside the pod is "
            "gone with the pod, and the next pod would re-read everything."
        )
        return 2
    schema = search_path_schema(uri)
    if schema is not None and not SCHEMA_NAME.fullmatch(schema):
        say(f"search_path {schema!r} in MELTANO_DATABASE_URI: use a lower-case schema name")
        return 2
    meltano = shutil.which("meltano") or "meltano"
    engine = sqlalchemy.create_engine(uri, poolclass=NullPool)
    try:
        with engine.connect() as connection:
            connection.execute(sqlalchemy.text(f"SET lock_timeout = '{LOCK_TIMEOUT}'"))
            # Session-level: held across the commit below until this connection closes,
            # which also releases it if this process dies.
            connection.execute(sqlalchemy.text(f"SELECT pg_advisory_lock({LOCK_KEY})"))
            if schema is not None:
                connection.execute(sqlalchemy.text(f"CREATE SCHEMA IF NOT EXISTS {schema}"))
            connection.commit()
            # Meltano's own migrations, in its own connection, while this one holds the lock.
            # A fixed command: the image's meltano, no input in it.
            migrated = subprocess.run([meltano, "upgrade", "database"], check=False)  # noqa: S603
    except DBAPIError as error:
        # psycopg's first line names the server and the problem, never the password.
        say(f"cannot prepare the system database: {str(error.orig).splitlines()[0]}")
        return 1
    if migrated.returncode != 0:
        say(f"`meltano upgrade database` exited {migrated.returncode}")
        return 1
    say(f"Meltano's system database is ready (schema {schema or 'of the role'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
