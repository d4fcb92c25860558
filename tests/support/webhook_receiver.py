"""A webhook receiver on loopback: a real HTTP server in a thread recording each POST."""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import msgspec


class Delivery(msgspec.Struct):
    path: str
    headers: dict[str, str]
    body: bytes


class WebhookReceiver:
    def __init__(self, host: str = "127.0.0.1") -> None:
        self.deliveries: list[Delivery] = []
        self.status = 200
        lock = threading.Lock()
        self._lock = lock
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                with lock:
                    receiver.deliveries.append(
                        Delivery(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                    )
                    status = receiver.status
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b'{"ok": true}')

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer((host, 0), Handler)
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}/webhooks/scaisend"

    def start(self) -> WebhookReceiver:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def wait_for(self, predicate: object, timeout: float = 20.0) -> list[Delivery]:
        assert callable(predicate)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                found = [d for d in self.deliveries if predicate(d)]
            if found:
                return found
            time.sleep(0.05)
        raise AssertionError(f"no matching webhook delivery among {len(self.deliveries)}")
