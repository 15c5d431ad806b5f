"""A replay run's own record (``replay_runs``, one row in the run's file): started RUNNING with
its inputs; ended COMPLETE with its steps, wall time, the Review's figures and each trade's exit
bar, or FAILED with the error. The status becomes COMPLETE only in the last write, so a run that
crashed or failed is never listed as complete."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import numpy as np

from helios.db.models import ReplayRun

RUNNING, COMPLETE, FAILED = "RUNNING", "COMPLETE", "FAILED"


@dataclass(frozen=True)
class RunEnd:
    """How a run ended. ``book_check``: a run that verified its memory book (``verify_book``)
    records how many decisions it compared and how many the book could not know;
    ``refusals_in_memory``: how many signals were refused from the book in memory
    (``refusals``), the rest having gone through the live calls."""

    status: str
    steps: int
    light_steps: int
    wall_seconds: float
    error: str | None
    exit_bars: dict[int, datetime]
    book_check: dict[str, int] | None = None
    refusals_in_memory: int = 0


def record_start(hx: Any, name: str, spec: dict[str, Any], candles: int) -> int:
    """The run's row, RUNNING, with its inputs; its id."""
    with hx.db.write() as session:
        row = ReplayRun(
            name=name,
            status=RUNNING,
            spec=spec,
            started_at=datetime.now(UTC),
            candles=candles,
            steps=0,
            light_steps=0,
        )
        session.add(row)
        session.flush()
        return int(row.id)


def record_end(hx: Any, run_id: int, end: RunEnd, figures: dict[str, Any] | None) -> None:
    """The run's end, in one write (the status last of all its records)."""
    with hx.db.write() as session:
        row = session.get(ReplayRun, run_id)
        assert row is not None
        row.status = end.status
        row.steps = end.steps
        row.light_steps = end.light_steps
        row.wall_seconds = end.wall_seconds
        row.finished_at = datetime.now(UTC)
        row.error = end.error
        row.exit_bars = {str(k): v.isoformat() for k, v in end.exit_bars.items()}
        row.figures = jsonable(figures) if figures is not None else None
        extra: dict[str, Any] = {"refusals_in_memory": end.refusals_in_memory}
        if end.book_check is not None:
            extra["book_check"] = dict(end.book_check)
        row.spec = {**row.spec, **extra}


def jsonable(value: Any) -> Any:
    """``value`` as JSON can hold it (Decimals as text, times in ISO 8601, no NaN)."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    if isinstance(value, np.generic):
        return value.item()
    return value
