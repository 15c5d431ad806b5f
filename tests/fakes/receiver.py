"""An alert receiver: a real HTTP server on 127.0.0.1 that takes apprise's ``json://`` posts.

apprise's ``json://user:password@127.0.0.1:PORT/path`` POSTs to ``http://127.0.0.1:PORT/path``
a JSON object with ``title``, ``message`` and ``type`` (``info``, ``warning``, ``failure``), with
the user and password as HTTP Basic authentication. Every post is kept (``messages``), with its
path and Authorization header, and answered 200, or ``status`` while a test sets it (a failing
webhook). ``url(path, credentials)`` is the ``ALERT_URLS`` entry that reaches it; a receiver
that was never started (``Receiver.down()``) is a port where nothing listens.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Received:
    path: str
    authorization: str | None
    body: dict[str, Any]

    @property
    def title(self) -> str:
        return str(self.body.get("title", ""))

    @property
    def message(self) -> str:
        return str(self.body.get("message", ""))

    @property
    def type(self) -> str:
        return str(self.body.get("type", ""))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Receiver:
    """A webhook on 127.0.0.1 (``with Receiver() as r``), or a dead port (``Receiver.down()``)."""

    def __init__(self, port: int | None = None, *, start: bool = True) -> None:
        self.port = port or free_port()
        self.status = 200
        self._lock = threading.Lock()
        self._messages: list[Received] = []
        self._server: ThreadingHTTPServer | None = None
        if start:
            self.start()

    @classmethod
    def down(cls) -> Receiver:
        """A receiver's address with nothing listening (the webhook is down)."""
        return cls(start=False)

    def url(self, path: str = "/hook", credentials: str = "") -> str:
        """The ``ALERT_URLS`` entry for this receiver (``credentials``: ``user:password@``)."""
        return f"json://{credentials}127.0.0.1:{self.port}{path}"

    @property
    def messages(self) -> list[Received]:
        with self._lock:
            return list(self._messages)

    def wait_for(self, count: int = 1, timeout: float = 60.0) -> list[Received]:
        """At least ``count`` messages (fails after ``timeout`` seconds with what arrived)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.messages
            if len(found) >= count:
                return found
            time.sleep(0.05)
        raise AssertionError(
            f"the receiver got {len(self.messages)} message(s) in {timeout} s, "
            f"waited for {count}: {[m.title for m in self.messages]}"
        )

    def start(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                try:
                    body = json.loads(raw or b"{}")
                except ValueError:
                    body = {"raw": raw.decode("utf-8", "replace")}
                status = receiver.status
                if status < 300:
                    with receiver._lock:
                        receiver._messages.append(
                            Received(self.path, self.headers.get("Authorization"), body)
                        )
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *_args: object) -> None:
                return  # quiet

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> Receiver:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()
