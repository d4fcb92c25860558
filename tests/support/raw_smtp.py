"""A raw SMTP client for hostile-input tests: it writes exactly the bytes it is given (no
dot-stuffing, no line-ending repair) and reads replies as the server sent them."""

from __future__ import annotations

import base64
import re
import socket
import ssl

# SEC Consult's and Hanno Böck's end-of-data sequences (hostile-input.md 2.1); all but the
# NUL one carry a bare CR or LF.
SMUGGLING = [
    b"\n.\n",
    b"\n.\r",
    b"\r.\n",
    b"\r.\r",
    b"\n.\r\n",
    b"\r.\r\n",
    b"\r\n.\n",
    b"\r\n.\r",
    b"\r\n\x00.\r\n",
    b"\r\n.\r\r\n",
    b"\r\r\n.\r\r\n",
]
ENHANCED_REPLY = re.compile(rb"^\d{3}[ -][245]\.\d{1,3}\.\d{1,3}( |\r\n)")


def insecure_tls() -> ssl.SSLContext:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


class Reply:
    def __init__(self, lines: list[bytes]) -> None:
        self.lines = lines
        self.code = int(lines[-1][:3])

    @property
    def text(self) -> bytes:
        return b"\n".join(line[4:].rstrip(b"\r\n") for line in self.lines)

    @property
    def has_enhanced_code(self) -> bool:
        return all(ENHANCED_REPLY.match(line) for line in self.lines)

    def __repr__(self) -> str:
        return f"Reply({b''.join(self.lines)!r})"


class RawSmtp:
    """One connection; `implicit_tls` for port 465, `source` to pick the client address."""

    def __init__(
        self, port: int, *, implicit_tls: bool = False, source: str = "", timeout: float = 20
    ) -> None:
        raw = socket.create_connection(
            ("127.0.0.1", port), timeout=timeout, source_address=(source, 0) if source else None
        )
        self.sock: socket.socket | ssl.SSLSocket = (
            insecure_tls().wrap_socket(raw) if implicit_tls else raw
        )
        self._buffer = b""
        self.greeting = self.reply()

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> RawSmtp:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def _line(self) -> bytes:
        while b"\n" not in self._buffer:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError(f"closed by the server; unread: {self._buffer!r}")
            self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        return line + b"\n"

    def reply(self) -> Reply:
        lines = [self._line()]
        while lines[-1][3:4] == b"-":
            lines.append(self._line())
        return Reply(lines)

    def cmd(self, line: bytes | str) -> Reply:
        self.send((line.encode() if isinstance(line, str) else line) + b"\r\n")
        return self.reply()

    def closed(self) -> bool:
        """True once the server has closed the connection (after any unread replies)."""
        try:
            self.sock.settimeout(5)
            return self.sock.recv(1) == b""
        except (ConnectionError, ssl.SSLError):
            return True

    def starttls(self) -> None:
        assert self.cmd("STARTTLS").code == 220
        assert isinstance(self.sock, socket.socket)
        self.sock = insecure_tls().wrap_socket(self.sock)

    def login(self, key: str) -> Reply:
        blob = base64.b64encode(b"\0apikey\0" + key.encode()).decode()
        return self.cmd(f"AUTH PLAIN {blob}")
