"""The dashboard's response headers (a Content-Security-Policy without inline script or
style, no framing, the page's server time) and its CSRF checks: the session's token, and a
double-submit cookie on the sign-in form, which has no session yet."""

from __future__ import annotations

import hmac
import secrets
import time

from litestar.types import Message, Send

UI_PREFIX = "/ui"
LOGIN_CSRF_COOKIE = "scaisend_ui_login"
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self'",
        "connect-src 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
    ]
)
UI_HEADERS = [
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"x-frame-options", b"DENY"),
]


def is_ui(path: str) -> bool:
    return path == UI_PREFIX or path.startswith(UI_PREFIX + "/")


def with_ui_headers(send: Send) -> Send:
    """`send` adding the headers above to a response's start (404s and redirects too), and
    `Server-Timing: app;dur=…`: the milliseconds from this call to the response's start,
    which for a page is its queries and its template (what bench/ui_page_bench.py reads)."""
    started = time.perf_counter()

    async def sending(message: Message) -> None:
        if message["type"] == "http.response.start":
            spent = (time.perf_counter() - started) * 1000
            timing = (b"server-timing", f"app;dur={spent:.1f}".encode())
            message["headers"] = [*message.get("headers", ()), *UI_HEADERS, timing]
        await send(message)

    return sending


def new_token() -> str:
    return secrets.token_urlsafe(32)


def same_token(given: str, expected: str) -> bool:
    """Constant-time equality; an empty expectation never matches."""
    return bool(expected) and hmac.compare_digest(given.encode(), expected.encode())
