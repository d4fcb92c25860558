"""Every suppression and unsubscribe-group endpoint against a real server, with SendGrid's
paths, shapes and status codes; lists filled by real bounces from the MX sink; one account
never sees or changes another's entries; each endpoint wants its own scope."""

from __future__ import annotations

import time

from tests.support.api import account_with_key, admin, post_send, wait_for_status
from tests.support.dns_server import DnsServer
from tests.support.server import ScaisendServer
from tests.support.sink import SmtpSink
from tests.support.suppressions import BAD, BLOCKED, GONE, OK, mail


def bounce_some(scaisend: ScaisendServer, token: str, key: str, sink: SmtpSink) -> None:
    sink.reject.update(
        {
            GONE: "550 5.1.1 no such user",
            "gone2@example.com": "550 5.1.1 no such user",
            BAD: "550 5.1.2 no such domain",
            BLOCKED: "554 5.7.1 blocked",
        }
    )
    response = post_send(scaisend, key, mail([GONE, "gone2@example.com", BAD, BLOCKED, OK]))
    assert response.status_code == 202, response.text
    wait_for_status(scaisend, key, response.json()["message_id"], "delivered")
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if len(admin(scaisend, token, "GET", "/v3/suppression/bounces").json()) == 2:
            return
        time.sleep(0.1)
    raise AssertionError("the bounces never reached the list")


def test_suppression_lists(scaisend: ScaisendServer, dns_server: DnsServer, sink: SmtpSink) -> None:
    token, key = account_with_key(scaisend, dns_server)
    other = scaisend.token("other")
    bounce_some(scaisend, token, key, sink)

    bounces = admin(scaisend, token, "GET", "/v3/suppression/bounces").json()
    assert sorted(b["email"] for b in bounces) == sorted([GONE, "gone2@example.com"])
    assert set(bounces[0]) == {"created", "email", "reason", "status"}
    assert isinstance(bounces[0]["created"], int) and bounces[0]["status"] == "5.1.1"
    created = bounces[0]["created"]
    window = f"?start_time={created - 60}&end_time={created + 60}"
    assert len(admin(scaisend, token, "GET", "/v3/suppression/bounces" + window).json()) == 2
    future = f"?start_time={created + 3600}"
    assert admin(scaisend, token, "GET", "/v3/suppression/bounces" + future).json() == []
    page = admin(scaisend, token, "GET", "/v3/suppression/bounces?limit=1&offset=1").json()
    assert len(page) == 1
    assert admin(scaisend, token, "GET", "/v3/suppression/bounces?limit=x").status_code == 400
    searched = admin(scaisend, token, "GET", "/v3/suppression/bounces?email=GONE2@").json()
    assert [b["email"] for b in searched] == ["gone2@example.com"]  # the addresses containing it

    one = admin(scaisend, token, "GET", f"/v3/suppression/bounces/{GONE.upper()}")
    assert one.status_code == 200 and [b["email"] for b in one.json()] == [GONE]
    invalid = admin(scaisend, token, "GET", "/v3/suppression/invalid_emails").json()
    assert [(i["email"], set(i)) for i in invalid] == [(BAD, {"created", "email", "reason"})]
    blocks = admin(scaisend, token, "GET", "/v3/suppression/blocks").json()
    assert [b["email"] for b in blocks] == [BLOCKED] and blocks[0]["status"] == "5.7.1"
    assert admin(scaisend, token, "GET", "/v3/suppression/spam_reports").json() == []

    # Another account sees none of it and cannot remove it.
    for name in ("bounces", "blocks", "invalid_emails"):
        assert admin(scaisend, other, "GET", f"/v3/suppression/{name}").json() == []
    assert admin(scaisend, other, "GET", f"/v3/suppression/bounces/{GONE}").json() == []
    assert admin(scaisend, other, "DELETE", f"/v3/suppression/bounces/{GONE}").status_code == 404
    assert admin(scaisend, other, "GET", f"/v3/suppression/why/{GONE}").json() == []
    cleared = admin(scaisend, other, "DELETE", "/v3/suppression/bounces", {"delete_all": True})
    assert cleared.status_code == 204

    why = admin(scaisend, token, "GET", f"/v3/suppression/why/{GONE}").json()
    assert [(w["list"], w["source"], w["event"]["type"]) for w in why] == [
        ("bounces", "event", "bounce")
    ]

    # Deleting: one address, a list of addresses, everything.
    assert admin(scaisend, token, "DELETE", f"/v3/suppression/bounces/{GONE}").status_code == 204
    assert admin(scaisend, token, "DELETE", f"/v3/suppression/bounces/{GONE}").status_code == 404
    assert admin(scaisend, token, "DELETE", "/v3/suppression/bounces", {}).status_code == 400
    body = {"emails": ["gone2@example.com"]}
    assert admin(scaisend, token, "DELETE", "/v3/suppression/bounces", body).status_code == 204
    assert admin(scaisend, token, "GET", "/v3/suppression/bounces").json() == []
    everything = {"delete_all": True}
    assert admin(scaisend, token, "DELETE", "/v3/suppression/blocks", everything).status_code == 204
    assert admin(scaisend, token, "GET", "/v3/suppression/blocks").json() == []
    assert (
        admin(scaisend, token, "DELETE", f"/v3/suppression/invalid_emails/{BAD}").status_code == 204
    )
    spam = admin(scaisend, token, "DELETE", "/v3/suppression/spam_reports", everything)
    assert spam.status_code == 204

    # Scopes: a key that may read bounces may not delete them, nor read blocks.
    reader = admin(
        scaisend,
        token,
        "POST",
        "/v3/api_keys",
        {"name": "reader", "scopes": ["suppression.bounces.read"]},
    ).json()["api_key"]
    assert admin(scaisend, reader, "GET", "/v3/suppression/bounces").status_code == 200
    denied = admin(scaisend, reader, "DELETE", "/v3/suppression/bounces", everything)
    assert denied.status_code == 403
    assert "suppression.bounces.delete" in denied.json()["errors"][0]["message"]
    assert admin(scaisend, reader, "GET", "/v3/suppression/blocks").status_code == 403
    assert admin(scaisend, reader, "GET", f"/v3/suppression/why/{GONE}").status_code == 403


