"""The one answer made of every worker's (control/merge.py): /metrics summed per series with
the earliest `_created`, queue listings merged by due time, by-id actions from the worker
holding the message, errors passed through."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from control.merge import Answer, merge_answers, merge_listings, merge_metrics
from mta.core.metrics import Metrics, QueueDepth


def worker_metrics(sessions: int, delivered: int, depth: int) -> bytes:
    metrics = Metrics()
    for _ in range(sessions):
        metrics.smtp_session("mx")
    for _ in range(delivered):
        metrics.smtp_reply("550 5.1.1 no such user")
        metrics.delivered_after(3.0)
    metrics.watch_queue(lambda: [QueueDepth(state="deferred", destination="a.test", count=depth)])
    return metrics.render()


def samples(text: bytes) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text.decode())
        for s in family.samples
    }


def test_metrics_of_the_workers_add_up() -> None:
    a, b = worker_metrics(2, 1, 5), worker_metrics(3, 4, 7)
    merged = samples(merge_metrics([a, b]))
    one, two = samples(a), samples(b)
    assert set(merged) == set(one) == set(two)  # no series added or lost
    assert merged[("scaisend_smtp_sessions_total", (("listener", "mx"),))] == 5
    assert merged[("scaisend_smtp_rejections_total", (("code", "550"), ("enhanced", "5.1.1")))] == 5
    assert merged[("scaisend_delivery_latency_seconds_count", ())] == 5
    assert merged[("scaisend_delivery_latency_seconds_bucket", (("le", "5.0"),))] == 5
    depth = (("destination", "a.test"), ("state", "deferred"))
    assert merged[("scaisend_queue_depth_messages", depth)] == 12
    created = ("scaisend_smtp_sessions_created", (("listener", "mx"),))
    assert merged[created] == min(one[created], two[created])
    assert merge_metrics([a]) == a  # one worker: unchanged


def test_the_shared_webhook_backlog_is_not_counted_twice() -> None:
    texts = []
    for rows in (7, 8):
        metrics = Metrics()

        async def backlog(rows: int = rows) -> int:
            return rows

        metrics.watch_webhook_backlog(backlog)
        asyncio.run(metrics.refresh())
        texts.append(metrics.render())
    assert samples(merge_metrics(texts))[("scaisend_webhook_backlog_rows", ())] == 8


def test_a_series_only_one_worker_has_is_kept() -> None:
    a, b = worker_metrics(1, 0, 0), Metrics().render()
    merged = samples(merge_metrics([b, a]))
    assert merged[("scaisend_smtp_sessions_total", (("listener", "mx"),))] == 1


def message(queue_id: str, due: float | None, created: float = 0.0) -> dict[str, Any]:
    return {"queue_id": queue_id, "due_at": due, "created_at": created}


def test_listings_merge_by_due_time_within_the_limit() -> None:
    first = [message("a1", 10), message("a2", 30)]
    second = [message("b1", 20), message("b2", None, created=5)]
    merged = merge_listings([first, second], limit=3)
    assert [m["queue_id"] for m in merged] == ["b2", "a1", "b1"]


def answer(worker: int, status: int, body: Any) -> Answer:
    return Answer(worker, status, "application/json", json.dumps(body).encode())


def test_whole_server_requests() -> None:
    listed = merge_answers(
        "GET",
        "/api/admin/queue",
        {"limit": "2"},
        [
            answer(0, 200, {"messages": [message("a", 3)]}),
            answer(1, 200, {"messages": [message("b", 1), message("c", 2)]}),
        ],
    )
    assert listed.status == 200
    assert [m["queue_id"] for m in json.loads(listed.body)["messages"]] == ["b", "c"]
    retried = merge_answers(
        "POST",
        "/api/admin/queue/retry",
        {},
        [answer(0, 200, {"retried": 2}), answer(1, 200, {"retried": 3})],
    )
    assert json.loads(retried.body) == {"retried": 5}
    denied = answer(1, 403, {"errors": [{"message": "no"}]})
    empty = answer(0, 200, {"messages": []})
    assert merge_answers("GET", "/api/admin/queue", {}, [empty, denied]).status == 403
    assert merge_answers("GET", "/metrics", {}, []).status == 503


def test_by_id_actions_come_from_the_worker_holding_the_message() -> None:
    missing = answer(0, 404, {"errors": [{"message": "no message q"}]})
    held = answer(1, 200, message("q", 1))
    reply = merge_answers("POST", "/api/admin/queue/q/hold", {}, [missing, held])
    assert reply.status == 200 and json.loads(reply.body)["queue_id"] == "q"
    nowhere = merge_answers("GET", "/api/admin/queue/x", {}, [missing, missing])
    assert nowhere.status == 404
    deleted = Answer(1, 204, "", b"")
    assert merge_answers("DELETE", "/api/admin/queue/q", {}, [missing, deleted]).status == 204
