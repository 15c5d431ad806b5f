"""Real receivers on 127.0.0.1 for the alert tests (issue 17): what an operator's webhook, mail
server and uptime monitor would be, nothing mocked.

- ``HttpReceiver``: a ``ThreadingHTTPServer`` taking apprise's ``json://127.0.0.1:PORT/path``
  POSTs (a JSON body: version, title, message, type, attachments) and plain GETs (the dead-man's
  switch: ``/ping`` and ``/ping/fail``). ``down()`` closes its listening socket, so a connection
  is refused as with a dead host; ``up()`` listens again on the same port.
- ``SmtpReceiver``: an ``aiosmtpd`` server collecting each e-mail as a parsed
  ``email.message.EmailMessage``, for apprise's ``mailto://127.0.0.1:PORT?to=...&from=...``
  (``mailto://`` without an ``s`` speaks plain SMTP: no TLS, no login).

Both are context managers on a port the system chooses (xdist workers never collide) and
record what they received with the monotonic time of its arrival.
"""

from __future__ import annotations

import base64
import email
import email.policy
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

PING_PATH = "/ping"


@dataclass(frozen=True)
class Received:
    """One POST the HTTP receiver accepted."""

    path: str
    body: dict[str, Any]
    at: float  # time.monotonic() on arrival
    authorization: str | None = None  # the Basic credentials of the URL, as sent

    @property
    def title(self) -> str:
        return str(self.body.get("title", ""))

    @property
    def message(self) -> str:
        return str(self.body.get("message", ""))

    @property
    def type(self) -> str:
        return str(self.body.get("type", ""))

    def attachments(self) -> list[tuple[str, str, bytes]]:
        """(filename, mimetype, bytes) of each attachment apprise sent."""
        return [
            (str(a.get("filename")), str(a.get("mimetype")), base64.b64decode(a.get("base64", "")))
            for a in self.body.get("attachments") or []
        ]


@dataclass(frozen=True)
class Ping:
    path: str
    at: float


@dataclass
class _Log:
    lock: threading.Lock = field(default_factory=threading.Lock)
    posts: list[Received] = field(default_factory=list)
    pings: list[Ping] = field(default_factory=list)
    others: list[tuple[str, str]] = field(default_factory=list)  # (method, path) not expected
    status: int = 200  # what a POST is answered (a failing webhook: 500, and nothing kept)


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _answer(self, status: int, text: str = "ok") -> None:
        data = text.encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        log = self.server.log
        with log.lock:
            if path == PING_PATH or path.startswith(PING_PATH + "/"):
                log.pings.append(Ping(path, time.monotonic()))
            else:
                log.others.append(("GET", self.path))
        self._answer(200)

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length)
        log = self.server.log
        try:
            body = json.loads(raw.decode("utf-8"))
        except ValueError:
            with log.lock:
                log.others.append(("POST", self.path))
            self._answer(400, "not json")
            return
        with log.lock:
            status = log.status
            if status < 300:
                log.posts.append(
                    Received(self.path, body, time.monotonic(), self.headers.get("Authorization"))
                )
        self._answer(status)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, port: int, log: _Log) -> None:
        self.log = log
        super().__init__(("127.0.0.1", port), _Handler)


class HttpReceiver:
    """A webhook and ping receiver on 127.0.0.1 that can be taken down and brought back."""

    def __init__(self) -> None:
        self._log = _Log()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self.port = 0
        self.up()

    # --- the listening socket ---------------------------------------------------------------
    def up(self) -> None:
        """Listen (again, on the same port once one was chosen)."""
        if self._server is not None:
            return
        deadline = time.monotonic() + 30
        while True:
            try:
                self._server = _Server(self.port, self._log)
                break
            except OSError:  # the old socket still in TIME_WAIT on a busy machine
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    def down(self) -> None:
        """Stop listening: connections to the port are refused until ``up()``."""
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        assert self._thread is not None
        self._thread.join(10)
        self._server = self._thread = None

    @property
    def is_up(self) -> bool:
        return self._server is not None

    @property
    def status(self) -> int:
        """What a POST is answered (200; set 500 for a webhook that fails while it listens)."""
        return self._log.status

    @status.setter
    def status(self, value: int) -> None:
        with self._log.lock:
            self._log.status = value

    def close(self) -> None:
        self.down()

    def __enter__(self) -> HttpReceiver:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # --- addresses --------------------------------------------------------------------------
    def json_url(self, path: str = "/hook", credentials: str = "") -> str:
        """The apprise URL of a JSON webhook at ``path`` (``credentials``: ``user:password``)."""
        who = f"{credentials}@" if credentials else ""
        return f"json://{who}127.0.0.1:{self.port}{path}"

    @property
    def ping_url(self) -> str:
        return f"http://127.0.0.1:{self.port}{PING_PATH}"

    # --- what arrived -----------------------------------------------------------------------
    @property
    def posts(self) -> list[Received]:
        with self._log.lock:
            return list(self._log.posts)

    @property
    def pings(self) -> list[Ping]:
        with self._log.lock:
            return list(self._log.pings)

    @property
    def unexpected(self) -> list[tuple[str, str]]:
        with self._log.lock:
            return list(self._log.others)

    def wait_for_posts(self, count: int, timeout: float, what: str = "") -> list[Received]:
        """Until at least ``count`` POSTs arrived; fails after ``timeout`` s."""
        what = what or f"{count} message(s) on the HTTP receiver"
        return _wait(lambda: len(self.posts) >= count and self.posts, timeout, what, self._titles)

    def _titles(self) -> list[str]:
        return [post.title for post in self.posts]


