"""Prometheus metrics and readiness: one `Metrics` owning its own registry (counters bumped on
the hot path, queue depth and webhook backlog read at scrape time) and `Readiness`, the
parts `/readyz` waits for."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable, Iterable, Iterator

import msgspec
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram
from prometheus_client.exposition import generate_latest
from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from mta.core.events import Bounce, Deferred, Delivered, Dropped, EventBase

# Outcome events → the `result` label of scaisend_deliveries_total.
RESULTS: dict[type[EventBase], str] = {
    Delivered: "delivered",
    Deferred: "deferred",
    Bounce: "bounced",
    Dropped: "dropped",
}
DATABASE_TIMEOUT_SECONDS = 2.0  # /readyz: a database slower than this is not ready
LATENCY_BUCKETS = (0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 4 * 3600, 24 * 3600)
REPLY = re.compile(r"([45]\d\d)[ -](?:([45]\.\d{1,3}\.\d{1,3})(?: |$))?")


class QueueDepth(msgspec.Struct, frozen=True):
    """How many messages are in one scheduler state for one destination ("" = any)."""

    state: str
    destination: str
    count: int


def rejection_labels(reply: str) -> tuple[str, str] | None:
    """(reply code, enhanced status code or "") of a 4xx/5xx SMTP reply line; None for
    anything else (positive and intermediate replies are not rejections)."""
    match = REPLY.match(reply)
    if match is None:
        return None
    return match.group(1), match.group(2) or ""


class Metrics:
    """Everything /metrics shows. Built once by the composition root and handed to the parts
    that count; each instance has its own registry, so tests and processes never share."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        registry = self.registry
        deliveries = Counter(
            "scaisend_deliveries",
            "Recipient outcomes by result (delivered, deferred, bounced, dropped).",
            ["result"],
            registry=registry,
        )
        self._results = {kind: deliveries.labels(name) for kind, name in RESULTS.items()}
        self._latency = Histogram(
            "scaisend_delivery_latency_seconds",
            "From acceptance (or the scheduled send time) to delivery.",
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self._sessions = Counter(
            "scaisend_smtp_sessions",
            "SMTP connections by listener.",
            ["listener"],
            registry=registry,
        )
        self._rejections = Counter(
            "scaisend_smtp_rejections",
            "SMTP 4xx/5xx replies sent, by reply code and enhanced status code.",
            ["code", "enhanced"],
            registry=registry,
        )
        self._webhook_failures = Counter(
            "scaisend_webhook_failures", "Webhook POSTs that failed.", registry=registry
        )
        self._dns_errors = Counter(
            "scaisend_dns_errors", "DNS look-ups that failed, by kind.", ["kind"], registry=registry
        )
        self._queue: Callable[[], Iterable[QueueDepth]] | None = None
        self._backlog_probe: Callable[[], Awaitable[int]] | None = None
        self._backlog: int | None = None
        registry.register(_ScrapeTime(self))

    # -- hot path: one dictionary look-up and a counter increment each ----------------

    def event(self, event: object) -> None:
        """An event as the bus sees it; outcome events are counted by result."""
        child = self._results.get(type(event))  # type: ignore[arg-type]
        if child is not None:
            child.inc()

    def delivered_after(self, seconds: float) -> None:
        self._latency.observe(max(seconds, 0.0))

    def smtp_session(self, listener: str) -> None:
        self._sessions.labels(listener).inc()

    def smtp_reply(self, reply: str) -> None:
        """A reply line the server sent; counted only when it is a rejection."""
        if reply[:1] in ("4", "5"):
            labels = rejection_labels(reply)
            if labels is not None:
                self._rejections.labels(*labels).inc()

    def webhook_failed(self) -> None:
        self._webhook_failures.inc()

    def dns_error(self, kind: str) -> None:
        self._dns_errors.labels(kind).inc()

    # -- scrape time -------------------------------------------------------------------

    def watch_queue(self, source: Callable[[], Iterable[QueueDepth]]) -> None:
        """Where queue depth is read when scraped (the scheduler's in-memory state)."""
        self._queue = source

    def watch_webhook_backlog(self, probe: Callable[[], Awaitable[int]]) -> None:
        """An async count of pending webhook rows, run by `refresh` before each scrape."""
        self._backlog_probe = probe

    async def refresh(self) -> None:
        """Run the async probes; a failing probe leaves its gauge out of this scrape."""
        if self._backlog_probe is not None:
            try:
                self._backlog = await self._backlog_probe()
            except Exception:
                self._backlog = None

    def render(self) -> bytes:
        return generate_latest(self.registry)

    def scrape_families(self) -> Iterator[Metric]:
        depth = GaugeMetricFamily(
            "scaisend_queue_depth_messages",
            "Messages in the scheduler by state and destination.",
            labels=["state", "destination"],
        )
        for row in self._queue() if self._queue is not None else ():
            depth.add_metric([row.state, row.destination], row.count)
        yield depth
        if self._backlog is not None:
            yield GaugeMetricFamily(
                "scaisend_webhook_backlog_rows",
                "Webhook outbox rows waiting to be posted.",
                value=self._backlog,
            )


class _ScrapeTime(Collector):
    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics

    def collect(self) -> Iterable[Metric]:
        return self._metrics.scrape_families()

    def describe(self) -> Iterable[Metric]:
        return ()  # names vary with what is there; nothing to check at registration


class Readiness:
    """The parts a ready server has: each is marked when it is up; the database is asked."""

    def __init__(self, parts: Iterable[str] = ("spool", "smtp", "http")) -> None:
        self._parts = dict.fromkeys(parts, False)
        self._database: Callable[[], Awaitable[object]] | None = None

    def mark(self, part: str, ready: bool = True) -> None:
        self._parts[part] = ready

    def watch_database(self, probe: Callable[[], Awaitable[object]]) -> None:
        self._database = probe

    async def report(self) -> dict[str, bool]:
        """Each part → whether it is ready now ("database": a SELECT 1 answered)."""
        parts = dict(self._parts)
        if self._database is not None:
            try:
                await asyncio.wait_for(self._database(), DATABASE_TIMEOUT_SECONDS)
                parts["database"] = True
            except Exception:
                parts["database"] = False
        return parts
