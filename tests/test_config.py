"""Configuration: the seed's defaults, where values come from, and how bad values are refused.

Every bad value stops start-up with a ConfigError naming the key (in its environment spelling),
the value and the allowed range; secrets never appear in errors, describe() or repr().
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

import helios
from helios.config import (
    DEFAULT_DATABASE_URL,
    FeedKind,
    Settings,
    TradingMode,
    describe,
    load_settings,
    redact_url,
)
from helios.errors import ConfigError

SECRET = "s3cr3t-valr-api-secret-value"
DB_PASSWORD = "pg-pass-word-42"


def problems_of(**overrides: object) -> list[tuple[str, object, str]]:
    with pytest.raises(ConfigError) as caught:
        load_settings(**overrides)
    return caught.value.problems


# --- defaults -------------------------------------------------------------------------------


def test_a_fresh_install_starts_in_PAPER_on_the_simulated_feed_with_R100000():
    settings = load_settings()
    assert settings.trading_mode is TradingMode.PAPER
    assert settings.market_feed is FeedKind.SIM
    assert settings.initial_capital_zar == Decimal("100000")
    assert isinstance(settings.initial_capital_zar, Decimal)
    assert settings.pairs == ["BTCZAR", "ETHZAR", "SOLZAR"]
    assert settings.trading_day_timezone == "Africa/Johannesburg"
    assert settings.database_url == DEFAULT_DATABASE_URL
    assert settings.paper_fee_pct == Decimal("0.0035")
    assert settings.paper_slippage_pct == Decimal("0.0005")


def test_the_seeds_eight_risk_limits_are_the_defaults():
    settings = load_settings()
    limits = {
        "max_drawdown_pct": settings.max_drawdown_pct,
        "daily_loss_limit_pct": settings.daily_loss_limit_pct,
        "max_portfolio_risk_exposure_pct": settings.max_portfolio_risk_exposure_pct,
        "max_single_position_pct": settings.max_single_position_pct,
        "max_sector_exposure_pct": settings.max_sector_exposure_pct,
        "max_correlation_threshold": settings.max_correlation_threshold,
        "max_leverage": settings.max_leverage,
        "min_position_size_pct": settings.min_position_size_pct,
    }
    assert limits == {
        "max_drawdown_pct": 0.15,
        "daily_loss_limit_pct": 0.05,
        "max_portfolio_risk_exposure_pct": 0.15,
        "max_single_position_pct": 0.20,
        "max_sector_exposure_pct": 0.60,
        "max_correlation_threshold": 0.90,
        "max_leverage": 3.0,
        "min_position_size_pct": 0.05,
    }


def test_a_position_defaults_to_a_2pct_stop_a_6pct_take_profit_and_72_hours():
    settings = load_settings()
    assert settings.default_stop_loss_pct == 0.02
    assert settings.default_take_profit_pct == 0.06
    assert settings.max_position_holding_hours == 72.0


def test_every_pair_is_in_the_crypto_sector_unless_mapped():
    settings = load_settings(sector_map={"SOLZAR": "alt-l1"})
    assert settings.sector_of("BTCZAR") == "crypto"
    assert settings.sector_of("SOLZAR") == "alt-l1"


# --- where values come from -----------------------------------------------------------------


def test_environment_variables_are_read(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("INITIAL_CAPITAL_ZAR", "250000.50")
    monkeypatch.setenv("PAIRS", "btczar, ETH/ZAR")
    monkeypatch.setenv("MAX_LEVERAGE", "2.5")
    monkeypatch.setenv("MARKET_FEED", "MANUAL")
    settings = load_settings()
    assert settings.initial_capital_zar == Decimal("250000.50")
    assert settings.pairs == ["BTCZAR", "ETHZAR"]
    assert settings.max_leverage == 2.5
    assert settings.market_feed is FeedKind.MANUAL


def test_a_dotenv_file_named_by_HELIOS_ENV_FILE_is_read(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
):
    env_file = tmp_path / "helios.env"
    env_file.write_text(
        "# a comment\nINITIAL_CAPITAL_ZAR=50000\nTRADING_DAY_TIMEZONE=Europe/London\n"
        "MAX_DRAWDOWN_PCT=0.10\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("HELIOS_ENV_FILE", str(env_file))
    settings = load_settings()
    assert settings.initial_capital_zar == Decimal("50000")
    assert settings.trading_day_timezone == "Europe/London"
    assert settings.max_drawdown_pct == 0.10


def test_environment_beats_dotenv_and_lower_case_overrides_beat_both(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
):
    env_file = tmp_path / ".env"
    env_file.write_text("INITIAL_CAPITAL_ZAR=50000\nMAX_LEVERAGE=2\nKELLY_FRACTION=0.5\n")
    monkeypatch.setenv("HELIOS_ENV_FILE", str(env_file))
    monkeypatch.setenv("INITIAL_CAPITAL_ZAR", "60000")
    monkeypatch.setenv("MAX_LEVERAGE", "2.5")
    settings = load_settings(initial_capital_zar=70000)
    assert settings.initial_capital_zar == Decimal("70000")  # override
    assert settings.max_leverage == 2.5  # environment over .env
    assert settings.kelly_fraction == 0.5  # .env over the default


def test_a_missing_dotenv_file_named_by_HELIOS_ENV_FILE_is_an_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
):
    missing = tmp_path / "nope.env"
    monkeypatch.setenv("HELIOS_ENV_FILE", str(missing))
    assert problems_of() == [("HELIOS_ENV_FILE", str(missing), "must name an existing .env file")]


def test_a_local_test_server_may_stand_in_for_VALR_over_plain_http():
    assert load_settings(valr_base_url="http://127.0.0.1:8123/").valr_base_url == (
        "http://127.0.0.1:8123"
    )
    assert load_settings().valr_base_url == "https://api.valr.com"


def test_a_None_override_means_not_given():
    assert load_settings(initial_capital_zar=None).initial_capital_zar == Decimal("100000")


# --- bad values: key in env spelling, the value and the allowed range ------------------------

FRACTION = "(a fraction: 0.15 means 15%"


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        (
            {"initial_capital_zar": "-100"},
            ("INITIAL_CAPITAL_ZAR", "-100", "must be a finite number > 0 and <= 1000000000000"),
        ),
        (
            {"initial_capital_zar": "NaN"},
            ("INITIAL_CAPITAL_ZAR", "NaN", "must be a finite number > 0 and <= 1000000000000"),
        ),
        (
            {"max_drawdown_pct": 5.0},
            (
                "MAX_DRAWDOWN_PCT",
                5.0,
                f"must be a finite number > 0.0 and <= 1.0 {FRACTION}; 5.0 would be 500%)",
            ),
        ),
        (
            {"max_drawdown_pct": float("nan")},
            ("MAX_DRAWDOWN_PCT", "nan", f"must be a finite number > 0.0 and <= 1.0 {FRACTION})"),
        ),
        (
            {"max_leverage": 50},
            ("MAX_LEVERAGE", 50, "must be a finite number >= 1.0 and <= 10.0"),
        ),
        (
            {"trading_mode": "YOLO"},
            ("TRADING_MODE", "YOLO", "one of PAPER, LIVE"),
        ),
        (
            {"market_feed": "bogus"},
            ("MARKET_FEED", "bogus", "one of sim, replay, valr, manual"),
        ),
        (
            {"pairs": "BTCUSD"},
            (
                "PAIRS",
                "BTCUSD",
                "pairs ['BTCUSD'] are not ZAR pairs: each must look like BTCZAR "
                "(2-12 letters or digits followed by ZAR)",
            ),
        ),
        (
            {"pairs": "BTCZAR,ETHZAR,btczar"},
            (
                "PAIRS",
                "BTCZAR,ETHZAR,btczar",
                "pairs must not repeat: BTCZAR appears more than once",
            ),
        ),
        (
            {"pairs": ""},
            ("PAIRS", "[]", "1 to 50 ZAR pairs, comma separated (e.g. BTCZAR,ETHZAR,SOLZAR)"),
        ),
        (
            {"trading_day_timezone": "Mars/Olympus_Mons"},
            (
                "TRADING_DAY_TIMEZONE",
                "Mars/Olympus_Mons",
                "must be an IANA time zone such as Africa/Johannesburg",
            ),
        ),
        (
            # a folder of the zone database, not a zone: used to crash with IsADirectoryError
            {"trading_day_timezone": "America"},
            (
                "TRADING_DAY_TIMEZONE",
                "America",
                "must be an IANA time zone such as Africa/Johannesburg",
            ),
        ),
        (
            {"database_url": "mysql://helios@db.example/helios"},
            (
                "DATABASE_URL",
                "mysql://helios@db.example/helios",
                "must start with sqlite:/// or postgresql:// (or postgresql+psycopg://)",
            ),
        ),
        (
            {"database_url": "sqlite:///:memory:"},
            (
                "DATABASE_URL",
                "sqlite:///:memory:",
                "must name an SQLite file (sqlite:///path/to/helios.db): an in-memory database "
                "is not shared between connections or processes",
            ),
        ),
        (
            {"market_feed": "replay"},
            ("REPLAY_PATH", "", "must name a folder of <PAIR>.csv files when MARKET_FEED=replay"),
        ),
        (
            {"trading_mode": "LIVE"},
            (
                "MARKET_FEED",
                "sim",
                "must be valr when TRADING_MODE=LIVE (real prices for real money)",
            ),
        ),
        (
            {"max_drawdwn_pct": 0.1},  # a typo is not silently ignored
            ("MAX_DRAWDWN_PCT", 0.1, "unknown setting; see .env.example"),
        ),
        (
            # signed orders never travel in clear text to a remote host
            {"valr_base_url": "http://api.valr.com"},
            (
                "VALR_BASE_URL",
                "http://api.valr.com",
                "must be an https URL such as https://api.valr.com (plain http only for a "
                "test server on this machine: 127.0.0.1 or localhost)",
            ),
        ),
        (
            {"periods_per_year": "252.5"},
            ("PERIODS_PER_YEAR", "252.5", "must be a whole number >= 1 and <= 366"),
        ),
    ],
    ids=lambda value: str(value)[:40],
)
def test_a_bad_value_is_refused_naming_the_key_the_value_and_the_range(
    overrides: dict[str, object], expected: tuple[str, object, str]
):
    problems = problems_of(**overrides)
    assert len(problems) == 1
    key, value, allowed = problems[0]
    assert (key, str(value), allowed) == (expected[0], str(expected[1]), expected[2])


def test_the_error_message_reads_KEY_equals_value_colon_range():
    with pytest.raises(ConfigError) as caught:
        load_settings(max_drawdown_pct=5.0)
    assert str(caught.value) == (
        "invalid configuration:\n"
        "  MAX_DRAWDOWN_PCT=5.0: must be a finite number > 0.0 and <= 1.0 "
        "(a fraction: 0.15 means 15%; 5.0 would be 500%)"
    )


def test_a_bad_environment_value_is_reported_in_its_environment_spelling(
    monkeypatch: pytest.MonkeyPatch,
):
    monkeypatch.setenv("MAX_DRAWDOWN_PCT", "5.0")
    monkeypatch.setenv("INITIAL_CAPITAL_ZAR", "-1")
    assert problems_of() == [
        ("INITIAL_CAPITAL_ZAR", "-1", "must be a finite number > 0 and <= 1000000000000"),
        (
            "MAX_DRAWDOWN_PCT",
            "5.0",
            f"must be a finite number > 0.0 and <= 1.0 {FRACTION}; 5.0 would be 500%)",
        ),
    ]


def test_several_bad_keys_are_all_reported_at_once():
    problems = problems_of(
        initial_capital_zar=-5,
        max_leverage=50,
        trading_mode="YOLO",
        pairs="BTCUSD",
        max_drawdwn_pct=0.1,
    )
    assert [key for key, _value, _allowed in problems] == [
        "MAX_DRAWDWN_PCT",
        "TRADING_MODE",
        "INITIAL_CAPITAL_ZAR",
        "PAIRS",
        "MAX_LEVERAGE",
    ]


# --- secrets --------------------------------------------------------------------------------


def test_describe_and_repr_never_show_the_VALR_secret_or_the_database_password(
    monkeypatch: pytest.MonkeyPatch,
):
    monkeypatch.setenv("VALR_API_SECRET", SECRET)
    monkeypatch.setenv("VALR_API_KEY", "valr-api-key-value")
    url = f"postgresql://helios:{DB_PASSWORD}@127.0.0.1:5432/helios"
    settings = load_settings(database_url=url)
    assert settings.valr_api_secret is not None
    assert settings.valr_api_secret.get_secret_value() == SECRET  # it is there to be used
    shown = describe(settings)
    assert shown["valr_api_secret"] == "set"
    assert shown["valr_api_key"] == "set"
    assert shown["database_url"] == "postgresql://helios:***@127.0.0.1:5432/helios"
    for text in (str(shown), repr(settings), str(settings)):
        assert SECRET not in text
        assert "valr-api-key-value" not in text
        assert DB_PASSWORD not in text


def test_describe_says_not_set_when_there_are_no_keys():
    shown = describe(load_settings())
    assert shown["valr_api_secret"] == "not set"
    assert shown["valr_api_key"] == "not set"


def test_a_config_error_never_shows_a_secret(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("VALR_API_SECRET", SECRET)
    with pytest.raises(ConfigError) as caught:
        load_settings(
            database_url=f"mysql://helios:{DB_PASSWORD}@db/helios",
            valr_api_key=12345,  # not a string
            valr_api_secrett=SECRET,  # a typo in a secret's name
            max_leverage=50,
        )
    message = str(caught.value)
    assert SECRET not in message
    assert DB_PASSWORD not in message
    assert "12345" not in message
    assert caught.value.problems == [
        ("VALR_API_SECRETT", "***", "unknown setting; see .env.example"),
        (
            "DATABASE_URL",
            "mysql://helios:***@db/helios",
            "must start with sqlite:/// or postgresql:// (or postgresql+psycopg://)",
        ),
        ("MAX_LEVERAGE", 50, "must be a finite number >= 1.0 and <= 10.0"),
        ("VALR_API_KEY", "***", "Input should be a valid string"),
    ]


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://u:pw@h:5432/db", "postgresql://u:***@h:5432/db"),
        ("postgresql://u:p@ss@h/db", "postgresql://u:***@h/db"),  # an @ inside the password
        ("postgresql://u@h/db", "postgresql://u@h/db"),
        ("sqlite:////tmp/a@b.db", "sqlite:////tmp/a@b.db"),
    ],
)
def test_redact_url_hides_the_whole_password(url: str, shown: str):
    assert redact_url(url) == shown


# --- connect validates before it touches the database --------------------------------------


def test_connect_with_a_bad_override_raises_and_creates_no_database_file(tmp_path: Path):
    path = tmp_path / "data" / "helios.db"
    with pytest.raises(ConfigError) as caught:
        helios.connect(f"sqlite:///{path}", market_feed="bogus")
    assert caught.value.problems == [("MARKET_FEED", "bogus", "one of sim, replay, valr, manual")]
    assert not path.exists()
    assert not path.parent.exists()
    assert list(tmp_path.iterdir()) == []


def test_connect_with_a_typo_in_an_override_raises_and_creates_no_database_file(tmp_path: Path):
    path = tmp_path / "helios.db"
    with pytest.raises(ConfigError, match="INITIAL_CAPITL_ZAR"):
        helios.connect(f"sqlite:///{path}", initial_capitl_zar=5)
    assert list(tmp_path.iterdir()) == []


def test_settings_field_names_are_the_lower_case_environment_keys():
    assert all(name == name.lower() for name in Settings.model_fields)


def test_env_example_documents_every_setting_and_loads_as_it_is(monkeypatch: pytest.MonkeyPatch):
    """Every key a user can set is in .env.example, and the file itself is a valid configuration."""
    import re
    from pathlib import Path

    from helios.config import Settings, load_settings

    example = Path(__file__).resolve().parents[1] / ".env.example"
    text = example.read_text()
    missing = [
        name.upper()
        for name in Settings.model_fields
        if not re.search(rf"^#? ?{name.upper()}=", text, re.MULTILINE)
    ]
    assert missing == []
    monkeypatch.setenv("HELIOS_ENV_FILE", str(example))
    settings = load_settings()
    assert settings.pairs == ["BTCZAR", "ETHZAR", "SOLZAR"]
    assert settings.valr_api_secret is None  # the empty secret lines mean "not set"
