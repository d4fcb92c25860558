"""The systemd units: `systemd-analyze verify` finds nothing to say about scaisend.service
(in a root holding the system's units and a stub /usr/bin/scaisend, since the wheel may not
be installed here), and its offline security exposure stays at most 2.5."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
UNIT = ROOT / "systemd" / "scaisend.service"
SYSTEM_UNITS = Path("/usr/lib/systemd/system")
MAX_EXPOSURE = 2.5

pytestmark = pytest.mark.skipif(
    shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed"
)


def analyze(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["systemd-analyze", *args], capture_output=True, text=True, timeout=120, check=False
    )


def fake_root(tmp_path: Path) -> Path:
    """A root with the system's units, our unit, /bin/kill and a stub ExecStart binary."""
    root = tmp_path / "root"
    (root / "usr" / "lib" / "systemd").mkdir(parents=True)
    shutil.copytree(SYSTEM_UNITS, root / "usr" / "lib" / "systemd" / "system", symlinks=True)
    (root / "etc" / "systemd" / "system").mkdir(parents=True)
    shutil.copy(UNIT, root / "etc" / "systemd" / "system" / UNIT.name)
    for binary, source in (("usr/bin/scaisend", None), ("bin/kill", shutil.which("kill"))):
        target = root / binary
        target.parent.mkdir(parents=True, exist_ok=True)
        if source:
            shutil.copy(source, target)
        else:
            target.write_text("#!/bin/sh\nexit 0\n")
        target.chmod(0o755)
    return root


@pytest.mark.skipif(not SYSTEM_UNITS.is_dir(), reason="no system units to verify against")
def test_the_unit_verifies_without_a_warning(tmp_path: Path) -> None:
    result = analyze("verify", "--man=no", f"--root={fake_root(tmp_path)}", UNIT.name)
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip() == "" and result.stdout.strip() == ""


def test_verify_would_catch_a_bad_directive(tmp_path: Path) -> None:
    root = fake_root(tmp_path)
    unit = root / "etc" / "systemd" / "system" / UNIT.name
    unit.write_text(unit.read_text().replace("Type=notify\n", "Type=notifyy\n"))
    result = analyze("verify", "--man=no", f"--root={root}", UNIT.name)
    assert "notifyy" in result.stderr


def test_the_security_exposure_is_low() -> None:
    result = analyze("security", "--offline=yes", "--no-pager", str(UNIT))
    found = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", result.stdout)
    assert found is not None, result.stdout + result.stderr
    assert float(found.group(1)) <= MAX_EXPOSURE, result.stdout


def test_the_sysusers_and_tmpfiles_entries_name_the_service_user() -> None:
    sysusers = (ROOT / "systemd" / "scaisend.sysusers").read_text()
    assert re.search(r"^u scaisend - ", sysusers, re.M)
    tmpfiles = (ROOT / "systemd" / "scaisend.tmpfiles").read_text()
    assert "d /var/lib/scaisend 0700 scaisend scaisend" in tmpfiles
    unit = UNIT.read_text()
    assert "User=scaisend" in unit and "StateDirectory=scaisend" in unit
