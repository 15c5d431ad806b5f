"""The login gate: with DASHBOARD_PASSWORD_HASH set nothing but the sign-in form is drawn until
a name and the right password are given; the name then stands in the actions' records."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

import helios
from helios.auth import hash_password, is_password_hash, verify_password
from helios.config import ConfigError, load_settings
from helios.errors import InvalidInput

ROOT = Path(__file__).resolve().parents[1]
APP = ROOT / "app.py"
PASSWORD = "correct horse battery"


def test_a_password_hash_verifies_only_its_password():
    stored = hash_password(PASSWORD)
    assert is_password_hash(stored) and PASSWORD not in stored
    assert verify_password(PASSWORD, stored)
    assert not verify_password("correct horse battery!", stored)
    assert not verify_password(PASSWORD, "scrypt$garbage")
    assert hash_password(PASSWORD) != stored  # salted
    with pytest.raises(InvalidInput) as caught:
        hash_password("short")
    assert caught.value.field == "password" and "short" not in str(caught.value)


def test_a_plain_password_in_the_setting_is_refused_without_echoing_it():
    with pytest.raises(ConfigError) as caught:
        load_settings(dashboard_password_hash="hunter2hunter2")
    assert "DASHBOARD_PASSWORD_HASH" in str(caught.value)
    assert "hunter2" not in str(caught.value)


@pytest.fixture
def gated(seeded: helios.Helios, monkeypatch: pytest.MonkeyPatch) -> helios.Helios:
    import streamlit as st

    monkeypatch.setenv("DASHBOARD_PASSWORD_HASH", hash_password(PASSWORD))
    st.cache_resource.clear()
    return seeded


def sign_in(at: AppTest, name: str, password: str) -> AppTest:
    at.text_input(key="login_name").input(name)
    at.text_input(key="login_password").input(password)
    at.button(key="login_submit").click().run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_the_gate_blocks_every_page_until_the_right_password(gated: helios.Helios):
    # The front page, named as a browser names it on every rerun (AppTest alone would send no
    # page and so reset the form's widgets between runs).
    at = AppTest.from_file(str(APP), default_timeout=120)
    at.switch_page("app_pages/summary.py").run()
    assert not at.exception
    assert not at.metric  # no page content behind the gate
    assert [t.label for t in at.text_input] == ["Your name", "Password"]

    sign_in(at, "thandi", "wrong password")
    assert any("Wrong name or password" in e.value for e in at.error)
    assert not at.metric

    sign_in(at, "thandi", PASSWORD)
    assert at.metric, "the Summary shows once signed in"
    kinds = [(e["kind"], e["actor"]) for e in gated.controls.event_log()]
    assert ("LOGIN", "thandi") in kinds and ("LOGIN_REFUSED", "thandi") in kinds


def test_a_deep_link_is_gated_too(gated: helios.Helios):
    at = AppTest.from_file(str(APP), default_timeout=120)
    at.switch_page("app_pages/controls.py").run()
    assert not at.exception
    assert not any(b.label.startswith("EMERGENCY") for b in at.button)
    sign_in(at, "sipho", PASSWORD)  # signing in opens the page the link asked for
    assert at.text_input(key="controls_who").value == "sipho"  # the signed-in name acts


def test_sign_out_shows_the_form_again_and_is_an_event(gated: helios.Helios):
    at = AppTest.from_file(str(APP), default_timeout=120)
    at.switch_page("app_pages/summary.py").run()
    sign_in(at, "lerato", PASSWORD)
    assert at.metric
    at.sidebar.button(key="sign_out").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.metric and [t.label for t in at.text_input] == ["Your name", "Password"]
    at.run()  # and it stays signed out
    assert not at.metric
    kinds = [(e["kind"], e["actor"]) for e in gated.controls.event_log()]
    assert ("LOGOUT", "lerato") in kinds
