"""The API at its edges, against a real server: X-RateLimit-* on every /v3 response, 429 with
Retry-After per key (bad tokens spend the address's budget, not a key's), 413 by
Content-Length and while streaming chunks, gzip (and a gzip bomb), hostile JSON, 404/405 in
SendGrid's shape, and `GET /v3/scopes`."""

from __future__ import annotations

import gzip
import socket
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from mta.services.scopes import ALL_SCOPES
from tests.support.api import new_key
from tests.support.server import ScaisendServer

LIMIT = 300_000


@pytest.fixture(scope="module")
def edge(make_module_server: Callable[..., ScaisendServer]) -> ScaisendServer:
    # Nothing is delivered here: a dead nameserver and port keep every message local.
    return make_module_server({"http": {"max_body_bytes": LIMIT}})


@pytest.fixture(scope="module")
def jwt(edge: ScaisendServer) -> str:
    return edge.token()


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def assert_sendgrid_error(response: httpx.Response, status: int) -> str:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    (error,) = response.json()["errors"]
    assert set(error) == {"message", "field", "help"} and error["message"]
    return str(error["message"])


def test_every_v3_response_carries_the_rate_limit_headers(edge: ScaisendServer, jwt: str) -> None:
    url = edge.base_url
    responses = [
        httpx.get(f"{url}/v3/scopes", headers=bearer(jwt)),
        httpx.get(f"{url}/v3/scopes"),
        httpx.get(f"{url}/v3/no-such-thing", headers=bearer(jwt)),
        httpx.put(f"{url}/v3/scopes", headers=bearer(jwt)),
        httpx.post(f"{url}/v3/mail/send", headers=bearer(jwt), content=b"{"),
    ]
    assert [r.status_code for r in responses] == [200, 401, 404, 405, 400]
    now = time.time()
    for response in responses:
        assert int(response.headers["X-RateLimit-Limit"]) == 1200
        assert 0 <= int(response.headers["X-RateLimit-Remaining"]) < 1200
        assert now - 5 <= int(response.headers["X-RateLimit-Reset"]) <= now + 5
    assert "X-RateLimit-Limit" not in httpx.get(f"{url}/api/admin/domains").headers


def test_404_and_405_are_sendgrid_shaped(edge: ScaisendServer, jwt: str) -> None:
    missing = httpx.get(f"{edge.base_url}/v3/no-such-thing", headers=bearer(jwt))
    assert assert_sendgrid_error(missing, 404) == "resource not found"
    assert_sendgrid_error(httpx.get(f"{edge.base_url}/api/admin/nothing"), 404)
    wrong = httpx.delete(f"{edge.base_url}/v3/mail/send", headers=bearer(jwt))
    assert assert_sendgrid_error(wrong, 405) == "method not allowed"
    assert "POST" in wrong.headers["allow"]
    unauthenticated = httpx.get(f"{edge.base_url}/v3/messages")
    assert "authorization grant" in assert_sendgrid_error(unauthenticated, 401)


def test_scopes_lists_what_the_caller_holds(edge: ScaisendServer, jwt: str) -> None:
    everything = httpx.get(f"{edge.base_url}/v3/scopes", headers=bearer(jwt)).json()
    assert everything == {"scopes": list(ALL_SCOPES)}
    key = new_key(edge, jwt, ["mail.send", "templates.read"])
    mine = httpx.get(f"{edge.base_url}/v3/scopes", headers=bearer(key)).json()
    assert mine == {"scopes": ["mail.send", "templates.read"]}


def test_a_key_cannot_grant_what_it_lacks(edge: ScaisendServer, jwt: str) -> None:
    minter = new_key(edge, jwt, ["api_keys.create", "mail.send"])
    url = f"{edge.base_url}/v3/api_keys"

    def create(scopes: list[str], env: str = "live", key: str = minter) -> httpx.Response:
        body = {"name": "child", "environment": env, "scopes": scopes}
        return httpx.post(url, headers=bearer(key), json=body)

    assert create(["mail.send"]).status_code == 201
    assert "templates.read" in assert_sendgrid_error(create(["mail.send", "templates.read"]), 403)
    assert "api_keys.delete" in assert_sendgrid_error(create(["api_keys.delete"]), 403)
    assert_sendgrid_error(create(["no.such.scope"]), 400)
    test_minter = new_key(edge, jwt, ["api_keys.create", "mail.send"], env="test")
    assert_sendgrid_error(create(["mail.send"], "live", test_minter), 403)
    assert create(["mail.send"], "test", test_minter).status_code == 201


