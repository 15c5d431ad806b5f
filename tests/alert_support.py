"""What the alert console tests share (the CLI, the Controls page, the browser, the API's watch):
a channel URL with a password and a long token in it, the parts of it that must never be shown,
and every text a rendered AppTest page holds."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

import helios
from helios.db.models import Alert, AlertChannel, AlertDelivery, Event
from tests.fakes.receiver import Receiver

PASSWORD = "S3cretPassw0rd"
TOKEN = "TOKEN123456789012"
CREDENTIALS = f"user:{PASSWORD}@"
PATH = f"/hook/{TOKEN}"
SECRETS = (PASSWORD, TOKEN)


def channel_url(receiver: Receiver) -> str:
    """``json://user:S3cretPassw0rd@127.0.0.1:PORT/hook/TOKEN123456789012``."""
    return receiver.url(PATH, CREDENTIALS)


def masked(receiver: Receiver) -> str:
    """How the channel may be shown (``helios.config.channels.mask``)."""
    return f"json://127.0.0.1:{receiver.port}/***"


def leaks(text: str) -> list[str]:
    """The secret parts of the channel URL found in ``text``."""
    return [secret for secret in SECRETS if secret in text]


def page_text(at: Any) -> str:
    """Everything an AppTest run drew: each element's message (labels, values, markdown, help,
    alerts) and each table's cells."""
    from streamlit.testing.v1.element_tree import Dataframe

    parts = []
    for node in at._tree:
        if isinstance(node, Dataframe):
            parts.append(node.value.to_csv())
        proto = getattr(node, "proto", None)
        if proto is not None:
            parts.append(str(proto))
    return "\n".join(parts)


def stored_text(hx: helios.Helios) -> str:
    """The alert tables and the events as text (the secrets must be in none of them)."""
    with hx.db.read() as session:
        rows: list[Any] = []
        for model in (Alert, AlertDelivery, AlertChannel, Event):
            rows += [
                {c.name: getattr(row, c.name) for c in model.__table__.columns}
                for row in session.scalars(select(model))
            ]
    return "\n".join(map(repr, rows))
