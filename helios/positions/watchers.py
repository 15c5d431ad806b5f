"""Who is told when the database holds an opening fill or a final close.

The scheduler remembers the book for a close-out made while the database is unreachable
(``helios.closeout``): a position opened a moment before the database went away must be in it,
so each watcher is told right after the transaction that recorded the fill commits, never before
(a rolled-back fill is never announced).
"""

from __future__ import annotations

from collections.abc import Callable

from helios.positions.lifecycle import BookEntry


class BookWatchers:
    def __init__(self) -> None:
        self._watchers: list[tuple[Callable[[BookEntry], None], Callable[[int], None]]] = []

    def add(self, opened: Callable[[BookEntry], None], closed: Callable[[int], None]) -> None:
        self._watchers.append((opened, closed))

    def opened(self, entry: BookEntry) -> None:
        for opened, _closed in self._watchers:
            opened(entry)

    def closed(self, position_id: int) -> None:
        for _opened, closed in self._watchers:
            closed(position_id)
