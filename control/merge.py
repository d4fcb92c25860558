"""How the answers of every worker to one request become one answer (control/fanout.py):
/metrics summed per series, queue listings merged by due time, a by-id queue action taken
from the worker that holds the message. Pure functions on bytes and parsed JSON."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any

import msgspec
from prometheus_client.exposition import generate_latest
from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families

from control.errors import error_body

MAX_LIST = 1000  # as mta.scheduler.queue_admin.MAX_LIST
DEFAULT_LIMIT = 100
JSON = "application/json"
# Gauges of the shared database, the same number read by every worker: one value, not a sum.
SHARED_GAUGES = frozenset({"scaisend_webhook_backlog_rows"})
# Requests about the whole server: every worker must answer 200, and the answers are merged.
WHOLE = {("GET", "/metrics"), ("GET", "/api/admin/queue"), ("POST", "/api/admin/queue/retry")}


class Answer(msgspec.Struct, frozen=True):
    """One worker's answer to a fanned-out request."""

    worker: int
    status: int
    content_type: str
    body: bytes


class Reply(msgspec.Struct, frozen=True):
    status: int
    content_type: str
    body: bytes


def no_worker() -> Reply:
    body = msgspec.json.encode(error_body("no worker answered; is the server running?"))
    return Reply(503, JSON, body)


def as_reply(answer: Answer) -> Reply:
    return Reply(answer.status, answer.content_type, answer.body)


def merge_answers(method: str, path: str, query: dict[str, str], answers: list[Answer]) -> Reply:
    """The one reply: an error any worker gave to a whole-server request is the reply."""
    if not answers:
        return no_worker()
    whole = (method, path) in WHOLE
    failed = next((a for a in answers if a.status != 200), None)
    if not whole:
        return as_reply(holder(answers))
    if failed is not None:
        return as_reply(failed)
    if path == "/metrics":
        return Reply(200, answers[0].content_type, merge_metrics(a.body for a in answers))
    if path == "/api/admin/queue":
        listed = [json.loads(a.body)["messages"] for a in answers]
        body = {"messages": merge_listings(listed, list_limit(query))}
        return Reply(200, JSON, msgspec.json.encode(body))
    retried = sum(int(json.loads(a.body)["retried"]) for a in answers)
    return Reply(200, JSON, msgspec.json.encode({"retried": retried}))


def holder(answers: list[Answer]) -> Answer:
    """A by-id action: the answer of the worker that has the message (not 404); if none has
    it, the first 404. Queue ids are unique over every spool."""
    return next((a for a in answers if a.status != 404), answers[0])


def list_limit(query: dict[str, str]) -> int:
    text = query.get("limit", "")
    limit = int(text) if text.isdigit() else DEFAULT_LIMIT
    return max(1, min(limit, MAX_LIST))


def due_key(message: dict[str, Any]) -> float:
    due = message.get("due_at")
    return float(due if due is not None else message.get("created_at", 0.0))


def merge_listings(listings: list[list[dict[str, Any]]], limit: int) -> list[dict[str, Any]]:
    """Every worker's list in one, earliest due first (as each worker orders its own)."""
    merged = [message for listing in listings for message in listing]
    return sorted(merged, key=due_key)[:limit]


def merge_metrics(texts: Iterable[bytes]) -> bytes:
    """Prometheus text of several processes as one: each series (name and labels) summed
    over them (counters, gauges and histogram buckets all add up), except the `_created`
    timestamps, where the earliest stands, and SHARED_GAUGES, where the highest does. No
    series is added."""
    families: dict[str, Metric] = {}
    values: dict[tuple[str, str, tuple[tuple[str, str], ...]], float] = {}
    for text in texts:
        for family in text_string_to_metric_families(text.decode()):
            merged = families.setdefault(
                family.name, Metric(family.name, family.documentation, family.type)
            )
            for sample in family.samples:
                key = (family.name, sample.name, _labels(sample.labels))
                if key not in values:
                    merged.add_sample(sample.name, dict(sample.labels), 0.0)
                    values[key] = sample.value
                elif sample.name.endswith("_created"):
                    values[key] = min(values[key], sample.value)
                elif sample.name in SHARED_GAUGES:
                    values[key] = max(values[key], sample.value)
                else:
                    values[key] += sample.value
    for family in families.values():
        family.samples = [
            sample._replace(value=values[(family.name, sample.name, _labels(sample.labels))])
            for sample in family.samples
        ]
    return generate_latest(_Families(families.values()))


def _labels(labels: dict[str, str]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted(labels.items()))


class _Families:
    """What generate_latest wants of a registry: collect()."""

    def __init__(self, families: Iterable[Metric]) -> None:
        self._families = list(families)

    def collect(self) -> Iterator[Metric]:
        return iter(self._families)