def test_global_unsubscribes_and_groups(scaisend: ScaisendServer) -> None:
    token, other = scaisend.token(), scaisend.token("other")
    emails = {"recipient_emails": ["A@x.io", "b@x.io"]}
    added = admin(scaisend, token, "POST", "/v3/asm/suppressions/global", emails)
    assert added.status_code == 201 and added.json() == {"recipient_emails": ["a@x.io", "b@x.io"]}
    bad = admin(scaisend, token, "POST", "/v3/asm/suppressions/global", {"recipient_emails": ["x"]})
    assert bad.status_code == 400
    assert admin(scaisend, token, "GET", "/v3/asm/suppressions/global/a@x.io").json() == {
        "recipient_email": "a@x.io"
    }
    assert admin(scaisend, other, "GET", "/v3/asm/suppressions/global/a@x.io").json() == {}
    unsubscribes = admin(scaisend, token, "GET", "/v3/suppression/unsubscribes").json()
    assert sorted(u["email"] for u in unsubscribes) == ["a@x.io", "b@x.io"]
    assert set(unsubscribes[0]) == {"created", "email"}
    assert admin(scaisend, other, "GET", "/v3/suppression/unsubscribes").json() == []
    why = admin(scaisend, token, "GET", "/v3/suppression/why/b@x.io").json()
    assert [(w["list"], w["source"], w["event"]) for w in why] == [("unsubscribes", "api", None)]
    assert admin(scaisend, other, "DELETE", "/v3/asm/suppressions/global/a@x.io").status_code == 404
    assert admin(scaisend, token, "DELETE", "/v3/asm/suppressions/global/a@x.io").status_code == 204
    assert admin(scaisend, token, "GET", "/v3/asm/suppressions/global/a@x.io").json() == {}

    news = admin(scaisend, token, "POST", "/v3/asm/groups", {"name": "News", "is_default": True})
    assert news.status_code == 201, news.text
    assert set(news.json()) >= {"id", "name", "description", "is_default"}
    group = news.json()["id"]
    tips = admin(scaisend, token, "POST", "/v3/asm/groups", {"name": "Tips", "description": "t"})
    duplicate = admin(scaisend, token, "POST", "/v3/asm/groups", {"name": "News"})
    assert duplicate.status_code == 400
    base = f"/v3/asm/groups/{group}"
    changed = admin(scaisend, token, "PATCH", base, {"id": group, "description": "Weekly"})
    assert changed.status_code == 201 and changed.json()["description"] == "Weekly"
    path = base + "/suppressions"
    added = admin(scaisend, token, "POST", path, {"recipient_emails": ["c@x.io", "d@x.io"]})
    assert added.status_code == 201 and added.json() == {"recipient_emails": ["c@x.io", "d@x.io"]}
    assert admin(scaisend, token, "GET", path).json() == ["c@x.io", "d@x.io"]
    found = admin(
        scaisend, token, "POST", path + "/search", {"recipient_emails": ["d@x.io", "z@x.io"]}
    )
    assert found.status_code == 200 and found.json() == ["d@x.io"]
    listed = admin(scaisend, token, "GET", "/v3/asm/groups").json()
    assert [(g["name"], g["is_default"], g["unsubscribes"]) for g in listed] == [
        ("News", True, 2),
        ("Tips", False, 0),
    ]
    only = admin(scaisend, token, "GET", f"/v3/asm/groups?id={tips.json()['id']}").json()
    assert [g["name"] for g in only] == ["Tips"]
    assert admin(scaisend, token, "GET", base).json()["unsubscribes"] == 2
    everything = admin(scaisend, token, "GET", "/v3/asm/suppressions").json()
    assert everything == [
        {
            "email": e,
            "group_id": group,
            "group_name": "News",
            "created_at": everything[i]["created_at"],
        }
        for i, e in enumerate(["c@x.io", "d@x.io"])
    ]
    statuses = admin(scaisend, token, "GET", "/v3/asm/suppressions/c@x.io").json()["suppressions"]
    assert [(s["name"], s["suppressed"]) for s in statuses] == [("News", True), ("Tips", False)]
    assert admin(scaisend, token, "DELETE", path + "/c@x.io").status_code == 204
    assert admin(scaisend, token, "DELETE", path + "/c@x.io").status_code == 404
    assert admin(scaisend, token, "GET", path).json() == ["d@x.io"]

    # Another account: no such group, nothing listed; what it adds to "our" group id goes to
    # its own global list, as SendGrid does for a group that does not exist.
    for method in ("GET", "DELETE"):
        assert admin(scaisend, other, method, base).status_code == 404
    assert admin(scaisend, other, "PATCH", base, {"name": "Mine"}).status_code == 404
    assert admin(scaisend, other, "GET", path).status_code == 404
    assert admin(scaisend, other, "DELETE", path + "/d@x.io").status_code == 404
    assert admin(scaisend, other, "GET", "/v3/asm/groups").json() == []
    assert admin(scaisend, other, "GET", "/v3/asm/suppressions").json() == []
    assert admin(scaisend, other, "GET", "/v3/asm/suppressions/d@x.io").json() == {
        "suppressions": []
    }
    theirs = admin(scaisend, other, "POST", path, {"recipient_emails": ["e@x.io"]})
    assert theirs.status_code == 201
    assert admin(scaisend, other, "GET", "/v3/asm/suppressions/global/e@x.io").json() == {
        "recipient_email": "e@x.io"
    }
    assert admin(scaisend, token, "GET", path).json() == ["d@x.io"]
    assert admin(scaisend, token, "GET", "/v3/asm/groups/abc").status_code == 404

    assert admin(scaisend, token, "DELETE", base).status_code == 204
    assert admin(scaisend, token, "GET", base).status_code == 404
    assert admin(scaisend, token, "GET", "/v3/asm/suppressions").json() == []

    groups_reader = admin(
        scaisend, token, "POST", "/v3/api_keys", {"name": "g", "scopes": ["asm.groups.read"]}
    ).json()["api_key"]
    assert admin(scaisend, groups_reader, "GET", "/v3/asm/groups").status_code == 200
    assert (
        admin(scaisend, groups_reader, "POST", "/v3/asm/groups", {"name": "X"}).status_code == 403
    )
    denied = admin(scaisend, groups_reader, "POST", "/v3/asm/suppressions/global", emails)
    assert denied.status_code == 403
    assert "asm.suppressions.global.create" in denied.json()["errors"][0]["message"]
