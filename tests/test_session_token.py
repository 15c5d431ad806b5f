"""The dashboard's signed session (issue 18): the token's rules (helios/session_token.py), the
key file (helios/session_key.py), the cookie routes (ui/session_routes.py) and the setting."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from helios import session_key, session_token
from helios.config import ConfigError, load_settings
from ui import session_routes

NOW = 1_800_000_000.0
SECRET = b"s" * 32
HASH = "scrypt$16384$8$1$c2FsdA==$aGFzaA=="
KEY = session_token.derive_key(SECRET, HASH)


def test_a_token_verifies_until_it_expires():
    token = session_token.issue("thandi", NOW, 12, KEY)
    assert "thandi" not in token  # base64url: no name in plain sight, no separators broken
    verdict = session_token.verify(token, NOW + 11.9 * 3600, KEY, 12)
    assert verdict == session_token.Verdict(True, "thandi", int(NOW + 12 * 3600))
    expired = session_token.verify(token, NOW + 12 * 3600, KEY, 12)
    assert (expired.ok, expired.reason, expired.user) == (False, "expired", "thandi")


def test_a_token_issued_under_a_longer_setting_is_refused_under_a_shorter_one():
    token = session_token.issue("thandi", NOW, 24, KEY)
    assert session_token.verify(token, NOW, KEY, 24).ok
    assert session_token.verify(token, NOW, KEY, 1).reason == "longer than the setting"


def test_a_wrong_key_a_new_password_hash_or_a_new_secret_refuse_the_token():
    token = session_token.issue("thandi", NOW, 12, KEY)
    for key in (
        session_token.derive_key(b"t" * 32, HASH),  # another server secret
        session_token.derive_key(SECRET, HASH.replace("aGFzaA", "aGFzaB")),  # a new password
    ):
        assert session_token.verify(token, NOW, key, 12).reason == "forged"
    with pytest.raises(ValueError):
        session_token.derive_key(b"short", HASH)


def test_a_tampered_token_is_refused():
    token = session_token.issue("thandi", NOW, 12, KEY)
    version, name, expires, signature = token.split(".")
    other = session_token.issue("admin", NOW, 12, KEY).split(".")[1]
    later = str(int(expires) + 3600)
    flipped = signature[:-2] + ("A" if signature[-2] != "A" else "B") + signature[-1]
    for forged in (
        f"{version}.{other}.{expires}.{signature}",  # another name, the same signature
        f"{version}.{name}.{later}.{signature}",  # a later expiry
        f"{version}.{name}.{expires}.{flipped}",  # the signature changed
    ):
        assert session_token.verify(forged, NOW, KEY, 12).reason == "forged", forged
    for malformed in ("", "x", "v2." + token[3:], token + ".x", "v1.!!.1.AA", "a" * 5000):
        assert session_token.verify(malformed, NOW, KEY, 12).reason == "malformed", malformed


def test_issue_refuses_an_empty_or_long_name_and_no_hours():
    for name, hours in (("", 12), (" ", 12), ("x" * 121, 12), ("thandi", 0)):
        with pytest.raises(ValueError):
            session_token.issue(name, NOW, hours, KEY)


def test_the_key_file_is_made_once_with_mode_0600(tmp_path: Path):
    path = tmp_path / "data" / "session.key"
    first = session_key.load_or_create(path)
    assert len(first) == 32 and session_key.load_or_create(path) == first
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in path.parent.iterdir()] == ["session.key"]  # no spare left behind
    os.chmod(path, 0o644)
    assert session_key.load_or_create(path) == first
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    path.write_bytes(b"short")
    with pytest.raises(ValueError, match="shorter than 32"):
        session_key.load_or_create(path)


def test_the_session_hours_setting_is_validated():
    assert load_settings().dashboard_session_hours == 12.0
    assert load_settings(dashboard_session_hours=0.5).dashboard_session_hours == 0.5
    for bad in (0, -1, 721):
        with pytest.raises(ConfigError) as caught:
            load_settings(dashboard_session_hours=bad)
        assert "DASHBOARD_SESSION_HOURS" in str(caught.value)


# --- the cookie routes ------------------------------------------------------------------------


@pytest.fixture
def client() -> TestClient:
    return TestClient(Starlette(routes=session_routes.routes()), base_url="http://dash.test")


ORIGIN = {"Origin": "http://dash.test"}


def test_a_ticket_sets_an_httponly_strict_cookie_once(client: TestClient):
    ticket = session_routes.hand_over("the-token", 3600)
    assert session_routes.waiting(ticket)
    answer = client.post(session_routes.SESSION_PATH, content=ticket, headers=ORIGIN)
    assert answer.status_code == 204
    cookie = answer.headers["set-cookie"]
    assert cookie.startswith("helios_session=the-token;")
    for part in ("HttpOnly", "Max-Age=3600", "Path=/", "SameSite=strict"):
        assert part in cookie, cookie
    assert "Secure" not in cookie  # plain http; https (or a proxy saying so) adds it
    assert not session_routes.waiting(ticket)
    again = client.post(session_routes.SESSION_PATH, content=ticket, headers=ORIGIN)
    assert again.status_code == 403 and "set-cookie" not in again.headers

    ticket = session_routes.hand_over("the-token", 3600)
    https = client.post(
        session_routes.SESSION_PATH,
        content=ticket,
        headers={**ORIGIN, "X-Forwarded-Proto": "https"},
    )
    assert "Secure" in https.headers["set-cookie"]


def test_the_routes_refuse_another_origin_and_unknown_tickets(client: TestClient):
    ticket = session_routes.hand_over("the-token", 3600)
    for headers in ({}, {"Origin": "http://evil.test"}):
        answer = client.post(session_routes.SESSION_PATH, content=ticket, headers=headers)
        assert answer.status_code == 403 and "set-cookie" not in answer.headers
    assert session_routes.waiting(ticket)  # a refused request does not spend it
    guess = client.post(session_routes.SESSION_PATH, content="guess", headers=ORIGIN)
    assert guess.status_code == 403
    out = client.post(session_routes.SIGNOUT_PATH, headers=ORIGIN)  # no X-Helios-Signout
    assert out.status_code == 403


def test_sign_out_clears_the_cookie_and_voids_its_token(client: TestClient):
    client.cookies.set("helios_session", "signed-out-token")
    assert not session_routes.signed_out("signed-out-token")
    answer = client.post(
        session_routes.SIGNOUT_PATH, headers={**ORIGIN, session_routes.SIGNOUT_HEADER: "1"}
    )
    assert answer.status_code == 204
    cookie = answer.headers["set-cookie"]
    assert cookie.startswith('helios_session="";') and "Max-Age=0" in cookie, cookie
    assert session_routes.signed_out("signed-out-token")


def test_the_server_serves_the_routes_at_their_paths():
    """dashboard.py names the paths itself (it must not import helios: see its docstring)."""
    import ast

    source = (Path(__file__).resolve().parents[1] / "dashboard.py").read_text()
    constants = {
        node.targets[0].id: node.value.value
        for node in ast.parse(source).body
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant)
    }
    assert constants["SESSION_PATH"] == session_routes.SESSION_PATH
    assert constants["SIGNOUT_PATH"] == session_routes.SIGNOUT_PATH
    assert "import helios" not in source and "from ui" not in source.split("async def")[0]
