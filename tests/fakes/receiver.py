"""The console tests' alert receiver: ``tests/alert_receivers.HttpReceiver`` (the one real HTTP
server on 127.0.0.1 taking apprise's ``json://`` posts) under the names those tests use.

``url(path, credentials)`` is the ``ALERT_URLS`` entry that reaches it (``credentials``:
``user:password@``, sent as HTTP Basic authentication); ``messages`` what arrived (each with
its path, ``authorization`` and body); ``status`` what a POST is answered (a failing webhook);
``Receiver.dead()`` a port where nothing listens.
"""

from __future__ import annotations

from tests.alert_receivers import HttpReceiver, Received

__all__ = ["Received", "Receiver"]


class Receiver(HttpReceiver):
    """A webhook on 127.0.0.1 (``with Receiver() as r``), or a dead port (``Receiver.dead()``)."""

    @classmethod
    def dead(cls) -> Receiver:
        """A receiver's address with nothing listening (the webhook is down)."""
        receiver = cls()
        receiver.down()
        return receiver

    def url(self, path: str = "/hook", credentials: str = "") -> str:
        """The ``ALERT_URLS`` entry for this receiver (``credentials``: ``user:password@``)."""
        return self.json_url(path, credentials.removesuffix("@"))

    @property
    def messages(self) -> list[Received]:
        return self.posts

    def wait_for(self, count: int = 1, timeout: float = 60.0) -> list[Received]:
        """At least ``count`` messages (fails after ``timeout`` seconds with what arrived)."""
        return self.wait_for_posts(count, timeout)

    def stop(self) -> None:
        self.close()
