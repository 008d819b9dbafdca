#!/usr/bin/env bash
# Tries the tap against the next singer-sdk: the newest release or pre-release on PyPI (or
# whatever SDK_SPEC names), despite pyproject.toml's `singer-sdk[msgspec]~=0.54.9` pin.
# A manual check before moving the pin, NOT part of CI (.ci/run never calls it).
#
# In a throwaway virtualenv (mktemp -d, removed on exit) it installs the project with its dev
# extras, replaces singer-sdk, then runs mypy (the project's config) and the fast tests
# (`pytest -m "not slow"`, every failure listed), both even if the first fails, and ends with a short report.
# Exits 1 if mypy or pytest failed, 2 on bad usage, other non-zero if the setup itself failed.
#
#   bash scripts/check-next-sdk.sh                          # newest singer-sdk, pre-releases too
#   SDK_SPEC='singer-sdk==0.53.0' bash scripts/check-next-sdk.sh
#   bash scripts/check-next-sdk.sh --keep                   # keep the venv (and logs), print path
#
# PYTHON picks the interpreter (default python3).
#
# How singer-sdk is replaced: pip cannot install the project and a singer-sdk outside its pin
# in one resolution (and has no override), so the project is installed normally first and
# singer-sdk upgraded afterwards. To keep that resolution honest, `--pre` is used only to pick
# the singer-sdk version; the upgrade then pins that exact version, so singer-sdk's own
# dependencies resolve to final releases as a user's install would. `pip check` afterwards
# must report nothing but the project's own singer-sdk pin; anything else is printed.
#
# Caveat: the Meltano runs are `slow` tests, so deselected here; and even when run they would
# not exercise the new SDK: they use the tap venv Meltano keeps in .meltano-cache/
# (tests/meltano_project.py), which installs the project with the pinned singer-sdk.
set -euo pipefail

usage() { sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; }

KEEP=0
for arg in "$@"; do
  case "$arg" in
    --keep) KEEP=1 ;;
    -h | --help) usage; exit 0 ;;
    *) echo "check-next-sdk: unknown argument: $arg (try --help)" >&2; exit 2 ;;
  esac
done

cd "$(dirname "$0")/.."
REPO="$PWD"
PYTHON="${PYTHON:-python3}"
SDK_SPEC="${SDK_SPEC:-singer-sdk[msgspec]}"

WORK="$(mktemp -d "${TMPDIR:-/tmp}/check-next-sdk.XXXXXX")"
cleanup() {
  if [ "$KEEP" = 1 ]; then
    echo "check-next-sdk: kept venv: $WORK/venv (logs: $WORK/*.log)"
  else
    rm -rf "$WORK"
  fi
}
trap cleanup EXIT

VENV="$WORK/venv"
PY="$VENV/bin/python"
pip() { "$PY" -m pip --disable-pip-version-check "$@"; }
step() { printf '\n=== %s\n' "$*"; }

step "virtualenv ($PYTHON) in $VENV"
"$PYTHON" -m venv "$VENV"
pip install --quiet --upgrade pip

step "pip install -e '.[dev]'"
pip install --quiet -e '.[dev]'
BEFORE="$(pip freeze --exclude-editable)"
OLD_SDK="$("$PY" -c 'import importlib.metadata as m; print(m.version("singer-sdk"))')"

step "pick singer-sdk for: $SDK_SPEC"
pip install --quiet --dry-run --ignore-installed --no-deps --pre --report "$WORK/pick.json" \
  "$SDK_SPEC"
PICKED="$("$PY" -c '
import json, sys
(item,) = [i for i in json.load(open(sys.argv[1]))["install"]
           if i["metadata"]["name"].lower().replace("_", "-") == "singer-sdk"]
print(item["metadata"]["version"])' "$WORK/pick.json")"
echo "installed by the pin: $OLD_SDK; picked: $PICKED"

step "pip install --upgrade '$SDK_SPEC' 'singer-sdk==$PICKED'"
# pip warns here that the project requires singer-sdk~=0.54.9: expected (pip check below).
if ! pip install --quiet --upgrade "$SDK_SPEC" "singer-sdk==$PICKED"; then
  echo "check-next-sdk: that needs pre-release dependencies; retrying with --pre" >&2
  pip install --quiet --upgrade --pre "$SDK_SPEC" "singer-sdk==$PICKED"
fi
SDK="$("$PY" -c 'import importlib.metadata as m; print(m.version("singer-sdk"))')"
AFTER="$(pip freeze --exclude-editable)"
CHANGED="$({ diff <(echo "$BEFORE") <(echo "$AFTER") || true; } | sed -n 's/^> //p' | paste -sd' ' -)"
echo "singer-sdk installed: $SDK (packages changed by the upgrade: ${CHANGED:-none})"

