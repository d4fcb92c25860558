"""Users and sessions against a real server, with two accounts: `scaisend user` reads the
password from stdin; `POST /api/session` signs in (the cookie HttpOnly, SameSite=Lax); the
cookie authenticates `/v3` as the role allows, changes need the CSRF token, a user sees
only its own account; failures are throttled; signing out, `user sign-out` and a new password
end sessions."""

from __future__ import annotations

import httpx

from tests.support.server import ScaisendServer

PASSWORD = "correct horse battery staple"


def add_user(server: ScaisendServer, *args: str, password: str = PASSWORD) -> None:
    done = server.command("user", "add", *args, stdin=password + "\n")
    assert done.returncode == 0, done.stderr


def sign_in(server: ScaisendServer, email: str, password: str = PASSWORD) -> httpx.Client:
    client = httpx.Client(base_url=server.base_url, timeout=30)
    answer = client.post("/api/session", json={"email": email, "password": password})
    assert answer.status_code == 200, answer.text
    client.headers["X-CSRF-Token"] = answer.json()["csrf_token"]
    return client


def test_users_are_added_from_stdin_and_sign_in_with_their_roles(
    scaisend: ScaisendServer,
) -> None:
    scaisend.token("acme"), scaisend.token("globex")  # the accounts
    add_user(scaisend, "--account", "acme", "--email", "dev@acme.example", "--role", "developer")
    add_user(scaisend, "--account", "acme", "--email", "help@acme.example", "--role", "support")
    add_user(scaisend, "--account", "globex", "--email", "dev@globex.example")
    short = scaisend.command(
        "user", "add", "--account", "acme", "--email", "x@acme.example", stdin="short\n"
    )
    assert short.returncode == 1 and "a password has 12 to 1024 characters" in short.stderr
    nowhere = scaisend.command(
        "user", "add", "--account", "initech", "--email", "x@initech.example", stdin=PASSWORD
    )
    assert nowhere.returncode == 1 and "no account named initech" in nowhere.stderr
    assert "scaisend token --account NAME" in nowhere.stderr  # how to make one
    listed = scaisend.command("user", "list", "--account", "acme").stdout
    assert "dev@acme.example\tdeveloper\tacme" in listed and "globex" not in listed

    answer = httpx.post(
        f"{scaisend.base_url}/api/session",
        json={"email": "dev@acme.example", "password": PASSWORD},
    )
    cookie = answer.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie and "secure" not in cookie

    dev = sign_in(scaisend, "dev@acme.example")
    made = dev.post("/v3/api_keys", json={"name": "ci", "scopes": ["mail.send"]})
    assert made.status_code == 201, made.text
    no_csrf = dev.post(
        "/v3/api_keys", json={"name": "x"}, headers={"X-CSRF-Token": "not-the-token"}
    )
    assert no_csrf.status_code == 403
    assert "CSRF" in no_csrf.json()["errors"][0]["message"]

    support = sign_in(scaisend, "help@acme.example")
    assert support.get("/v3/messages").status_code == 200
    assert support.get("/v3/suppression/bounces").status_code == 200
    refused = support.post("/v3/api_keys", json={"name": "x"})
    assert refused.status_code == 403 and "api_keys.create" in refused.text

    other = sign_in(scaisend, "dev@globex.example")
    keys = other.get("/v3/api_keys").json()["result"]
    assert [k["name"] for k in keys] == []  # acme's key is not globex's to see


def test_sign_in_failures_are_throttled_and_sessions_end(scaisend: ScaisendServer) -> None:
    scaisend.token("acme")
    add_user(scaisend, "--account", "acme", "--email", "ada@acme.example", "--role", "admin")
    dev = sign_in(scaisend, "ada@acme.example")
    assert dev.get("/api/session").json()["user"] == {
        "email": "ada@acme.example",
        "role": "admin",
        "account": "acme",
    }
    assert dev.delete("/api/session").status_code == 204
    ended = dev.get("/v3/api_keys")
    assert ended.status_code == 401

    again = sign_in(scaisend, "ada@acme.example")
    changed = scaisend.command("user", "passwd", "--email", "ada@acme.example", stdin="n" * 16)
    assert changed.returncode == 0, changed.stderr
    assert again.get("/v3/api_keys").status_code == 401  # a new password ends every session

    attempts = [
        httpx.post(
            f"{scaisend.base_url}/api/session",
            json={"email": "ada@acme.example", "password": f"wrong guess {n}"},
        ).status_code
        for n in range(6)
    ]
    assert attempts == [401] * 5 + [429]
    locked = httpx.post(
        f"{scaisend.base_url}/api/session",
        json={"email": "ada@acme.example", "password": "n" * 16},
    )
    assert locked.status_code == 429  # the right password waits too


def test_sign_out_from_the_command_line_ends_every_session_of_one_user(
    scaisend: ScaisendServer,
) -> None:
    scaisend.token("acme"), scaisend.token("globex")
    add_user(scaisend, "--account", "acme", "--email", "ada@acme.example", "--role", "admin")
    add_user(scaisend, "--account", "globex", "--email", "bob@globex.example")
    laptop, phone = sign_in(scaisend, "ada@acme.example"), sign_in(scaisend, "ada@acme.example")
    bob = sign_in(scaisend, "bob@globex.example")

    done = scaisend.command("user", "sign-out", "--email", "ada@acme.example")

    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "2 sessions of ada@acme.example ended"
    assert laptop.get("/v3/api_keys").status_code == 401
    assert phone.get("/v3/api_keys").status_code == 401
    assert bob.get("/v3/api_keys").status_code == 200  # another user's session goes on
    assert sign_in(scaisend, "ada@acme.example").get("/v3/api_keys").status_code == 200
    unknown = scaisend.command("user", "sign-out", "--email", "nobody@acme.example")
    assert unknown.returncode == 1 and "nobody@acme.example" in unknown.stderr
