#!/usr/bin/env bash
# Set up (once) and start Helios: the scheduler and the dashboard, PAPER mode, embedded SQLite
# (data/helios.db), simulated market. Ctrl-C stops both. Extra arguments go to `helios up`.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
[ -x "$VENV/bin/python" ] || { echo "creating the virtual environment $VENV"; python3 -m venv "$VENV"; }
# pip prints its own progress (no -q): the first install downloads and builds for about 2
# minutes, and a silent terminal for that long looks like a hang. The stamp file skips pip when
# pyproject.toml has not changed since the last install (the project is installed editable).
STAMP="$VENV/.helios-installed"
if [ "$STAMP" -nt pyproject.toml ]; then
  echo "the project and its dependencies are installed in $VENV (pyproject.toml unchanged)"
else
  echo "installing the project and its dependencies into $VENV (first run: about 2 minutes)"
  "$VENV/bin/python" -m pip install --disable-pip-version-check --progress-bar on -e .
  touch "$STAMP"
fi
exec "$VENV/bin/helios" up "$@"
