"""Bounded work per request against a real server: a hostile dynamic template is rendered
off the event loop (`/healthz` and another account's send are answered while it runs) and
is refused with 400 naming the template, its version and the limit."""

from __future__ import annotations

import asyncio
import base64
import re
from typing import Any

import httpx

from tests.support.api import admin, new_key
from tests.support.server import ScaisendServer
from tests.support.servers import ServerFactory

# Four nested loops over 100 items: 10^8 iterations, hours of work unbounded.
HOSTILE = (
    "{{#each a}}{{#each ../a}}{{#each ../../a}}{{#each ../../../a}}"
    "<p>{{this}}</p>{{/each}}{{/each}}{{/each}}{{/each}}"
)
DEADLINE = 6.0


def account(server: ScaisendServer, name: str) -> str:
    """A test key of account `name` whose (unverified) domain is `<name>.example.com`."""
    token = server.token(name)
    body = {"domain": f"{name}.example.com"}
    created = admin(server, token, "POST", "/api/admin/domains", body)
    assert created.status_code == 201, created.text
    return new_key(server, token, ["mail.send"], env="test")


def dynamic_template(server: ScaisendServer, name: str, html: str) -> tuple[str, str]:
    token = server.token(name)
    made = admin(server, token, "POST", "/v3/templates", {"name": "t", "generation": "dynamic"})
    assert made.status_code == 201, made.text
    tid = made.json()["id"]
    body = {"name": "v1", "subject": "Hi", "html_content": html, "active": 1}
    version = admin(server, token, "POST", f"/v3/templates/{tid}/versions", body)
    assert version.status_code == 201, version.text
    return tid, version.json()["id"]


def sandbox_send(name: str, **extra: Any) -> dict[str, Any]:
    return {
        "personalizations": [{"to": [{"email": "ada@example.net"}], **extra}],
        "from": {"email": f"hello@{name}.example.com"},
        "subject": "Hello",
        "content": [{"type": "text/plain", "value": "Hello"}],
        "mail_settings": {"sandbox_mode": {"enable": True}},
    }


async def race(server: ScaisendServer, hostile: dict[str, Any], keys: tuple[str, str]) -> Any:
    """The hostile send, and while it renders /healthz and the other account's send."""
    async with httpx.AsyncClient(base_url=server.base_url, timeout=60) as client:
        slow = asyncio.create_task(
            client.post("/v3/mail/send", json=hostile, headers=bearer(keys[0]))
        )
        await asyncio.sleep(DEADLINE / 4)  # the render has started: it lasts DEADLINE
        health = await client.get("/healthz")
        health_done_before = not slow.done()
        other = await client.post(
            "/v3/mail/send", json=sandbox_send("other"), headers=bearer(keys[1])
        )
        other_done_before = not slow.done()
        return health, health_done_before, other, other_done_before, await slow


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_a_hostile_template_neither_stalls_the_server_nor_renders(
    make_server: ServerFactory,
) -> None:
    # only the deadline can stop this render: the test sees it run for DEADLINE seconds
    limits = {"max_steps": 10**12, "max_output_bytes": 10**12, "max_seconds": DEADLINE}
    server = make_server({"templates": limits})
    keys = account(server, "mallory"), account(server, "other")
    tid, vid = dynamic_template(server, "mallory", HOSTILE)
    data = {"a": list(range(100))}
    hostile = dict(sandbox_send("mallory", dynamic_template_data=data), template_id=tid)

    health, health_first, other, other_first, slow = asyncio.run(race(server, hostile, keys))
    assert health.status_code == 200 and health_first
    assert other.status_code == 200 and other_first, other.text
    assert slow.status_code == 400
    [error] = slow.json()["errors"]
    assert error["field"] == "template_id"
    assert f"template {tid} version {vid} plain_content" in error["message"]
    assert "max_seconds" in error["message"]


def test_a_request_stops_building_at_its_total_deadline(make_server: ServerFactory) -> None:
    # each personalization renders well within its own budget; together they would take
    # about 1,000 times 0.05 s = 50 s, and the request's total deadline stops them
    server = make_server({"http": {"max_send_build_seconds": 2.0}})
    key = account(server, "mallory")
    tid, _vid = dynamic_template(
        server, "mallory", "{{#each a}}{{#each ../a}}{{this}}{{/each}}{{/each}}"
    )
    data = {"a": list(range(100))}
    body = sandbox_send("mallory")
    body["personalizations"] = [
        {"to": [{"email": f"u{i}@example.net"}], "dynamic_template_data": data} for i in range(1000)
    ]
    body["template_id"] = tid

    answer = httpx.post(
        f"{server.base_url}/v3/mail/send", json=body, headers=bearer(key), timeout=60
    )

    assert answer.status_code == 400, answer.text
    [error] = answer.json()["errors"]
    assert "took more than 2 s" in error["message"]
    stopped_at = int(error["field"].removeprefix("personalizations."))
    assert 0 < stopped_at < 999
    assert "max_send_build_seconds" in error["help"]


def test_a_request_that_would_build_too_many_bytes_is_refused_before_building(
    make_server: ServerFactory,
) -> None:
    server = make_server({"http": {"max_send_build_bytes": 1_048_576}})
    key = account(server, "mallory")
    attachment = {"content": base64.b64encode(b"x" * 100_000).decode(), "filename": "a.txt"}
    body = dict(sandbox_send("mallory"), attachments=[attachment])
    body["personalizations"] = [{"to": [{"email": f"u{i}@example.net"}]} for i in range(8)]
    url = f"{server.base_url}/v3/mail/send"

    refused = httpx.post(url, json=body, headers=bearer(key), timeout=60)
    body["personalizations"] = body["personalizations"][:7]
    accepted = httpx.post(url, json=body, headers=bearer(key), timeout=60)

    assert refused.status_code == 400, refused.text
    [error] = refused.json()["errors"]
    assert error["field"] == "personalizations"
    assert "over 1 MiB (8 personalizations" in error["message"]
    assert accepted.status_code == 200, accepted.text  # 7 of 133 KB of base64 fit


def test_templates_that_grow_the_messages_stop_at_the_byte_limit(
    make_server: ServerFactory,
) -> None:
    # the request itself is small; what each render writes is what passes the limit
    server = make_server({"http": {"max_send_build_bytes": 1_048_576}})
    key = account(server, "mallory")
    tid, _vid = dynamic_template(server, "mallory", "{{#each a}}{{../text}}{{/each}}")
    data = {"a": list(range(100)), "text": "y" * 3_000}  # 300 KB of html each
    body = dict(sandbox_send("mallory"), template_id=tid)
    body["personalizations"] = [
        {"to": [{"email": f"u{i}@example.net"}], "dynamic_template_data": data} for i in range(10)
    ]

    answer = httpx.post(
        f"{server.base_url}/v3/mail/send", json=body, headers=bearer(key), timeout=60
    )

    assert answer.status_code == 400, answer.text
    [error] = answer.json()["errors"]
    assert error["field"] == "personalizations"
    built = re.search(r"the messages of personalizations 0 to (\d+)\)", error["message"])
    assert built is not None, error["message"]
    assert 0 < int(built[1]) < 9  # stopped when the messages so far passed 1 MiB
