"""The dashboard's response headers: the CSP and friends on every response start, and a
Server-Timing duration that covers what the app did before it started the response."""

from __future__ import annotations

import asyncio
import re
from typing import Any

from control.ui.security import CONTENT_SECURITY_POLICY, with_ui_headers

TIMING = re.compile(r"^app;dur=(\d+\.\d)$")


async def test_the_response_start_carries_the_csp_and_the_server_time() -> None:
    sent: list[dict[str, Any]] = []

    async def send(message: Any) -> None:
        sent.append(message)

    wrapped = with_ui_headers(send)
    await asyncio.sleep(0.05)  # the page's work
    await wrapped({"type": "http.response.start", "status": 200, "headers": [(b"a", b"b")]})
    await wrapped({"type": "http.response.body", "body": b"page"})
    headers = dict(sent[0]["headers"])
    assert headers[b"a"] == b"b"
    assert headers[b"content-security-policy"] == CONTENT_SECURITY_POLICY.encode()
    found = TIMING.match(headers[b"server-timing"].decode())
    assert found is not None and 50.0 <= float(found.group(1)) < 5000
    assert sent[1] == {"type": "http.response.body", "body": b"page"}  # bodies untouched
