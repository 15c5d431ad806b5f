"""The deep link to a position's story: ``/positions?position=<id>``.

``position_url`` is the address to link (the chart's markers, a message naming a position);
``requested_position`` reads the address the Positions page was opened with and says what it
asks for: nothing, a position id, or why the value is not one (the page says it, and which
values are allowed, rather than opening nothing silently).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from helios.positions.records import MAX_POSITION_ID

PARAM = "position"


def position_url(position_id: int) -> str:
    """The Positions page opened at ``position_id``'s story."""
    return f"/positions?{PARAM}={int(position_id)}"


@dataclass(frozen=True)
class Requested:
    """What the address asks for: ``position_id`` (None: no story asked) or ``problem``."""

    position_id: int | None = None
    problem: str | None = None


def requested_position(params: Mapping[str, str]) -> Requested:
    """The ``position`` query parameter as a position id, or the problem with it."""
    raw = params.get(PARAM)
    if raw is None:
        return Requested()
    text = str(raw).strip()
    if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= MAX_POSITION_ID:
        return Requested(
            problem=(
                f"The link asks for position {raw!r}, which is not a position id: "
                f"a whole number from 1 to {MAX_POSITION_ID} (/positions?position=12)."
            )
        )
    return Requested(position_id=int(text))