def test_a_key_cannot_raise_scopes_by_updating(edge: ScaisendServer, jwt: str) -> None:
    editor = new_key(edge, jwt, ["api_keys.update", "api_keys.read", "mail.send"])
    key_id = editor.split(".")[1]  # SS.<key id>.<secret>
    url = f"{edge.base_url}/v3/api_keys/{key_id}"
    more = {"name": "me", "scopes": ["api_keys.update", "mail.send", "stats.read"]}
    assert "stats.read" in assert_sendgrid_error(
        httpx.put(url, headers=bearer(editor), json=more), 403
    )
    assert httpx.get(f"{edge.base_url}/v3/scopes", headers=bearer(editor)).json() == {
        "scopes": ["api_keys.read", "api_keys.update", "mail.send"]
    }
    fewer = {"name": "me", "scopes": ["api_keys.read", "api_keys.update"]}
    changed = httpx.put(url, headers=bearer(editor), json=fewer)
    assert changed.status_code == 200 and changed.json()["scopes"] == fewer["scopes"]
    assert httpx.get(f"{edge.base_url}/v3/scopes", headers=bearer(editor)).json() == {
        "scopes": ["api_keys.read", "api_keys.update"]
    }
    renamed = httpx.patch(url, headers=bearer(editor), json={"name": "renamed"})
    assert renamed.json() == {"api_key_id": key_id, "name": "renamed"}
    assert httpx.get(url, headers=bearer(editor)).json()["result"][0]["name"] == "renamed"
    assert_sendgrid_error(
        httpx.put(url, headers=bearer(jwt), json={"name": "x", "scopes": ["no.such"]}), 400
    )
    assert httpx.put(url, headers=bearer(jwt), json=more).status_code == 200  # a JWT may


def raw_exchange(server: ScaisendServer, head: bytes, chunks: list[bytes]) -> bytes:
    """Send a request head and some body bytes, then read whatever the server answers."""
    with socket.create_connection(("127.0.0.1", server.http_port), timeout=10) as sock:
        sock.sendall(head)
        for chunk in chunks:
            sock.sendall(chunk)
        answer = b""
        while b"\r\n\r\n" not in answer or not answer.rstrip().endswith(b"}"):
            data = sock.recv(65536)
            if not data:
                break
            answer += data
    return answer


def post_head(key: str, *headers: str) -> bytes:
    lines = ["POST /v3/mail/send HTTP/1.1", "Host: localhost", f"Authorization: Bearer {key}"]
    return ("\r\n".join([*lines, *headers]) + "\r\n\r\n").encode()


def test_413_from_content_length_before_the_body_arrives(edge: ScaisendServer, jwt: str) -> None:
    key = new_key(edge, jwt, ["mail.send"])
    started = time.monotonic()
    answer = raw_exchange(edge, post_head(key, "Content-Length: 1000000000"), [])
    assert answer.startswith(b"HTTP/1.1 413 "), answer[:200]
    assert b'"message":"The request body is larger than the limit of 300000 bytes."' in answer
    assert time.monotonic() - started < 5


def test_413_while_streaming_a_chunked_body(edge: ScaisendServer, jwt: str) -> None:
    key = new_key(edge, jwt, ["mail.send"])
    chunk = b"%x\r\n%s\r\n" % (10_000, b" " * 10_000)
    # 40 chunks, 400 KB, and no final chunk: the answer must not wait for the end.
    answer = raw_exchange(edge, post_head(key, "Transfer-Encoding: chunked"), [chunk] * 40)
    assert answer.startswith(b"HTTP/1.1 413 "), answer[:200]
    assert b"larger than the limit" in answer


def mail(**extra: Any) -> dict[str, Any]:
    return {
        "personalizations": [{"to": [{"email": "ada@example.com"}]}],
        "from": {"email": "hello@mail.example.com"},
        "subject": "Hi",
        "content": [{"type": "text/plain", "value": "Hello"}],
        **extra,
    }


def test_gzip_bodies_are_inflated_within_the_limit(edge: ScaisendServer, jwt: str) -> None:
    url = f"{edge.base_url}/v3/api_keys"
    headers = {**bearer(jwt), "Content-Encoding": "gzip", "Content-Type": "application/json"}
    body = gzip.compress(b'{"name": "zipped", "scopes": ["mail.send"]}')
    assert httpx.post(url, headers=headers, content=body).status_code == 201
    bomb = gzip.compress(b"[" + b" " * 50_000_000 + b"]", compresslevel=9)
    assert len(bomb) < LIMIT  # small on the wire, 50 MB inflated
    message = assert_sendgrid_error(httpx.post(url, headers=headers, content=bomb), 413)
    assert "larger than the limit" in message
    assert_sendgrid_error(httpx.post(url, headers=headers, content=b"not gzip"), 400)
    assert_sendgrid_error(httpx.post(url, headers=headers, content=body[:-8]), 400)
    brotli = {**headers, "Content-Encoding": "br"}
    assert_sendgrid_error(httpx.post(url, headers=brotli, content=body), 415)


