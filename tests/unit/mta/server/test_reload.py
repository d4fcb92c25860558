"""Reading the config file again on SIGHUP: environment overrides included, restart-only keys
kept at their running value, and a bad file answered with one error line and no settings."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from config.reload import SettingsChange
from config.settings import Settings, StorageSettings
from mta.server.reload import log_change, read_settings


@pytest.fixture(autouse=True)
def no_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("SCAISEND__"):
            monkeypatch.delenv(name)


def test_the_file_and_the_environment_are_read_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "scaisend.toml"
    path.write_text(
        '[delivery]\nroutes = { "example.com" = "192.0.2.1" }\n[smtp]\nhostname = "b"\n'
    )
    monkeypatch.setenv("SCAISEND__LOG__LEVEL", "debug")
    # started with this file: its data_dir (./var by default) is beside it
    started = Settings(storage=StorageSettings(data_dir=str(tmp_path / "var")))
    read = read_settings(path, started)
    assert read is not None
    running, change = read
    assert running.delivery.routes == {"example.com": "192.0.2.1"}
    assert running.log.level == "debug"
    assert running.smtp.hostname == "localhost"  # restart-only: kept
    assert change == SettingsChange(
        applied=("delivery.routes", "log.level"), restart=("smtp.hostname",)
    )


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("[delivery]\nconcurrency = 0\n", "delivery.concurrency"),
        ("[delivery\n", "scaisend.toml"),
        ("[nosuch]\nkey = 1\n", "nosuch"),
    ],
)
def test_a_bad_file_gives_one_error_line_and_nothing_to_apply(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, text: str, named: str
) -> None:
    path = tmp_path / "scaisend.toml"
    path.write_text(text)
    with caplog.at_level(logging.INFO, logger="mta.server.reload"):
        assert read_settings(path, Settings()) is None
    (record,) = caplog.records
    assert record.levelno == logging.ERROR
    assert "event=config_reload_failed" in record.getMessage() and named in record.getMessage()


def test_a_missing_file_is_a_failed_reload(tmp_path: Path) -> None:
    assert read_settings(tmp_path / "gone.toml", Settings()) is None


def test_the_change_is_logged_as_one_warning_and_one_info_line(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.INFO, logger="mta.server.reload"):
        log_change("/etc/scaisend.toml", SettingsChange(("log.level",), ("smtp.hostname",)))
        log_change(None, SettingsChange())
    lines = [(r.levelno, r.getMessage()) for r in caplog.records]
    assert lines == [
        (
            logging.WARNING,
            "event=config_restart_needed config=/etc/scaisend.toml keys=smtp.hostname",
        ),
        (logging.INFO, "event=config_reloaded config=/etc/scaisend.toml applied=log.level"),
        (logging.INFO, "event=config_reloaded config=- applied=-"),
    ]
