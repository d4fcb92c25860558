"""The serve banner names the enabled listeners only."""

from __future__ import annotations

from config import Settings
from config.settings import SmtpSettings
from mta.server.cli.banner import banner_lines


def test_every_listener_by_default() -> None:
    first, browser, token = banner_lines(Settings(), None, "scaisend")
    assert first == (
        "scaisend: HTTP API on http://127.0.0.1:8080, submission 127.0.0.1:2587 (STARTTLS), "
        "submission 127.0.0.1:2465 (TLS), inbound MX 127.0.0.1:2525"
    )
    assert browser == (
        "scaisend: the dashboard is at http://127.0.0.1:8080/ui/, "
        "the API browser at http://127.0.0.1:8080/docs"
    )
    assert token == "scaisend: get an admin token with: scaisend token --account <name>"


def test_disabled_listeners_are_left_out() -> None:
    smtp = SmtpSettings(submission_listen="", mx_listen="")
    first, _, token = banner_lines(Settings(smtp=smtp), "/etc/s.toml", ".venv/bin/scaisend")
    assert first == "scaisend: HTTP API on http://127.0.0.1:8080, submission 127.0.0.1:2465 (TLS)"
    assert token.endswith(".venv/bin/scaisend token --account <name> --config /etc/s.toml")
