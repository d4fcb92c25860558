"""A webhook receiver on loopback: a real HTTP server in a thread recording each POST."""

from __future__ import annotations

import ssl
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import msgspec


class Delivery(msgspec.Struct):
    path: str
    headers: dict[str, str]
    body: bytes
    status: int = 200  # what the receiver answered


class WebhookReceiver:
    def __init__(
        self,
        host: str = "127.0.0.1",
        ssl_context: ssl.SSLContext | None = None,
        keep_alive: bool = False,
    ) -> None:
        """`keep_alive`: answer in HTTP/1.1 and keep the connection open for the next POST."""
        self.deliveries: list[Delivery] = []
        self.status = 200
        self.answer = b'{"ok": true}'  # the body of every answer
        self.delay = 0.0  # seconds to wait before answering (a slow receiver)
        # Checks the Authorization header (an OAuth bearer token); False answers 401.
        self.authorize: Callable[[str | None], bool] | None = None
        self.scheme = "https" if ssl_context is not None else "http"
        lock = threading.Lock()
        self._lock = lock
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1" if keep_alive else "HTTP/1.0"

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "-1"))
                body = self.rfile.read(max(length, 0))
                if length < 0 or len(body) < length:
                    return  # the sender died mid-request (a killed node): nothing arrived
                with lock:
                    status, delay, answer = receiver.status, receiver.delay, receiver.answer
                    headers = {k.lower(): v for k, v in self.headers.items()}
                    check = receiver.authorize
                    if check is not None and not check(headers.get("authorization")):
                        status = 401
                    receiver.deliveries.append(Delivery(self.path, headers, body, status))
                if delay:
                    time.sleep(delay)
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(answer)))
                    self.end_headers()
                    self.wfile.write(answer)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the sender gave up waiting (its timeout, or it stopped)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer((host, 0), Handler)
        if ssl_context is not None:
            self.server.socket = ssl_context.wrap_socket(self.server.socket, server_side=True)
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"{self.scheme}://{host!s}:{port}/webhooks/scaisend"

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    def count(self) -> int:
        with self._lock:
            return len(self.deliveries)

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
