"""``python -m jobs``: run the scheduler (what ``helios scheduler`` and ``helios up`` start)."""

from jobs.scheduler import main

raise SystemExit(main())
