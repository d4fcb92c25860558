"""Driving the dashboard in tests: users made as `scaisend user add` makes them, an httpx
client that signs in through the form, and a Playwright page in Debian's chromium that
records console errors and every host it asks (`browser_on` fails a test on either)."""

from __future__ import annotations

import argparse
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from config import Settings, load_settings
from mta.db.engine import database_url, make_engine, make_sessionmaker
from mta.services.user_roles import UserRole
from mta.services.users import UserService
from tests.support.server import ScaisendServer, run_here

PASSWORD = "correct horse battery staple"
CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "var" / "test-artifacts" / "dashboard"
HIDDEN_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')
WIDTHS = ((1280, 900), (390, 844))


def add_user(server: ScaisendServer, *args: str, password: str = PASSWORD) -> None:
    """`scaisend user add ARGS` with `password`, done by the service the command calls, in
    this process (test_users.py runs the command itself; a command is a second's process)."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--account")
    parser.add_argument("--operator", action="store_true")
    parser.add_argument("--email", required=True)
    parser.add_argument("--role", choices=["admin", "developer", "support"], default="developer")
    given = parser.parse_args(args)
    role: UserRole = "operator" if given.operator else given.role
    run_here(_add_user(load_settings(server.config), given.account, given.email, role, password))


async def _add_user(
    settings: Settings, account: str | None, email: str, role: UserRole, password: str
) -> None:
    storage = settings.storage
    engine = make_engine(database_url(storage.database_url, Path(storage.data_dir)))
    try:
        await UserService(make_sessionmaker(engine)).add(account, email, role, password)
    finally:
        await engine.dispose()


def ui_client(server: ScaisendServer) -> httpx.Client:
    return httpx.Client(base_url=server.base_url, timeout=30)


def sign_in(client: httpx.Client, email: str, password: str = PASSWORD) -> httpx.Response:
    form = client.get("/ui/sign-in")
    token = HIDDEN_TOKEN.search(form.text)
    assert token is not None, form.text
    fields = {"csrf_token": token.group(1), "email": email, "password": password}
    return client.post("/ui/sign-in", data=fields)


def signed_in(server: ScaisendServer, email: str) -> httpx.Client:
    client = ui_client(server)
    assert sign_in(client, email).status_code == 303
    return client


def csrf_token(client: httpx.Client) -> str:
    """The session's CSRF token, read from a page as a browser would."""
    token = HIDDEN_TOKEN.search(client.get("/ui/").text)
    assert token is not None
    return token.group(1)


def post_form(client: httpx.Client, path: str, fields: dict[str, Any]) -> httpx.Response:
    """A form post carrying the session's CSRF token, as the page's form would send it."""
    return client.post(path, data={"csrf_token": csrf_token(client), **fields})


class Browser:
    """A chromium page that records console errors and every host it asks."""

    def __init__(self, page: Any, base_url: str) -> None:
        self.page = page
        self.base_url = base_url
        self.problems: list[str] = []
        self.hosts: set[str] = set()
        page.on("console", lambda m: self.problems.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda error: self.problems.append(str(error)))
        page.on("request", lambda request: self.hosts.add(urlsplit(request.url).netloc))

    def sign_in(self, email: str, password: str = PASSWORD) -> None:
        self.page.goto(f"{self.base_url}/ui/", timeout=30_000)  # redirected to the form
        self.page.get_by_label("Email").fill(email)
        self.page.get_by_label("Password").fill(password)
        self.page.get_by_role("button", name="Sign in").click()
        self.page.wait_for_load_state()

    def go(self, path: str) -> None:
        self.page.goto(f"{self.base_url}{path}", timeout=30_000)

    def number(self, metric: str, which: str = "total") -> int:
        return int(self.page.get_by_test_id(f"{metric}-{which}").inner_text())

    def screenshots(self, name: str) -> None:
        """The page at 1280 and at 390 px wide, as test artifacts; at 390 nothing may scroll
        sideways but the tables made to (`.scroll`)."""
        for width, height in WIDTHS:
            self.page.set_viewport_size({"width": width, "height": height})
            self.page.screenshot(path=str(ARTIFACTS / f"{name}-{width}.png"), full_page=True)
            wide = self.page.evaluate("document.documentElement.scrollWidth")
            assert wide <= width, f"{name} is {wide} px wide at {width}"
        self.page.set_viewport_size({"width": 1280, "height": 900})


@contextmanager
def browser_on(server: ScaisendServer) -> Iterator[Browser]:
    """A fresh chromium page; afterwards, no console error and no host but the server's."""
    if not CHROMIUM.exists():
        pytest.skip("needs Debian's chromium (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is a dev dependency")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=["--no-sandbox", "--headless"], timeout=30_000
        )
        try:
            page = chromium.new_page(viewport={"width": 1280, "height": 900})
            found = Browser(page, server.base_url)
            yield found
        finally:
            chromium.close()
    assert found.problems == []
    assert found.hosts == {urlsplit(server.base_url).netloc}
