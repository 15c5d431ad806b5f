"""VALR's request signature (API §2).

The rule it owns: every private request is signed with a lowercase hex HMAC-SHA512 of
``timestamp (ms) + VERB + path with its query + body text + subaccount id``, keyed by the
secret's UTF-8 bytes (not hex-decoded), computed over EXACTLY the bytes that go on the wire:
``sign_prepared`` signs the request after ``requests`` has built its URL and body, so a
re-serialised body can never differ from the signed one. Keys are read only here, to sign.
"""

from __future__ import annotations

import hashlib
import hmac

import requests


def sign_request(
    secret: str,
    timestamp: int | str,
    verb: str,
    path: str,
    body: str = "",
    subaccount_id: str = "",
) -> str:
    """VALR's request signature (API §2): lowercase hex HMAC-SHA512 of
    ``timestamp + VERB + path (with query) + body + subaccountId``, keyed by the secret's UTF-8
    bytes (not hex-decoded)."""
    message = f"{timestamp}{verb.upper()}{path}{body}{subaccount_id}"
    return hmac.new(secret.encode("utf-8"), message.encode("utf-8"), hashlib.sha512).hexdigest()


def sign_prepared(
    request: requests.PreparedRequest,
    *,
    key: str,
    secret: str,
    timestamp: str,
    subaccount_id: str = "",
) -> None:
    """Set VALR's ``X-VALR-*`` headers on a PREPARED request: the signature covers its path
    (``path_url``, with the query) and its body bytes as they will be sent."""
    raw = request.body or b""
    body = raw.decode("utf-8") if isinstance(raw, bytes) else str(raw)
    signature = sign_request(
        secret, timestamp, request.method or "GET", request.path_url, body, subaccount_id
    )
    request.headers["X-VALR-API-KEY"] = key
    request.headers["X-VALR-SIGNATURE"] = signature
    request.headers["X-VALR-TIMESTAMP"] = timestamp
    if subaccount_id:
        request.headers["X-VALR-SUB-ACCOUNT-ID"] = subaccount_id
