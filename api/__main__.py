"""``python -m api``: serve the REST API (what ``helios api`` becomes after its checks)."""

from api.serve import main

raise SystemExit(main())
