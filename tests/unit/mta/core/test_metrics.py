"""Metrics: counters, scrape-time gauges and readiness, read back through the Prometheus
text exposition parser (a fresh registry per test)."""

from __future__ import annotations

import asyncio

import pytest
from prometheus_client.parser import text_string_to_metric_families

from mta.core.events import Bounce, Deferred, Delivered, Dropped, Open, about
from mta.core.metrics import Metrics, QueueDepth, Readiness, rejection_labels
from queue_store.entries import Envelope, RecipientState


def samples(metrics: Metrics) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of the exposition, by (name, labels)."""
    text = metrics.render().decode()
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(metrics: Metrics, name: str, **labels: str) -> float | None:
    return samples(metrics).get((name, frozenset(labels.items())))


def event_fields() -> dict[str, object]:
    envelope = Envelope(
        message_id="m1",
        queue_id="q1",
        account_id="a1",
        sender="s@example.com",
        sender_domain="example.com",
        return_path_host="bounces.example.com",
    )
    return about(envelope, RecipientState(index=0, email="r@example.org"))


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ("554 5.7.1 Relay access denied", ("554", "5.7.1")),
        ("451 4.3.0 Try again later", ("451", "4.3.0")),
        ("500 Error: bad syntax", ("500", "")),
        ("421-4.7.0 first of many lines", ("421", "4.7.0")),
        ("250 2.0.0 OK", None),
        ("354 End data with <CR><LF>.<CR><LF>", None),
        ("garbage", None),
        ("", None),
    ],
)
def test_rejection_labels(reply: str, expected: tuple[str, str] | None) -> None:
    assert rejection_labels(reply) == expected


def test_outcome_events_are_counted_by_result_and_others_ignored() -> None:
    metrics = Metrics()
    fields = event_fields()
    for event in (
        Delivered(**fields, response="250 OK"),
        Delivered(**fields, response="250 OK"),
        Deferred(**fields, response="451 later", status="4.3.0", attempt=1),
        Bounce(**fields, reason="550 no such user", status="5.1.1"),
        Dropped(**fields, reason="Bounced Address"),
        Open(**fields),
    ):
        metrics.event(event)
    assert value(metrics, "scaisend_deliveries_total", result="delivered") == 2
    assert value(metrics, "scaisend_deliveries_total", result="deferred") == 1
    assert value(metrics, "scaisend_deliveries_total", result="bounced") == 1
    assert value(metrics, "scaisend_deliveries_total", result="dropped") == 1
    names = {name for name, _ in samples(metrics)}
    assert not any("open" in name for name in names)


def test_each_registry_is_its_own() -> None:
    first, second = Metrics(), Metrics()
    first.smtp_session("mx")
    assert value(first, "scaisend_smtp_sessions_total", listener="mx") == 1
    assert value(second, "scaisend_smtp_sessions_total", listener="mx") is None


def test_rejections_latency_webhooks_and_dns() -> None:
    metrics = Metrics()
    for reply in ("554 5.7.1 Relay access denied", "554 5.7.1 Relay access denied", "250 OK"):
        metrics.smtp_reply(reply)
    metrics.delivered_after(0.3)
    metrics.delivered_after(-1.0)  # a clock step back counts as immediate
    metrics.webhook_failed()
    metrics.dns_error("timeout")
    assert value(metrics, "scaisend_smtp_rejections_total", code="554", enhanced="5.7.1") == 2
    assert value(metrics, "scaisend_smtp_rejections_total", code="250", enhanced="") is None
    assert value(metrics, "scaisend_delivery_latency_seconds_count") == 2
    assert value(metrics, "scaisend_delivery_latency_seconds_bucket", le="0.1") == 1
    assert value(metrics, "scaisend_delivery_latency_seconds_bucket", le="0.5") == 2
    assert value(metrics, "scaisend_webhook_failures_total") == 1
    assert value(metrics, "scaisend_dns_errors_total", kind="timeout") == 1


def test_queue_depth_is_read_when_scraped() -> None:
    metrics = Metrics()
    depth = [QueueDepth("ready", "example.org", 3)]
    metrics.watch_queue(lambda: depth)
    assert (
        value(metrics, "scaisend_queue_depth_messages", state="ready", destination="example.org")
        == 3
    )
    depth = [QueueDepth("held", "", 1)]
    assert (
        value(metrics, "scaisend_queue_depth_messages", state="ready", destination="example.org")
        is None
    )
    assert value(metrics, "scaisend_queue_depth_messages", state="held", destination="") == 1


async def test_webhook_backlog_is_refreshed_before_a_scrape_and_left_out_on_failure() -> None:
    metrics = Metrics()
    counts = iter([7])

    async def probe() -> int:
        return next(counts)  # StopIteration on the second call: the probe fails

    metrics.watch_webhook_backlog(probe)
    assert value(metrics, "scaisend_webhook_backlog_rows") is None  # not probed yet
    await metrics.refresh()
    assert value(metrics, "scaisend_webhook_backlog_rows") == 7
    await metrics.refresh()
    assert value(metrics, "scaisend_webhook_backlog_rows") is None


async def test_readiness_names_what_is_not_ready() -> None:
    readiness = Readiness()
    answers = iter([None])

    async def database() -> None:
        next(answers)

    readiness.watch_database(database)
    readiness.mark("spool")
    assert await readiness.report() == {
        "spool": True,
        "smtp": False,
        "http": False,
        "database": True,
    }
    readiness.mark("smtp")
    readiness.mark("http")
    report = await readiness.report()  # the database stops answering
    assert report == {"spool": True, "smtp": True, "http": True, "database": False}


async def test_a_hanging_database_is_not_ready(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("mta.core.metrics.DATABASE_TIMEOUT_SECONDS", 0.05)
    readiness = Readiness(parts=())

    async def hang() -> None:
        await asyncio.Event().wait()

    readiness.watch_database(hang)
    assert await readiness.report() == {"database": False}