# pip check fails on the project's own pin by construction; anything else is a real conflict.
CONFLICTS="$(pip check 2>&1 | grep -v '^tap-audience .* singer-sdk' \
  | grep -v '^No broken requirements' || true)"
if [ -n "$CONFLICTS" ]; then
  echo "check-next-sdk: dependency conflicts besides the singer-sdk pin:" >&2
  echo "$CONFLICTS" >&2
fi

# Run the venv's tools first on PATH, as if activated (subprocesses the tests start included).
export VIRTUAL_ENV="$VENV" PATH="$VENV/bin:$PATH"
if [ -x "$REPO/.venv-meltano/bin/meltano" ]; then
  export MELTANO_BIN="$REPO/.venv-meltano/bin/meltano"
fi

step "mypy (pyproject.toml's [tool.mypy])"
# Own cache dir: the repository's .mypy_cache belongs to .venv and its pinned singer-sdk.
set +e
"$PY" -m mypy --cache-dir "$WORK/mypy-cache" 2>&1 | tee "$WORK/mypy.log"
MYPY_RC="${PIPESTATUS[0]}"
set -e

step "pytest -q -m 'not slow' -p no:cacheprovider${MELTANO_BIN:+ (MELTANO_BIN=$MELTANO_BIN)}"
set +e
# COLUMNS: wide enough that the short summary keeps each failure's reason on its FAILED line.
COLUMNS="${COLUMNS:-220}" "$PY" -m pytest -q -m "not slow" -p no:cacheprovider 2>&1 \
  | tee "$WORK/pytest.log"
PYTEST_RC="${PIPESTATUS[0]}"
set -e

# --- the report ---------------------------------------------------------------------------
MYPY_ERRORS="$(grep -cE '^[^ ]+:[0-9]+(:[0-9]+)?: error:' "$WORK/mypy.log" || true)"
MYPY_SUMMARY="$(grep -E '^(Success:|Found [0-9]+ error)' "$WORK/mypy.log" | tail -n 1 || true)"
PYTEST_SUMMARY="$(grep -E '[0-9]+ (passed|failed|errors?|skipped|deselected)|no tests ran' \
  "$WORK/pytest.log" | grep -E ' in [0-9.]+s' | tail -n 1 | sed -E 's/^=+ //; s/ =+$//' || true)"
MELTANO_TAP_SDK="$(ls -d "$REPO"/.meltano-cache/extractors/tap-audience/venv/lib/python*/site-packages/singer_sdk-*.dist-info 2>/dev/null \
  | sed -E 's/.*singer_sdk-(.*)\.dist-info/\1/' | head -n 1 || true)"

verdict() { if [ "$1" = 0 ]; then echo pass; else echo "FAIL (exit $1)"; fi; }
echo
echo "==================== check-next-sdk report ===================="
echo "singer-sdk tested: $SDK   (spec: $SDK_SPEC; the pin installs $OLD_SDK)"
echo "python:            $("$PY" -c 'import platform; print(platform.python_version())')"
if [ -n "$CONFLICTS" ]; then
  echo "pip check:         conflicts besides the pin: $(echo "$CONFLICTS" | paste -sd';' -)"
fi
echo "mypy:              $(verdict "$MYPY_RC"), $MYPY_ERRORS error(s)${MYPY_SUMMARY:+ — $MYPY_SUMMARY}"
if [ "$MYPY_RC" != 0 ]; then
  grep -E ': error:' "$WORK/mypy.log" | head -n 10 | sed 's/^/    /'
  if [ "$MYPY_ERRORS" -gt 10 ]; then echo "    ... ($((MYPY_ERRORS - 10)) more)"; fi
fi
echo "pytest:            $(verdict "$PYTEST_RC")${PYTEST_SUMMARY:+ — $PYTEST_SUMMARY}"
if [ "$PYTEST_RC" != 0 ]; then
  grep -E '^(FAILED|ERROR) ' "$WORK/pytest.log" | cut -c1-220 | sed 's/^/    /' || true
fi
if [ -n "$MELTANO_TAP_SDK" ]; then
  echo "note:              Meltano runs (slow) not covered; .meltano-cache's tap venv has singer-sdk $MELTANO_TAP_SDK"
fi
echo "==============================================================="

if [ "$MYPY_RC" != 0 ] || [ "$PYTEST_RC" != 0 ]; then
  exit 1
fi
