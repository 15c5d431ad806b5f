"""``python -m helios.cli``: the ``helios`` command."""

from helios.cli.main import main

raise SystemExit(main())
