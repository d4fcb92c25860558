"""The test webhook receiver counts only whole requests: a POST cut off by a killed sender
(headers sent, body not) is no delivery, so tests that kill a node do not read it as one."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator

import httpx
import pytest

from tests.support.webhook_receiver import WebhookReceiver


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    running = WebhookReceiver().start()
    yield running
    running.stop()


def test_a_whole_post_is_recorded(receiver: WebhookReceiver) -> None:
    response = httpx.post(receiver.url, json={"event_id": "e1"}, timeout=5)
    assert response.status_code == 200
    assert [json.loads(d.body)["event_id"] for d in receiver.deliveries] == ["e1"]


@pytest.mark.parametrize("cut_after", ["headers", "half the body"])
def test_a_post_cut_off_is_not_recorded(receiver: WebhookReceiver, cut_after: str) -> None:
    body = b'{"event_id": "e2"}'
    head = f"POST /webhooks/scaisend HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\n\r\n"
    sent = head.encode() + (body[: len(body) // 2] if cut_after == "half the body" else b"")
    with socket.create_connection(("127.0.0.1", receiver.port), timeout=5) as conn:
        conn.sendall(sent)
        conn.shutdown(socket.SHUT_WR)  # the sender is gone
        assert conn.recv(1024) == b""  # closed without an answer
    httpx.post(receiver.url, json={"event_id": "e3"}, timeout=5)  # handled after the cut one
    assert [json.loads(d.body)["event_id"] for d in receiver.deliveries] == ["e3"]