class _Collector:
    """aiosmtpd handler: every DATA parsed into an EmailMessage."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.messages: list[tuple[EmailMessage, list[str], float]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        content = envelope.original_content or envelope.content
        if isinstance(content, str):
            content = content.encode("utf-8")
        parsed = email.message_from_bytes(content, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        with self.lock:
            self.messages.append((parsed, list(envelope.rcpt_tos), time.monotonic()))
        return "250 Message accepted for delivery"


class SmtpReceiver:
    """A plain SMTP server on 127.0.0.1 (aiosmtpd) keeping every e-mail it is sent."""

    def __init__(self) -> None:
        from aiosmtpd.controller import Controller

        self._collector = _Collector()
        for attempt in range(20):  # aiosmtpd needs a port number up front: a free one, or retry
            self.port = _free_port()
            self._controller = Controller(self._collector, hostname="127.0.0.1", port=self.port)
            try:
                self._controller.start()
                break
            except (OSError, RuntimeError):
                if attempt == 19:
                    raise

    def url(self, to: str = "ops@example.com", sender: str = "helios@example.com") -> str:
        """apprise's plain-SMTP URL for this server (no TLS, no login)."""
        return f"mailto://127.0.0.1:{self.port}?to={to}&from={sender}"

    @property
    def messages(self) -> list[EmailMessage]:
        with self._collector.lock:
            return [m for m, _, _ in self._collector.messages]

    @property
    def recipients(self) -> list[list[str]]:
        with self._collector.lock:
            return [r for _, r, _ in self._collector.messages]

    def wait_for_messages(self, count: int, timeout: float, what: str = "") -> list[EmailMessage]:
        what = what or f"{count} e-mail(s)"
        return _wait(
            lambda: len(self.messages) >= count and self.messages,
            timeout,
            what,
            lambda: [m["Subject"] for m in self.messages],
        )

    def close(self) -> None:
        self._controller.stop()

    def __enter__(self) -> SmtpReceiver:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


def text_of(message: EmailMessage) -> str:
    """The e-mail's readable text: its subject and every text part."""
    parts = [str(message["Subject"] or "")]
    for part in message.walk():
        if part.get_content_maintype() == "text" and not part.is_attachment():
            parts.append(str(part.get_content()))
    return "\n".join(parts)


def body_of(message: EmailMessage) -> str:
    """The e-mail's plain-text body, with the message's own line ends."""
    part = message.get_body(preferencelist=("plain",))
    return str(part.get_content()).replace("\r\n", "\n") if part is not None else ""


def attachments_of(message: EmailMessage) -> list[tuple[str, str, bytes]]:
    """(filename, content type, bytes) of each attachment of the e-mail."""
    found = []
    for part in message.iter_attachments():
        payload = part.get_payload(decode=True)
        found.append((str(part.get_filename()), part.get_content_type(), bytes(payload or b"")))
    return found


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait(condition: Callable[[], Any], timeout: float, what: str, seen: Callable[[], Any]) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}; received: {seen()!r}")


@contextmanager
def receivers() -> Iterator[tuple[HttpReceiver, SmtpReceiver]]:
    """An HTTP receiver and an SMTP server, both on 127.0.0.1, closed at the end."""
    with HttpReceiver() as http, SmtpReceiver() as smtp:
        yield http, smtp
