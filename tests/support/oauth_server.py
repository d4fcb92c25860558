"""An OAuth 2.0 token endpoint on loopback (RFC 6749 §4.4, client credentials): a real HTTP
server in a thread that checks HTTP Basic client auth and grant_type, counts requests and
issues tokens a WebhookReceiver can check (`receiver.authorize = tokens.accepts`)."""

from __future__ import annotations

import base64
import binascii
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote_plus

import msgspec


class TokenRequest(msgspec.Struct):
    client_id: str | None
    client_secret: str | None
    grant_type: str | None
    status: int  # what the server answered


def basic_auth(header: str | None) -> tuple[str | None, str | None]:
    """(client id, secret) from `Basic …`, form-decoded as RFC 6749 §2.3.1 says."""
    if not header or not header.startswith("Basic "):
        return None, None
    try:
        raw = base64.b64decode(header[6:], validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None, None
    user, _, password = raw.partition(":")
    return unquote_plus(user), unquote_plus(password)


class TokenServer:
    def __init__(self, client_id: str, client_secret: str, host: str = "127.0.0.1") -> None:
        self.client_id, self.client_secret = client_id, client_secret
        self.requests: list[TokenRequest] = []
        self.issued: list[str] = []
        self.status = 200  # another status answers {"error": "server_error"}
        self.failures = 0  # the next this many token requests are answered 500
        self.expires_in: int | None = 3600
        self.answer: bytes | None = None  # a fixed 200 body instead of a token (bad JSON …)
        self._lock = threading.Lock()
        self._revoked: set[str] = set()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                form = parse_qs(self.rfile.read(length).decode())
                client_id, secret = basic_auth(self.headers.get("Authorization"))
                grant = form.get("grant_type", [None])[0]
                status, body = server.respond(client_id, secret, grant)
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer((host, 0), Handler)
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def respond(
        self, client_id: str | None, secret: str | None, grant: str | None
    ) -> tuple[int, bytes]:
        answer: dict[str, Any]
        with self._lock:
            if (client_id, secret) != (self.client_id, self.client_secret):
                status, answer = 401, {"error": "invalid_client"}
            elif grant != "client_credentials":
                status, answer = 400, {"error": "unsupported_grant_type"}
            elif self.status != 200 or self.failures > 0:
                self.failures = max(0, self.failures - 1)
                status, answer = (
                    self.status if self.status != 200 else 500,
                    {"error": "server_error"},
                )
            elif self.answer is not None:
                self.requests.append(TokenRequest(client_id, secret, grant, 200))
                return 200, self.answer
            else:
                token = f"token-{len(self.issued) + 1}"
                self.issued.append(token)
                answer = {"access_token": token, "token_type": "Bearer"}
                status = 200
                if self.expires_in is not None:
                    answer["expires_in"] = self.expires_in
            self.requests.append(TokenRequest(client_id, secret, grant, status))
            return status, json.dumps(answer).encode()

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}/oauth/token"

    def accepts(self, authorization: str | None) -> bool:
        """Whether the header carries a token this server issued and has not revoked."""
        token = (authorization or "").removeprefix("Bearer ")
        with self._lock:
            return token in self.issued and token not in self._revoked

    def revoke_all(self) -> None:
        with self._lock:
            self._revoked.update(self.issued)

    def granted(self) -> int:
        """Token requests answered with a token."""
        with self._lock:
            return sum(1 for r in self.requests if r.status == 200)

    def start(self) -> TokenServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
