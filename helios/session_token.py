"""The dashboard's signed session (issue 18): who signed in and until when, signed with
HMAC-SHA256, so a reload, a new tab or a bookmark stays signed in without a second password.

A token is ``v1.<name, base64url>.<expiry, unix seconds>.<signature, base64url>``; the
signature covers everything before it. Rules (pure, no I/O):

- The key is derived from the server's secret (a key file, never the database) and the
  password hash in force, so changing DASHBOARD_PASSWORD_HASH ends every session and a leaked
  hash alone forges nothing.
- A token is accepted only when it is well formed, its signature matches (compared in constant
  time, ``hmac.compare_digest``), it has not expired, and its expiry is no later than the
  session length in force allows (a token issued under a longer DASHBOARD_SESSION_HOURS ends
  when the shorter one would have ended it).
- The verdict names why a token was refused (malformed, forged, expired, too long) and never
  carries the token itself.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from dataclasses import dataclass

VERSION = "v1"
KEY_CONTEXT = b"helios dashboard session v1\x00"
MAX_TOKEN_CHARS = 1024
MAX_NAME_CHARS = 120  # helios.text.NAME_LIMIT: the names actions record
CLOCK_SKEW_SECONDS = 60


@dataclass(frozen=True)
class Verdict:
    """The judgement of one token: ``user`` when accepted, else ``reason`` (never the token)."""

    ok: bool
    user: str = ""
    expires_at: int = 0
    reason: str = ""


def derive_key(server_secret: bytes, password_hash: str) -> bytes:
    """The signing key: HMAC-SHA256 of the password hash in force under the server's secret."""
    if len(server_secret) < 32:
        raise ValueError("the server secret must be at least 32 bytes")
    return hmac.new(server_secret, KEY_CONTEXT + password_hash.encode(), hashlib.sha256).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    if not text or any(c not in _ALPHABET for c in text):
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


_ALPHABET = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def _sign(key: bytes, body: str) -> bytes:
    return hmac.new(key, body.encode(), hashlib.sha256).digest()


def issue(user: str, now: float, hours: float, key: bytes) -> str:
    """A token for ``user`` that expires ``hours`` after ``now`` (unix seconds)."""
    name = user.strip()
    if not name or len(name) > MAX_NAME_CHARS:
        raise ValueError(f"user: a name of 1 to {MAX_NAME_CHARS} characters")
    if hours <= 0:
        raise ValueError("hours: more than 0")
    expires = int(now + hours * 3600)
    body = f"{VERSION}.{_b64(name.encode())}.{expires}"
    return f"{body}.{_b64(_sign(key, body))}"


def verify(token: str, now: float, key: bytes, hours: float) -> Verdict:
    """Accept ``token`` at ``now`` under ``key`` when the session length in force is
    ``hours``; see the module's rules."""
    if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_CHARS:
        return Verdict(False, reason="malformed")
    parts = token.split(".")
    if len(parts) != 4 or parts[0] != VERSION or not parts[2].isdigit():
        return Verdict(False, reason="malformed")
    try:
        name = _unb64(parts[1]).decode()
        signature = _unb64(parts[3])
    except (ValueError, binascii.Error, UnicodeDecodeError):
        return Verdict(False, reason="malformed")
    if not hmac.compare_digest(signature, _sign(key, ".".join(parts[:3]))):
        return Verdict(False, reason="forged")
    expires = int(parts[2])
    if not name.strip() or len(name) > MAX_NAME_CHARS:
        return Verdict(False, reason="malformed")
    if expires <= now:
        return Verdict(False, user=name, expires_at=expires, reason="expired")
    if expires > now + hours * 3600 + CLOCK_SKEW_SECONDS:
        return Verdict(False, user=name, expires_at=expires, reason="longer than the setting")
    return Verdict(True, user=name, expires_at=expires)


def fingerprint(token: str) -> str:
    """A short digest naming a token (to remember it was signed out) without keeping it."""
    return hashlib.sha256(token.encode()).hexdigest()[:32]
