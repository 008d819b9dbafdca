#!/usr/bin/env bash
# Installs a PostgreSQL server for tests/test_postgres.py (Debian's `postgresql` package: initdb,
# pg_ctl, psql under /usr/lib/postgresql/<major>/bin), only when none is installed.
# Idempotent and instant when the binaries are there. Without them and without root + apt-get it
# only says so (the test then skips), except in CI (CI=true), where a missing server is an error.
set -euo pipefail

if compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || [ -x "${PG_BIN:-/nonexistent}/initdb" ]; then
  exit 0
fi

cannot() {
  if [ "${CI:-}" = true ]; then
    echo "install_postgres.sh: $1; tests/test_postgres.py needs PostgreSQL in CI" >&2
    exit 1
  fi
  echo "install_postgres.sh: $1; tests/test_postgres.py will skip" >&2
  exit 0
}
command -v apt-get >/dev/null || cannot "no PostgreSQL server and no apt-get to install one"
[ "$(id -u)" -eq 0 ] || cannot "no PostgreSQL server, and installing one needs root (apt-get install postgresql)"

export DEBIAN_FRONTEND=noninteractive
apt_install() {
  apt-get install -y -q --no-install-recommends -o Dpkg::Use-Pty=0 postgresql </dev/null
}
echo "install_postgres.sh: installing PostgreSQL (apt-get install postgresql)" >&2
# A fresh image has no package lists: read them only when the install needs them.
apt_install || { apt-get update -q </dev/null && apt_install; } || cannot "apt-get install postgresql failed"
compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || cannot "apt-get installed no initdb"
