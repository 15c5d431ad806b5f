"""``python -m jobs``: run the scheduler (what ``helios scheduler`` and ``helios up`` start)."""

from helios.launch import run_reporting_outages
from jobs.scheduler import main

raise SystemExit(run_reporting_outages(main))
