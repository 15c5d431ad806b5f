"""What the AppTest page tests share: open a page through app.py, click, read a metric, every
position's status."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from streamlit.testing.v1 import AppTest

APP = Path(__file__).resolve().parents[1] / "app.py"


def open_page(page: str) -> AppTest:
    """``page`` (e.g. ``app_pages/risk.py``) run through app.py, with no exception on it."""
    at = AppTest.from_file(str(APP), default_timeout=120)
    at.switch_page(page).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def click(at: AppTest, key: str) -> AppTest:
    at.button(key=key).click().run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def metric(at: AppTest, label: str) -> str:
    found = [m.value for m in at.metric if m.label == label]
    assert found, f"no metric {label!r} in {[m.label for m in at.metric]}"
    return found[0]


def statuses(hx: Any) -> dict[int, str]:
    """Every position's status by id, as the database holds it (open and closed alike)."""
    found = {int(r["position_id"]): str(r["status"]) for r in hx.positions.get_open_positions()}
    closed = hx.positions.closed_positions()
    if not closed.empty:
        found.update(zip(map(int, closed["position_id"]), map(str, closed["status"]), strict=True))
    return found


def table_with(at: AppTest, column: str) -> Any:
    """The first table drawn that has ``column`` (pages draw several)."""
    for frame in at.dataframe:
        if column in frame.value.columns:
            return frame.value
    raise AssertionError(f"no table with a {column!r} column")
