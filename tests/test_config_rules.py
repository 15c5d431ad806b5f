"""The value rules of single settings (``helios.config.rules``), table-driven, without a database:
each returns the value (normalised) or raises ValueError saying what is allowed."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import SecretStr

from helios.config import rules
from helios.config.paths import PROJECT_ROOT, project_path
from helios.config.redaction import describe, redact_url, shown_value


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("BTCZAR,ETHZAR", ["BTCZAR", "ETHZAR"]),
        ("btc/zar  eth-zar", ["BTCZAR", "ETHZAR"]),
        (["sol-zar", " xrpzar "], ["SOLZAR", "XRPZAR"]),
        (("BTCZAR",), ["BTCZAR"]),
        (42, 42),  # not text nor a list: left for the type check
    ],
)
def test_split_pairs(value: Any, expected: Any) -> None:
    assert rules.split_pairs(value) == expected


@pytest.mark.parametrize(
    ("pairs", "error"),
    [
        (["BTCZAR", "ETHZAR"], None),
        (["BTCUSD"], "are not ZAR pairs"),
        (["ZAR"], "are not ZAR pairs"),
        (["BTCZAR", "BTCZAR"], "must not repeat: BTCZAR"),
    ],
)
def test_check_pairs(pairs: list[str], error: str | None) -> None:
    if error is None:
        assert rules.check_pairs(pairs) == pairs
    else:
        with pytest.raises(ValueError, match=error):
            rules.check_pairs(pairs)


@pytest.mark.parametrize(
    ("caps", "error"),
    [
        ({"BTCZAR": 1.0}, None),
        ({"BTC": 1.0}, "keys must be ZAR pairs"),
        ({"BTCZAR": 0.0}, "finite number > 0"),
        ({"BTCZAR": float("inf")}, "finite number > 0"),
        ({"BTCZAR": float("nan")}, "finite number > 0"),
    ],
)
def test_check_caps(caps: dict[str, float], error: str | None) -> None:
    if error is None:
        assert rules.check_caps(caps) == caps
    else:
        with pytest.raises(ValueError, match=error):
            rules.check_caps(caps)


def test_cap_pairs_are_normalised_like_pairs() -> None:
    assert rules.normalise_cap_pairs({" btc/zar ": 1, "eth-zar": 2}) == {"BTCZAR": 1, "ETHZAR": 2}
    assert rules.normalise_cap_pairs("x") == "x"


@pytest.mark.parametrize(
    ("url", "memory"),
    [
        ("sqlite://", True),
        ("sqlite:///", True),
        ("sqlite:///:memory:", True),
        ("sqlite:///file:x?mode=memory&uri=true", True),
        ("sqlite:///data/helios.db", False),
        ("sqlite:////abs/helios.db", False),
    ],
)
def test_sqlite_in_memory(url: str, memory: bool) -> None:
    assert rules.sqlite_in_memory(url) is memory


@pytest.mark.parametrize(
    ("url", "error"),
    [
        ("sqlite:///data/helios.db", None),
        ("postgresql://u:p@host/db", None),
        ("postgresql+psycopg://host/db", None),
        ("postgres://host/db", None),
        ("mysql://host/db", "must start with sqlite:/// or postgresql://"),
        ("sqlite:///:memory:", "must name an SQLite file"),
    ],
)
def test_check_database_url(url: str, error: str | None) -> None:
    if error is None:
        assert rules.check_database_url(url) == url
    else:
        with pytest.raises(ValueError, match=error):
            rules.check_database_url(url)


@pytest.mark.parametrize(
    ("url", "result"),
    [
        ("https://api.valr.com/", "https://api.valr.com"),
        ("http://127.0.0.1:8080", "http://127.0.0.1:8080"),
        ("http://localhost/", "http://localhost"),
        ("http://[::1]:9000", "http://[::1]:9000"),
        ("http://api.valr.com", ValueError),
        ("ftp://api.valr.com", ValueError),
        ("https:// space", ValueError),
    ],
)
def test_check_base_url(url: str, result: Any) -> None:
    if result is ValueError:
        with pytest.raises(ValueError):
            rules.check_base_url(url)
    else:
        assert rules.check_base_url(url) == result


@pytest.mark.parametrize(
    ("token", "ok"),
    [
        (None, True),
        ("a" * rules.API_TOKEN_MIN_LENGTH, True),
        ("a" * (rules.API_TOKEN_MIN_LENGTH - 1), False),
        (" " + "a" * 30, False),
        ("é" * 30, False),
        ("a" * 30 + "\n", False),
    ],
)
def test_strong_token(token: str | None, ok: bool) -> None:
    value = SecretStr(token) if token is not None else None
    if ok:
        assert rules.strong_token(value) is value
    else:
        with pytest.raises(ValueError, match="printable ASCII"):
            rules.strong_token(value)


@pytest.mark.parametrize(
    ("value", "expected"), [("", None), ("  ", None), ("x", "x"), (None, None), (5, 5)]
)
def test_an_empty_secret_is_none(value: Any, expected: Any) -> None:
    assert rules.empty_secret_is_none(value) == expected


@pytest.mark.parametrize(
    ("zone", "ok"), [("Africa/Johannesburg", True), ("UTC", True), ("America", False), ("", False)]
)
def test_check_zone(zone: str, ok: bool) -> None:
    if ok:
        assert rules.check_zone(zone) == zone
    else:
        with pytest.raises(ValueError, match="IANA time zone"):
            rules.check_zone(zone)


@pytest.mark.parametrize(
    ("key", "value", "shown"),
    [
        ("valr_api_key", "abc", "***"),
        ("VALR_API_SECRET", "abc", "***"),
        ("SOME_TOKEN", "abc", "***"),
        ("database_url", "postgresql://u:p@w@host/db", "postgresql://u:***@host/db"),
        ("pairs", "BTCZAR", "BTCZAR"),
        ("helios_api_token", None, None),
    ],
)
def test_shown_value(key: str, value: Any, shown: Any) -> None:
    assert shown_value(key, value) == shown


@pytest.mark.parametrize(
    ("url", "redacted"),
    [
        ("postgresql://user:secret@host/db", "postgresql://user:***@host/db"),
        ("postgresql://user:se@cret@host/db", "postgresql://user:***@host/db"),
        ("postgresql://host/db", "postgresql://host/db"),
        ("sqlite:///data/helios.db", "sqlite:///data/helios.db"),
    ],
)
def test_redact_url(url: str, redacted: str) -> None:
    assert redact_url(url) == redacted


def test_describe_hides_secrets_and_the_password() -> None:
    from helios.config import Settings

    settings = Settings(
        database_url="postgresql://u:pw@host/db",
        valr_api_key="k",  # type: ignore[arg-type]
    )
    shown = describe(settings)
    assert shown["valr_api_key"] == "set" and shown["valr_api_secret"] == "not set"
    assert shown["database_url"] == "postgresql://u:***@host/db"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("", None),
        ("  ", None),
        ("/tmp/x", "/tmp/x"),
        ("data/logs", str(PROJECT_ROOT / "data/logs")),
    ],
)
def test_project_path(value: str, expected: str | None) -> None:
    found = project_path(value)
    assert (str(found) if found is not None else None) == expected


def test_the_project_root_holds_the_package() -> None:
    assert (PROJECT_ROOT / "helios" / "config" / "__init__.py").is_file()
