"""Every 401 keeps SendGrid's message and says in `help` which case it is (no header, not
Bearer, unknown key, revoked key, expired token, bad signature), over HTTP against a server
with two accounts, without telling one account anything about the other's keys."""

from __future__ import annotations

import time
from typing import Any

import httpx
import jwt
import pytest

from control.auth import NO_HEADER_HELP, NOT_BEARER_HELP
from mta.services.api_keys import REVOKED_KEY_HELP, UNKNOWN_KEY_HELP
from mta.services.identity import BAD_SIGNATURE_HELP, EXPIRED_TOKEN_HELP, INVALID_GRANT
from tests.support.api import admin, new_key
from tests.support.raw_smtp import insecure_tls
from tests.support.server import ScaisendServer


def refusal(server: ScaisendServer, authorization: str | None, path: str) -> dict[str, Any]:
    headers = {} if authorization is None else {"Authorization": authorization}
    response = httpx.get(f"{server.base_url}{path}", headers=headers, timeout=30)
    assert response.status_code == 401, (authorization, response.text)
    (error,) = response.json()["errors"]
    assert (error["message"], error["field"]) == (INVALID_GRANT, None)  # SendGrid's
    return dict(error)


def test_each_401_says_which_case_it_is(scaisend: ScaisendServer) -> None:
    acme, other = scaisend.token("acme"), scaisend.token("globex")
    acme_key = new_key(scaisend, acme, ["mail.send"])
    other_key = new_key(scaisend, other, ["mail.send"])
    other_id = other_key.split(".")[1]
    assert admin(scaisend, other, "DELETE", f"/v3/api_keys/{other_id}").status_code == 204
    secret = (scaisend.workdir / "var" / "jwt_secret").read_text().strip()
    claims = jwt.decode(acme, secret, algorithms=["HS256"])
    expired = jwt.encode({**claims, "exp": int(time.time()) - 1}, secret, algorithm="HS256")
    forged = jwt.encode(claims, "another secret of 32 bytes or more", algorithm="HS256")
    cases = {
        None: NO_HEADER_HELP,
        "Basic YXBpa2V5Og==": NOT_BEARER_HELP,
        f"Token {acme_key}": NOT_BEARER_HELP,
        "Bearer": NOT_BEARER_HELP,
        "Bearer SS.nokey.nosecret": UNKNOWN_KEY_HELP,
        "Bearer not-a-key": UNKNOWN_KEY_HELP,
        f"Bearer {acme_key[:-2]}xx": UNKNOWN_KEY_HELP,  # a known id, not its secret
        f"Bearer SS.{other_id}.guessed": UNKNOWN_KEY_HELP,  # revoked, but not shown to a guess
        f"Bearer {other_key}": REVOKED_KEY_HELP,
        f"Bearer {expired}": EXPIRED_TOKEN_HELP,
        f"Bearer {forged}": BAD_SIGNATURE_HELP,
    }
    for authorization, expected in cases.items():
        for path in ("/v3/scopes", "/api/admin/domains"):
            if path.startswith("/api") and expected in (UNKNOWN_KEY_HELP, REVOKED_KEY_HELP):
                continue  # what is not a JWT at /api/admin is a 403, whatever the key
            error = refusal(scaisend, authorization, path)
            assert error["help"] == expected, (authorization, path)
            for secret_part in (acme_key, other_id, "acme", "globex", secret):
                assert secret_part not in error["help"]
    assert len(set(cases.values())) == 6
    assert httpx.get(
        f"{scaisend.base_url}/v3/scopes", headers={"Authorization": f"Bearer {acme_key}"}
    ).json() == {"scopes": ["mail.send"]}


def test_smtp_auth_refusals_keep_their_reply(scaisend: ScaisendServer) -> None:
    import smtplib

    token = scaisend.token("acme")
    key = new_key(scaisend, token, ["mail.send"])
    key_id = key.split(".")[1]
    assert admin(scaisend, token, "DELETE", f"/v3/api_keys/{key_id}").status_code == 204
    with smtplib.SMTP_SSL(
        "127.0.0.1", scaisend.smtps_port, timeout=30, context=insecure_tls()
    ) as client:
        client.ehlo()
        for password in (key, "SS.nokey.nosecret"):
            client.user, client.password = "apikey", password
            with pytest.raises(smtplib.SMTPAuthenticationError) as failure:
                client.auth("PLAIN", client.auth_plain)
            assert failure.value.smtp_code == 535
            assert failure.value.smtp_error.startswith(b"5.7.8")
