"""Observability of a real server: mail relayed to the sink and a relay refused on the MX port
show up in /metrics (deliveries, latency, queue depth, sessions, rejections by reason);
/healthz and /readyz answer; /metrics wants its bearer token and is not rate limited."""

from __future__ import annotations

import smtplib
import time

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support.server import ScaisendServer
from tests.support.servers import ServerFactory
from tests.support.sink import SmtpSink

TOKEN = "scrape-secret"
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


@pytest.fixture
def server(make_server: ServerFactory) -> ScaisendServer:
    return make_server(
        {
            "smtp": {"relay_networks": ["127.0.0.1/32"], "relay_account": "acme"},
            "http": {"metrics_token": TOKEN},
        }
    )


def relay(server: ScaisendServer, rcpt: str, source: str = "127.0.0.1") -> None:
    with smtplib.SMTP("127.0.0.1", server.mx_port, timeout=30, source_address=(source, 0)) as c:
        c.ehlo("app.internal")
        message = f"From: app@other.example.org\r\nTo: {rcpt}\r\nSubject: hi\r\n\r\nHello\r\n"
        c.sendmail("app@other.example.org", [rcpt], message.encode())


def scrape(server: ScaisendServer) -> tuple[httpx.Response, Samples]:
    response = httpx.get(
        f"{server.base_url}/metrics", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10
    )
    assert response.status_code == 200, response.text
    samples = {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }
    return response, samples


def scrape_until_delivered(server: ScaisendServer) -> tuple[httpx.Response, Samples]:
    """The sink has the mail before the server records the outcome: wait (bounded) for it."""
    delivered = ("scaisend_deliveries_total", frozenset({("result", "delivered")}))
    deadline = time.monotonic() + 20
    for _ in range(200):
        response, samples = scrape(server)
        if samples.get(delivered, 0) >= 1 or time.monotonic() > deadline:
            return response, samples
        time.sleep(0.1)
    return response, samples


def test_health_readiness_and_metrics(server: ScaisendServer, sink: SmtpSink) -> None:
    alive = httpx.get(f"{server.base_url}/healthz", timeout=10)
    assert alive.status_code == 200 and alive.json() == {"status": "ok"}
    ready = httpx.get(f"{server.base_url}/readyz", timeout=10)
    assert ready.status_code == 200, ready.text
    assert ready.json()["parts"] == {"spool": True, "smtp": True, "http": True, "database": True}

    relay(server, "bob@example.com")
    assert sink.wait_for(1)[0].rcpt_tos == ["bob@example.com"]
    with pytest.raises(smtplib.SMTPRecipientsRefused):
        relay(server, "bob@example.com", source="127.0.0.3")

    response, samples = scrape_until_delivered(server)
    content_type = response.headers["content-type"]
    assert content_type.startswith("text/plain; version=") and content_type.count("charset") == 1
    assert "x-ratelimit-limit" not in response.headers
    assert samples[("scaisend_deliveries_total", frozenset({("result", "delivered")}))] == 1
    assert samples[("scaisend_delivery_latency_seconds_count", frozenset())] == 1
    rejected = frozenset({("code", "554"), ("enhanced", "5.7.1")})
    assert samples[("scaisend_smtp_rejections_total", rejected)] == 1
    assert samples[("scaisend_smtp_sessions_total", frozenset({("listener", "mx")}))] == 2
    depth = {labels for name, labels in samples if name == "scaisend_queue_depth_messages"}
    assert frozenset({("state", "in_flight"), ("destination", "")}) in depth
    assert ("scaisend_webhook_backlog_rows", frozenset()) in samples


def test_metrics_wants_the_token_and_stays_out_of_the_api_document(
    server: ScaisendServer,
) -> None:
    for headers in ({}, {"Authorization": "Bearer wrong"}):
        refused = httpx.get(f"{server.base_url}/metrics", headers=headers, timeout=10)
        assert refused.status_code == 401
        assert refused.json()["errors"][0]["message"]
    paths = httpx.get(f"{server.base_url}/openapi.json", timeout=10).json()["paths"]
    assert not {"/metrics", "/healthz", "/readyz"} & set(paths)
