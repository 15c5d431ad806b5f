"""The equity chart (``helios.reports.chart``, pure): a real PNG whose picture is the curve.

The PNG is decoded (Pillow and matplotlib's reader) and the equity line found by its colour: a
rising curve's line ends higher in the picture than it starts, a falling one lower, a dip is
lowest in the middle. No point: no chart.
"""

from __future__ import annotations

import io
import threading
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import matplotlib.image
import numpy as np
import pytest
from PIL import Image

from helios.reports.chart import DPI, LINE_COLOR, SIZE_INCHES, equity_png

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
T0 = datetime(2026, 11, 23, 0, 0, tzinfo=UTC)


def times(n: int) -> list[datetime]:
    return [T0 + timedelta(hours=i) for i in range(n)]


def line_rows(png: bytes) -> dict[int, float]:
    """Per pixel column, the mean row of the equity line's pixels (row 0 is the top)."""
    pixels = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), dtype=int)
    target = np.array([int(LINE_COLOR[i : i + 2], 16) for i in (1, 3, 5)])
    mask = np.abs(pixels - target).max(axis=2) <= 40
    rows, cols = np.nonzero(mask)
    found: dict[int, list[int]] = {}
    for row, col in zip(rows, cols, strict=True):
        found.setdefault(int(col), []).append(int(row))
    return {col: sum(r) / len(r) for col, r in sorted(found.items())}


def ends(rows: dict[int, float]) -> tuple[float, float]:
    cols = list(rows)
    width = max(1, len(cols) // 10)
    left = np.mean([rows[c] for c in cols[:width]])
    right = np.mean([rows[c] for c in cols[-width:]])
    return float(left), float(right)


def test_a_real_png_of_the_right_size():
    png = equity_png(times(48), [Decimal(100000 + i * 25) for i in range(48)], "Equity", "UTC")
    assert png is not None and len(png) > 1000
    assert png.startswith(PNG_MAGIC)
    image = Image.open(io.BytesIO(png))
    image.verify()
    assert image.size == (int(SIZE_INCHES[0] * DPI), int(SIZE_INCHES[1] * DPI))
    decoded = matplotlib.image.imread(io.BytesIO(png), format="png")
    assert decoded.shape[:2] == (image.size[1], image.size[0])
    assert Image.open(io.BytesIO(png)).info.get("Title") == "Equity"


@pytest.mark.parametrize(
    ("values", "shape"),
    [
        ([100000 + 50 * i for i in range(72)], "rising"),
        ([100000 - 50 * i for i in range(72)], "falling"),
        ([100000 - 50 * min(i, 71 - i) for i in range(72)], "dip"),
    ],
)
def test_the_picture_is_the_curve(values: list[int], shape: str):
    png = equity_png(times(len(values)), values, "Equity", "Africa/Johannesburg")
    assert png is not None
    rows = line_rows(png)
    assert len(rows) > 300, "the equity line spans the plot"
    left, right = ends(rows)
    if shape == "rising":
        assert right < left - 100  # higher in the picture: a smaller row
    elif shape == "falling":
        assert right > left + 100
    else:
        cols = list(rows)
        lowest = max(cols, key=lambda c: rows[c])
        assert cols[len(cols) // 3] < lowest < cols[2 * len(cols) // 3]
        assert abs(left - right) < 10


def test_one_point_is_still_drawn_and_no_point_is_no_chart():
    one = equity_png(times(1), [Decimal("100000")], "Equity")
    assert one is not None and one.startswith(PNG_MAGIC) and line_rows(one)
    assert equity_png([], [], "Equity") is None
    with pytest.raises(ValueError, match="2 times for 1 equity"):
        equity_png(times(2), [1.0], "Equity")


def test_threads_render_at_once_without_sharing_a_figure():
    """No pyplot: two threads drawing different curves each get their own picture."""
    results: dict[str, bytes | None] = {}

    def draw(name: str, values: list[int]) -> None:
        results[name] = equity_png(times(len(values)), values, name)

    threads = [
        threading.Thread(target=draw, args=("up", [100000 + 50 * i for i in range(72)])),
        threading.Thread(target=draw, args=("down", [100000 - 50 * i for i in range(72)])),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    up, down = results["up"], results["down"]
    assert up is not None and down is not None
    assert ends(line_rows(up))[1] < ends(line_rows(up))[0]
    assert ends(line_rows(down))[1] > ends(line_rows(down))[0]
    assert Image.open(io.BytesIO(up)).info["Title"] == "up"
