"""Stats over real HTTP on a real server: mail delivered and bounced through a real SMTP sink
shows in `/v3/stats`, `/v3/categories/stats` and `/v3/categories/stats/sums` in SendGrid's
shapes; parameters are checked, scopes enforced, and accounts kept apart."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from tests.support.api import account_with_key, get, new_key, send_categorized, wait_for_status
from tests.support.dns_server import DnsServer
from tests.support.server import ScaisendServer
from tests.support.sink import SmtpSink

METRICS = {
    "blocks",
    "bounce_drops",
    "bounces",
    "clicks",
    "deferred",
    "delivered",
    "invalid_emails",
    "opens",
    "processed",
    "requests",
    "spam_report_drops",
    "spam_reports",
    "unique_clicks",
    "unique_opens",
    "unsubscribe_drops",
    "unsubscribes",
}


def ok(response: httpx.Response) -> Any:
    assert response.status_code == 200, response.text
    return response.json()


def test_stats_follow_the_events(
    scaisend: ScaisendServer, dns_server: DnsServer, sink: SmtpSink
) -> None:
    token, key = account_with_key(scaisend, dns_server)
    sink.reject["gone@example.com"] = "550 5.1.1 <gone@example.com>: user unknown"
    sent = [
        send_categorized(scaisend, key, "ada@example.com", "Receipt", "receipts"),
        send_categorized(scaisend, key, "bob@example.com", "Receipt", "receipts"),
        send_categorized(scaisend, key, "gone@example.com", "News", "news"),
    ]
    for message_id, status in zip(sent, ["delivered", "delivered", "bounced"], strict=True):
        wait_for_status(scaisend, key, message_id, status)
    today = datetime.now(UTC).date()
    start = (today - timedelta(days=2)).isoformat()

    days = ok(get(scaisend, token, "/v3/stats", start_date=start))
    assert [d["date"] for d in days] == [(today - timedelta(days=n)).isoformat() for n in (2, 1, 0)]
    assert set(days[0]["stats"][0]["metrics"]) == METRICS
    assert all(v == 0 for v in days[0]["stats"][0]["metrics"].values())
    metrics = days[-1]["stats"][0]["metrics"]
    assert (metrics["requests"], metrics["processed"]) == (3, 3)
    assert (metrics["delivered"], metrics["bounces"]) == (2, 1)
    month = ok(get(scaisend, token, "/v3/stats", start_date=start, aggregated_by="month"))
    assert sum(d["stats"][0]["metrics"]["delivered"] for d in month) == 2

    by_category = ok(
        get(
            scaisend,
            token,
            "/v3/categories/stats",
            start_date=today.isoformat(),
            categories=["receipts", "news"],
        )
    )
    [entry] = by_category
    found = {s["name"]: s for s in entry["stats"]}
    assert found["receipts"]["type"] == "category"
    assert found["receipts"]["metrics"]["delivered"] == 2
    assert found["news"]["metrics"]["bounces"] == 1

    sums = ok(
        get(
            scaisend,
            token,
            "/v3/categories/stats/sums",
            start_date=start,
            sort_by_metric="bounces",
        )
    )
    assert sums["date"] == start
    assert [s["name"] for s in sums["stats"]] == ["news", "receipts"]

    # Parameters are checked, SendGrid's error shape.
    for path, params, field in [
        ("/v3/stats", {}, "start_date"),
        ("/v3/stats", {"start_date": "yesterday"}, "start_date"),
        ("/v3/stats", {"start_date": start, "aggregated_by": "year"}, "aggregated_by"),
        ("/v3/categories/stats", {"start_date": start}, "categories"),
        (
            "/v3/categories/stats/sums",
            {"start_date": start, "sort_by_metric": "x"},
            "sort_by_metric",
        ),
    ]:
        bad = get(scaisend, token, path, **params)
        assert bad.status_code == 400, (path, params, bad.text)
        assert bad.json()["errors"][0]["field"] == field

    # Scopes: each endpoint its own; a mail.send key reads none.
    stats_key = new_key(scaisend, token, ["stats.read"])
    categories_key = new_key(scaisend, token, ["categories.stats.read"])
    params = {"start_date": start, "categories": "receipts"}
    assert get(scaisend, stats_key, "/v3/stats", **params).status_code == 200
    assert get(scaisend, stats_key, "/v3/categories/stats", **params).status_code == 403
    assert get(scaisend, categories_key, "/v3/categories/stats", **params).status_code == 200
    assert get(scaisend, categories_key, "/v3/categories/stats/sums", **params).status_code == 403
    for path in ("/v3/stats", "/v3/categories/stats", "/v3/categories/stats/sums"):
        assert get(scaisend, key, path, **params).status_code == 403

    # Another account sees only zeros.
    theirs = scaisend.token("someone-else")
    for day in ok(get(scaisend, theirs, "/v3/stats", start_date=start)):
        assert all(v == 0 for v in day["stats"][0]["metrics"].values())
    assert ok(get(scaisend, theirs, "/v3/categories/stats/sums", start_date=start))["stats"] == []
