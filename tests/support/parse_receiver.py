"""An Inbound Parse receiver on loopback, as a SendGrid user writes one: a WSGI app that reads
each post with SendGrid's helper (`sendgrid.helpers.inbound.parse.Parse`), keeps what it read,
and answers with the next status of a script (then 200)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from typing import Any

from sendgrid.helpers.inbound.parse import Parse
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

KEYS = [
    "from", "attachments", "headers", "text", "envelope", "to", "html", "sender_ip",
    "attachment-info", "subject", "dkim", "SPF", "charsets", "content-ids", "spam_report",
    "spam_score", "email", "cc", "dmarc",
]  # fmt: skip


class _Config:
    keys = KEYS


class ParseReceiver:
    """`statuses`: the answers to the first posts, in order; 200 after them."""

    def __init__(self, statuses: Iterable[int] = ()) -> None:
        self.posts: list[dict[str, Any]] = []
        self.refused = 0
        self._statuses = list(statuses)
        self._lock = threading.Lock()
        self._server = make_server("127.0.0.1", 0, self._app, threaded=True)
        self.port = self._server.server_port
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/inbound"

    def _app(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        with self._lock:
            status = self._statuses.pop(0) if self._statuses else 200
            if status != 200:
                self.refused += 1
            else:
                parse = Parse(_Config(), request)
                self.posts.append({**parse.key_values(), "_files": parse.attachments() or []})
        return Response("ok" if status == 200 else "busy", status=status)(environ, start_response)

    def wait_for(self, count: int, seconds: float = 30) -> list[dict[str, Any]]:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            with self._lock:
                if len(self.posts) >= count:
                    return list(self.posts)
            time.sleep(0.05)
        raise AssertionError(f"{len(self.posts)} of {count} posts arrived in {seconds} s")

    def stop(self) -> None:
        self._server.shutdown()
        self._thread.join(timeout=5)
