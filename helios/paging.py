"""Pages of a long list, one rule for every paged list (the closed trades list, the event log).

- ``page`` is a whole number from 1; ``page_size`` a whole number from 1 to ``MAX_PAGE_SIZE``
  (the pages offer ``PAGE_SIZES``); anything else raises ``InvalidInput`` naming the field, the
  value and the allowed range (a bool is not a number here).
- A page starts after ``(page - 1) x page_size`` rows (the SQL OFFSET).
- ``total`` rows fill ``ceil(total / page_size)`` pages, and never fewer than 1 (an empty list
  still has its one, empty, page).

Pure: no I/O.
"""

from __future__ import annotations

from typing import Any

from helios.errors import InvalidInput

PAGE_SIZES = (25, 50, 100, 200)
MAX_PAGE_SIZE = 500


def check_page(page: Any, page_size: Any) -> None:
    """Raise ``InvalidInput`` unless ``page`` and ``page_size`` are in range (module rule)."""
    if isinstance(page, bool) or not isinstance(page, int) or page < 1:
        raise InvalidInput("page", page, "a whole number from 1")
    size = page_size
    if isinstance(size, bool) or not isinstance(size, int) or not 1 <= size <= MAX_PAGE_SIZE:
        raise InvalidInput("page_size", size, f"a whole number from 1 to {MAX_PAGE_SIZE}")


def offset(page: int, page_size: int) -> int:
    """How many rows come before ``page``."""
    return (page - 1) * page_size


def page_count(total: int, page_size: int) -> int:
    """How many pages ``total`` rows fill, at least 1."""
    return max(1, -(-total // page_size))