NESTED = b"[" * 100_000 + b"]" * 100_000


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (b"{", "not valid JSON"),
        (b'{"personalizations": [}', "not valid JSON"),
        (b"[1, 2]", "Expected `object`"),
        (
            b'{"personalizations": [{"to": [{"email": "a@example.com"}], '
            b'"dynamic_template_data": {"x": ' + NESTED + b"}}]}",
            "nests JSON too deeply",
        ),
        (b'{"personalizations": [{"dynamic_template_data": {"n": ' + b"9" * 5000 + b"}}]}", ""),
        (b'{"personalizations": [], "subject": NaN}', "not valid JSON"),
        (b'{"personalizations": [], "subject": Infinity}', "not valid JSON"),
        (b'{"personalizations": [], "subject": 1e999}', ""),
        (b'{"personalizations": [], "subject": "\xff\xfe"}', "not valid UTF-8"),
        (b'{"personalizations": [], "subject": "\\ud800"}', ""),
        (b'{"personalizations": [], "surprise": 1}', "Unknown field 'surprise'"),
    ],
)
def test_hostile_json_is_a_400(edge: ScaisendServer, jwt: str, body: bytes, says: str) -> None:
    response = httpx.post(f"{edge.base_url}/v3/mail/send", headers=bearer(jwt), content=body)
    assert says in assert_sendgrid_error(response, 400)
    assert httpx.get(f"{edge.base_url}/v3/scopes", headers=bearer(jwt)).status_code == 200


@pytest.mark.parametrize(
    ("method", "path", "body", "field"),
    [
        ("GET", "/v3/templates/a%00b", None, "url"),
        ("GET", "/v3/messages?query=subject%3D%22a%00%22", None, "url"),
        ("POST", "/v3/templates", {"name": "a\x00", "generation": "dynamic"}, "name"),
        ("POST", "/v3/api_keys", {"name": "k\x00"}, "name"),
    ],
)
def test_nul_in_text_is_a_400_naming_the_field(
    edge: ScaisendServer, jwt: str, method: str, path: str, body: Any, field: str
) -> None:
    """PostgreSQL's text cannot hold NUL: without the check these were 500s there."""
    response = httpx.request(method, edge.base_url + path, headers=bearer(jwt), json=body)
    assert "NUL" in assert_sendgrid_error(response, 400)
    assert response.json()["errors"][0]["field"] == field


@pytest.fixture(scope="module")
def tight(make_module_server: Callable[..., ScaisendServer]) -> ScaisendServer:
    return make_module_server({"http": {"rate_limit_per_second": 1.0, "rate_limit_burst": 3}})


def test_429_per_key_with_retry_after(tight: ScaisendServer) -> None:
    token = tight.token()
    first, second = new_key(tight, token, []), new_key(tight, token, [])
    url = f"{tight.base_url}/v3/scopes"
    seen = [httpx.get(url, headers=bearer(first)) for _ in range(4)]
    assert [r.status_code for r in seen] == [200, 200, 200, 429]
    assert [r.headers["X-RateLimit-Remaining"] for r in seen] == ["2", "1", "0", "0"]
    refused = seen[-1]
    assert assert_sendgrid_error(refused, 429) == "too many requests"
    assert refused.headers["Retry-After"] == "1"
    assert refused.headers["X-RateLimit-Limit"] == "3"
    assert int(refused.headers["X-RateLimit-Reset"]) >= int(time.time())
    assert httpx.get(url, headers=bearer(second)).status_code == 200  # its own bucket
    time.sleep(1.1)
    assert httpx.get(url, headers=bearer(first)).status_code == 200


def test_bad_tokens_spend_the_address_budget_not_a_keys(tight: ScaisendServer) -> None:
    token = tight.token()
    key = new_key(tight, token, [])
    url = f"{tight.base_url}/v3/scopes"
    forged = [httpx.get(url, headers=bearer(key + "x")) for _ in range(5)]
    assert [r.status_code for r in forged][-1] == 429
    assert {r.status_code for r in forged} <= {401, 429}
    assert httpx.get(url, headers=bearer(key)).status_code == 200
