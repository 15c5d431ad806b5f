#!/usr/bin/env bash
# Set up (once) and start Helios: the scheduler and the dashboard, PAPER mode, embedded SQLite
# (data/helios.db), simulated market. Ctrl-C stops both. Extra arguments go to `helios up`.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
"$VENV/bin/python" -m pip install -q --disable-pip-version-check -e .
exec "$VENV/bin/helios" up "$@"
