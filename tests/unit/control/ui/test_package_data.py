"""Every file the dashboard serves (templates, static files, the vendored htmx) is named by
pyproject's package-data, so that it is in the wheel and the Debian package."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[4]


def test_package_data_covers_every_template_and_static_file() -> None:
    settings = tomllib.loads((ROOT / "pyproject.toml").read_text())
    patterns = settings["tool"]["setuptools"]["package-data"]["control"]
    control = ROOT / "control"
    shipped = {path for pattern in patterns for path in control.glob(pattern) if path.is_file()}
    served = [
        path
        for folder in ("ui/templates", "ui/static")
        for path in (control / folder).rglob("*")
        if path.is_file()
    ]
    assert served and [p for p in served if p not in shipped] == []
