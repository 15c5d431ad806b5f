"""Give the memory Python has freed back to the system (L0: no Helios import).

CPython returns freed objects to its allocator, and glibc's ``malloc`` keeps the pages of freed
blocks for reuse instead of returning them: after a large, short-lived load (a year of candles
read from CSV through pandas: its text columns, the parsed copies, the checks' temporaries) the
process stays as large as the load's peak although the memory is free. ``malloc_trim(0)`` hands
those pages back. A replay calls it once, after its inputs are read and before it runs, so its
peak is its working set, not its loading's (docs/replay.md, "Where the speed stands").
Dask's workers do the same for the same reason.

Not glibc (macOS, musl): nothing to trim through this call; it answers False and changes nothing.
"""

from __future__ import annotations

import ctypes
import functools
import gc
import sys
from collections.abc import Callable


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    """glibc's ``malloc_trim`` from the symbols already loaded (no library search, no process
    started), or None where there is none."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        trim = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):  # not glibc (musl): no malloc_trim
        return None
    trim.argtypes, trim.restype = [ctypes.c_size_t], ctypes.c_int
    return trim  # type: ignore[no-any-return]


def release_freed_memory() -> bool:
    """Collect garbage, then return glibc's free pages to the system. True if it trimmed."""
    gc.collect()
    trim = _malloc_trim()
    return bool(trim(0)) if trim is not None else False
