"""The dashboard's password: hashed with scrypt (standard library), compared in constant time.

``DASHBOARD_PASSWORD_HASH`` holds ``scrypt$<n>$<r>$<p>$<salt b64>$<hash b64>``, made by
``helios hash-password`` (or ``hash_password``); the password itself is never stored anywhere.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from helios.errors import InvalidInput

N, R, P = 2**14, 8, 1
PREFIX = "scrypt"
MIN_LENGTH = 8


def hash_password(password: str) -> str:
    if not isinstance(password, str) or len(password) < MIN_LENGTH:
        raise InvalidInput("password", "(hidden)", f"a text of at least {MIN_LENGTH} characters")
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=N, r=R, p=P, dklen=32)
    encode = base64.b64encode
    return f"{PREFIX}${N}${R}${P}${encode(salt).decode()}${encode(digest).decode()}"


def is_password_hash(value: str) -> bool:
    parts = value.split("$")
    if len(parts) != 6 or parts[0] != PREFIX:
        return False
    try:
        return all(int(x) > 0 for x in parts[1:4]) and bool(
            base64.b64decode(parts[4], validate=True) and base64.b64decode(parts[5], validate=True)
        )
    except ValueError:
        return False


def verify_password(password: str, stored: str) -> bool:
    """True if ``password`` matches ``stored``; a malformed hash never matches."""
    if not isinstance(password, str) or not is_password_hash(stored):
        return False
    _, n, r, p, salt, digest = stored.split("$")
    expected = base64.b64decode(digest)
    try:
        actual = hashlib.scrypt(
            password.encode(),
            salt=base64.b64decode(salt),
            n=int(n),
            r=int(r),
            p=int(p),
            dklen=len(expected),
            maxmem=2**27,
        )
    except ValueError:
        return False
    return hmac.compare_digest(actual, expected)
