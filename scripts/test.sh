#!/usr/bin/env bash
# Set up (once) and run the whole test suite on SQLite and PostgreSQL.
# PostgreSQL: HELIOS_TEST_POSTGRES_URL (default: the local server, trust auth, database `test`);
# the suite creates and drops its own databases there. HELIOS_REQUIRE_POSTGRES=1 makes a missing
# server a failure instead of a skip (CI sets it). Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
[ -x "$VENV/bin/python" ] || { echo "creating the virtual environment $VENV"; python3 -m venv "$VENV"; }
# pip prints its own progress (no -q): the first install downloads and builds for about 2
# minutes, and a silent terminal for that long looks like a hang. The stamp file skips pip when
# pyproject.toml has not changed since the last install (the project is installed editable).
STAMP="$VENV/.helios-installed-dev"
if [ "$STAMP" -nt pyproject.toml ]; then
  echo "the project and its dependencies are installed in $VENV (pyproject.toml unchanged)"
else
  echo "installing the project, its dependencies and the test tools into $VENV (first run: about 2 minutes)"
  "$VENV/bin/python" -m pip install --disable-pip-version-check --progress-bar on -e ".[dev]"
  touch "$STAMP"
fi
export HELIOS_TEST_POSTGRES_URL=${HELIOS_TEST_POSTGRES_URL-postgresql://postgres@127.0.0.1:5432/test}
"$VENV/bin/ruff" check .
"$VENV/bin/ruff" format --check .
# the layers point down and the shells stay apart (pyproject.toml [tool.importlinter])
"$VENV/bin/lint-imports"
# one worker per core (pytest-xdist), a test file at a time on each (a file's tests share a
# running dashboard or server and run in their order); every test gets databases of its own
# --no-loadscope-reorder: hand the files out in collection order (tests/conftest.py puts the
# longest first) instead of xdist's default, most tests first, which left the five-minute
# single-test outage file for last, on one worker, while the other sat idle
# one worker per core, not more: with a third worker on 2 cores (2026-12-07) the CPU went from
# 79% to 97% busy, yet after 29 minutes it had run 48% of the tests, where two workers had run
# about 46% (17% at 20 minutes, 56% at 32): the waiting tests' idle time is not won back so
# --durations=25: the slowest tests, printed at the end, so CI's log says where its time goes
exec "$VENV/bin/python" -m pytest -n auto --dist loadfile --no-loadscope-reorder --durations=25 "$@"
