"""What `scaisend serve` prints once it listens: the enabled listeners, the dashboard and the
API browser, and how to get a token.

Pure: the lines from the settings, so a disabled listener (an empty address) is left out."""

from __future__ import annotations

from config import Settings


def banner_lines(settings: Settings, config_path: str | None, program: str) -> list[str]:
    smtp, base = settings.smtp, f"http://{settings.http.listen}"
    listeners = [f"HTTP API on {base}"]
    for address, what in (
        (smtp.submission_listen, "submission {} (STARTTLS)"),
        (smtp.smtps_listen, "submission {} (TLS)"),
        (smtp.mx_listen, "inbound MX {}"),
    ):
        if address:
            listeners.append(what.format(address))
    config = f" --config {config_path}" if config_path else ""
    return [
        "scaisend: " + ", ".join(listeners),
        f"scaisend: the dashboard is at {base}/ui/, the API browser at {base}/docs",
        f"scaisend: get an admin token with: {program} token --account <name>{config}",
    ]
