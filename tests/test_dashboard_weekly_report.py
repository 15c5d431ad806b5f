"""The Review page offers the period's weekly report as downloads (AppTest, SQLite and
PostgreSQL): the text as Markdown and the equity chart as a PNG, the very bytes
``hx.reports.weekly`` gives for the chosen period.

Streamlit serves a download from its media store under an id hashed from the bytes, the type
and the file name; the test stores the bytes it expects in a store of its own and compares the
two addresses, so a page that offered other bytes (another period, a stale report) fails.
"""

from __future__ import annotations

from datetime import timedelta

from streamlit.runtime.media_file_manager import MediaFileKind
from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage

import helios
from tests.dashboard_support import open_page
from tests.test_report_chart import PNG_MAGIC

PAGE = "app_pages/review.py"


def served_at(data: bytes | str, mimetype: str, file_name: str) -> str:
    """The address Streamlit's in-memory media store gives these bytes (AppTest's store)."""
    storage = MemoryMediaFileStorage("/mock/media")
    raw = data.encode("utf-8") if isinstance(data, str) else data
    file_id = storage.load_and_get_id(raw, mimetype, MediaFileKind.DOWNLOADABLE, file_name)
    return storage.get_url(file_id)


def downloads(at) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {button.label: button.proto.url for button in at.download_button}


def test_the_weekly_report_and_its_chart_are_offered(seeded: helios.Helios):
    hx = seeded
    for pair, value in {"BTCZAR": "1200000", "ETHZAR": "60000", "SOLZAR": "2500"}.items():
        hx.market.set_price(pair, value)
    hx.take_snapshot()
    today = hx.reports.today()
    first = today - timedelta(days=7)  # the page's default period
    before = hx.reports.weekly(today, first=first)
    at = open_page(PAGE)
    after = hx.reports.weekly(today, first=first)  # "so far, at HH:MM": the minute may turn
    offered = downloads(at)
    assert set(offered) == {"Report (.md)", "Equity chart (.png)"}
    name = f"helios-weekly-{first}_{today}.md"
    assert offered["Report (.md)"] in {
        served_at(report.markdown(), "text/markdown", name) for report in (before, after)
    }
    assert before.markdown().startswith(f"# Helios review (8 days) {first} to {today}\n\n")
    assert before.png is not None and before.png.startswith(PNG_MAGIC)
    assert offered["Equity chart (.png)"] == served_at(
        before.png, "image/png", f"equity-{first}_{today}.png"
    )

    # another period: other bytes (the page follows the dates chosen)
    at.date_input[0].set_value(today - timedelta(days=2)).run()
    assert not at.exception
    shorter = hx.reports.weekly(today, first=today - timedelta(days=2))
    assert downloads(at)["Equity chart (.png)"] == served_at(
        shorter.png or b"", "image/png", f"equity-{today - timedelta(days=2)}_{today}.png"
    )


def test_no_snapshot_means_no_chart_and_before_the_first_no_report(seeded: helios.Helios):
    at = open_page(PAGE)  # no snapshot at all: the report says so, without a chart
    assert set(downloads(at)) == {"Report (.md)"}
    assert any("No equity chart" in c.value for c in at.caption)

    seeded.take_snapshot()
    at = open_page(PAGE)
    yesterday = seeded.reports.today() - timedelta(days=1)
    at.date_input[1].set_value(yesterday)
    at.date_input[0].set_value(yesterday - timedelta(days=7)).run()
    assert not at.exception
    assert downloads(at) == {}
    assert any("no report to download" in i.value for i in at.info)
