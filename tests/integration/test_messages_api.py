"""The message log over real HTTP on a real server: mail sent and delivered or bounced through
a real SMTP sink, then filtered in the tutorial's style and in SendGrid's `query=` style; bad
queries, page sizes, the access rule by key and scope, and tenant isolation."""

from __future__ import annotations

from typing import Any

from tests.support.api import account_with_key, get, new_key, send_categorized, wait_for_status
from tests.support.dns_server import DnsServer
from tests.support.server import ScaisendServer
from tests.support.sink import SmtpSink


def listed(server: ScaisendServer, key: str, **params: Any) -> list[str]:
    response = get(server, key, "/v3/messages", **params)
    assert response.status_code == 200, response.text
    return [m["id"] for m in response.json()["messages"]]


def test_message_log_filters_and_access(
    scaisend: ScaisendServer, dns_server: DnsServer, sink: SmtpSink
) -> None:
    token, key = account_with_key(scaisend, dns_server)
    sink.reject["gone@example.com"] = "550 5.1.1 <gone@example.com>: user unknown"
    ada = send_categorized(scaisend, key, "ada@example.com", "Receipt", "receipts")
    news = send_categorized(scaisend, key, "ada@example.com", "News", "news")
    gone = send_categorized(scaisend, key, "gone@example.com", "Receipt", "receipts")
    wait_for_status(scaisend, key, ada, "delivered")
    wait_for_status(scaisend, key, news, "delivered")
    wait_for_status(scaisend, key, gone, "bounced")

    # The tutorial's call, exactly as written.
    response = get(scaisend, key, "/v3/messages", to_email="ada@example.com", page_size=50)
    messages = response.json()["messages"]
    assert [(m["id"], m["status"], m["subject"]) for m in messages] == [
        (news, "delivered", "News"),
        (ada, "delivered", "Receipt"),
    ]
    first = messages[0]
    assert first["msg_id"] == news and first["to_email"] == "ada@example.com"
    assert first["from_email"] == "hello@mail.example.com"
    assert first["last_event_time"].endswith("Z") and first["opens_count"] == 0
    assert first["clicks_count"] == 0 and first["categories"] == ["news"]

    # One message, as the tutorial reads it, with SendGrid's names beside.
    one = get(scaisend, key, f"/v3/messages/{gone}").json()
    assert [e["event_type"] for e in one["events"]] == ["processed", "bounce"]
    assert [e["event_name"] for e in one["events"]] == ["processed", "bounced"]
    assert all(isinstance(e["timestamp"], int) for e in one["events"])

    # Tutorial-style parameters and SendGrid's query, alone and together.
    assert listed(scaisend, key, status="bounced") == [gone]
    assert listed(scaisend, key, subject="Receipt") == [gone, ada]
    assert listed(scaisend, key, categories="receipts", status="delivered") == [ada]
    assert listed(scaisend, key, query='status="not_delivered"', limit=10) == [gone]
    query = 'categories IN ("receipts","news") AND to_email="ada@example.com"'
    assert listed(scaisend, key, query=query, limit=1) == [news]
    assert listed(scaisend, key, query=f'msg_id="{ada}"', to_email="gone@example.com") == []
    between = (
        'last_event_time BETWEEN TIMESTAMP "2000-01-01T00:00:00Z" '
        'AND TIMESTAMP "2999-01-01T00:00:00Z"'
    )
    assert listed(scaisend, key, query=between, limit=1000) == [gone, news, ada]
    assert listed(scaisend, key, query='status="bounced" OR subject="News"') == [gone, news]
    assert listed(scaisend, key, query='NOT Contains(categories, "receipts")') == [news]
    query = 'subject LIKE "Rec%" AND to_email != "gone@example.com"'
    assert listed(scaisend, key, query=query, status="delivered") == [ada]

    # Bad input: SendGrid's error shape, naming the field.
    for params, field in [
        ({"query": 'to_email="a" OR 1=1'}, "query"),
        ({"query": "nope"}, "query"),
        ({"query": 'status="whatever"'}, "query"),
        ({"query": 'subject LIKE "a\\\\"'}, "query"),
        ({"query": 'msg_id="a" OR ' * 50 + 'msg_id="a"'}, "query"),
        ({"limit": 1001}, "limit"),
        ({"page_size": 0}, "page_size"),
        ({"status": "whatever"}, "status"),
    ]:
        bad = get(scaisend, key, "/v3/messages", **params)
        assert bad.status_code == 400, (params, bad.text)
        assert bad.json()["errors"][0]["field"] == field, bad.text

    # A mail.send key sees what it sent; a reader sees the account; no scope, no access.
    other_sender = new_key(scaisend, token, ["mail.send"])
    assert listed(scaisend, other_sender) == []
    assert get(scaisend, other_sender, f"/v3/messages/{ada}").status_code == 404
    reader = new_key(scaisend, token, ["email_activity.read"])
    assert listed(scaisend, reader, limit=1000) == [gone, news, ada]
    stats_only = new_key(scaisend, token, ["stats.read"])
    assert get(scaisend, stats_only, "/v3/messages").status_code == 403

    # Another account sees nothing of this one, by list, filter or id.
    theirs = scaisend.token("someone-else")
    assert listed(scaisend, theirs, query='subject="Receipt"') == []
    assert listed(scaisend, theirs, to_email="ada@example.com") == []
    assert get(scaisend, theirs, f"/v3/messages/{ada}").status_code == 404
