"""Schemathesis against a real server's /openapi.json: no 5xx, and every response matches the
document (status, content type, headers, body). /v3 runs with a test key holding every scope
(nothing leaves the machine), /api/admin with the JWT. A deeper run:
SCAISEND_SCHEMATHESIS_EXAMPLES=200 .venv/bin/python -m pytest tests/integration/test_schemathesis.py
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from mta.services.scopes import ALL_SCOPES
from tests.support.server import ScaisendServer

CHECKS = ",".join(
    [
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_headers_conformance",
        "response_schema_conformance",
    ]
)
EXAMPLES = os.environ.get("SCAISEND_SCHEMATHESIS_EXAMPLES", "15")
SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")


@pytest.fixture(scope="module")
def server(make_module_server: Callable[..., ScaisendServer]) -> ScaisendServer:
    # Every message goes to a closed local port and no name resolves: nothing leaves. Look-ups
    # fail fast: the documented example domain lets the stateful phase verify a real domain
    # again and again, and each verify waits out its DNS queries (2 s each by default here).
    return make_module_server(
        {"delivery": {"routes": {"*": "127.0.0.1:9"}}, "dns": {"timeout_seconds": 0.05}}
    )


def schemathesis(server: ScaisendServer, credential: str, *filters: str) -> None:
    command = [
        str(SCHEMATHESIS),
        "run",
        f"{server.base_url}/openapi.json",
        "--header",
        f"Authorization: Bearer {credential}",
        "--checks",
        CHECKS,
        "--max-examples",
        EXAMPLES,
        "--seed",
        "20261128",
        "--generation-database",
        "none",
        # One worker: CPython 3.11's ast is not thread-safe, and hypothesis parses lambda
        # sources while describing strategies ("AST constructor recursion depth mismatch").
        "--workers",
        "1",
        "--no-color",
        *filters,
    ]
    result = subprocess.run(
        command, capture_output=True, text=True, timeout=300, cwd=server.workdir
    )
    tail = result.stdout[-8000:] + result.stderr[-2000:]
    assert result.returncode == 0, tail
    assert " passed" in result.stdout, tail
    assert "Operations:" in result.stdout and " 0 selected" not in result.stdout, tail
    assert "Traceback" not in server.log(), server.log()[-4000:]


@pytest.mark.skipif(not SCHEMATHESIS.exists(), reason="schemathesis is a dev dependency")
def test_the_api_keeps_to_its_openapi_document(server: ScaisendServer) -> None:
    token = server.token()
    body = {"name": "fuzz", "environment": "test", "scopes": list(ALL_SCOPES)}
    created = httpx.post(
        f"{server.base_url}/v3/api_keys",
        json=body,
        headers={"Authorization": f"Bearer {token}"},
    )
    assert created.status_code == 201, created.text
    # Creating a webhook would point deliveries at whatever URL the fuzzer invents.
    document = httpx.get(f"{server.base_url}/openapi.json").json()
    webhook_create = document["paths"]["/v3/user/webhooks"]["post"]["operationId"]
    schemathesis(
        server,
        created.json()["api_key"],
        "--include-path-regex",
        "^/v3/",
        "--exclude-operation-id",
        webhook_create,
    )
    schemathesis(server, token, "--include-path-regex", "^/api/admin/")
