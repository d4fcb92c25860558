"""The Debian package end to end: `make deb` builds it, lintian finds no error, dpkg installs
it, the installed scaisend serves a mail to a sink as the scaisend user, and a purge leaves
nothing of it but /var/lib/scaisend. It changes this system: only with SCAISEND_TEST_DEB=1."""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import stat
import subprocess
import tempfile
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.api import new_key, send, set_up_account
from tests.support.dns_server import DnsServer
from tests.support.polling import wait_until
from tests.support.server import ScaisendServer
from tests.support.servers import nameserver_of
from tests.support.sink import SmtpSink

ROOT = Path(__file__).resolve().parents[2]
USER = "scaisend"
VENV = Path("/opt/scaisend")
CONFFILE = Path("/etc/scaisend/scaisend.toml")
DATA_DIR = Path("/var/lib/scaisend")

pytestmark = [
    pytest.mark.skipif(
        os.environ.get("SCAISEND_TEST_DEB") != "1",
        reason="installs and purges a package as root; set SCAISEND_TEST_DEB=1 (CI does)",
    ),
    pytest.mark.xdist_group("deb_package"),  # one build, one install, in this order
]


def run(
    *args: str, timeout: float = 120, user: str | None = None
) -> subprocess.CompletedProcess[str]:
    """`args` as root, or as `user` (setpriv execs it: no shell, no process in between)."""
    prefix = (
        ["setpriv", f"--reuid={user}", f"--regid={user}", "--init-groups", "--"] if user else []
    )
    return subprocess.run(
        [*prefix, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env=clean_env(),
    )


def clean_env() -> dict[str, str]:
    """The installed program's own environment: none of the suite's SCAISEND_ or PYTHON
    variables (a bytecode prefix under the checkout, say)."""
    return {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SCAISEND", "PYTHON", "VIRTUAL_ENV"))
    }


def installed() -> bool:
    status = run("dpkg-query", "--show", "--showformat=${db:Status-Status}", "scaisend")
    return status.returncode == 0 and status.stdout not in ("", "not-installed")


def user_exists() -> bool:
    try:
        pwd.getpwnam(USER)
    except KeyError:
        return False
    return True


@pytest.fixture(scope="module")
def deb() -> Path:
    assert os.geteuid() == 0, "SCAISEND_TEST_DEB=1 installs a package: run as root"
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    arch = run("dpkg", "--print-architecture").stdout.strip()
    built = subprocess.run(
        ["make", "-C", str(ROOT), "deb"], capture_output=True, text=True, timeout=900, check=False
    )
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    path = ROOT / "dist" / f"scaisend_{version}_{arch}.deb"
    assert path.is_file(), built.stdout[-3000:]
    return path


@dataclass
class Installed:
    files: list[str]  # `dpkg -L scaisend` after installing


@pytest.fixture(scope="module")
def package(deb: Path) -> Iterator[Installed]:
    """The package installed; purged afterwards whatever happened, and the user and data
    directory it made removed too when they were not there before."""
    had_user, had_data = user_exists(), DATA_DIR.exists()
    try:
        result = run("dpkg", "--install", str(deb), timeout=300)
        assert result.returncode == 0, result.stdout + result.stderr
        yield Installed(run("dpkg", "--listfiles", "scaisend").stdout.splitlines())
    finally:
        if installed():
            run("dpkg", "--purge", "scaisend", timeout=300)
        if not had_data:
            shutil.rmtree(DATA_DIR, ignore_errors=True)
        if not had_user and user_exists():
            run("userdel", USER)


def test_lintian_reports_no_error(deb: Path) -> None:
    result = run("lintian", str(deb), timeout=600)
    errors = [line for line in result.stdout.splitlines() if line.startswith("E:")]
    assert errors == [], result.stdout
    assert result.returncode in (0, 1), result.stderr  # 1: warnings, 2: lintian itself failed


def test_the_package_lays_out_the_environment_the_command_the_unit_and_the_conffile(
    package: Installed,
) -> None:
    assert os.readlink("/usr/bin/scaisend") == str(VENV / "bin" / "scaisend")
    assert (VENV / "bin" / "scaisend").read_text().startswith(f"#!{VENV}/bin/python\n")
    interpreter = os.path.realpath(VENV / "bin" / "python")
    assert interpreter.startswith("/usr/bin/python3."), interpreter
    depends = run("dpkg-query", "--show", "--showformat=${Depends}", "scaisend").stdout
    assert Path(interpreter).name in depends.split(", "), depends
    mentions_build = run("grep", "-rlI", "var/deb", str(VENV))
    assert mentions_build.stdout == "", mentions_build.stdout
    assert not (VENV / "bin" / "pip").exists()  # dpkg alone changes the environment

    conffiles = run("dpkg-query", "--show", "--showformat=${Conffiles}", "scaisend").stdout
    assert str(CONFFILE) in conffiles
    mode = CONFFILE.stat()
    assert stat.S_IMODE(mode.st_mode) == 0o640 and mode.st_gid == pwd.getpwnam(USER).pw_gid

    assert any(f.endswith("/systemd/system/scaisend.service") for f in package.files)
    assert "/usr/lib/sysusers.d/scaisend.conf" in package.files
    assert "/usr/lib/tmpfiles.d/scaisend.conf" in package.files
    data = DATA_DIR.stat()
    assert data.st_uid == pwd.getpwnam(USER).pw_uid and stat.S_IMODE(data.st_mode) == 0o700
    # Installed, not enabled: the shipped configuration is not set up for this host yet.
    assert not Path("/etc/systemd/system/multi-user.target.wants/scaisend.service").exists()


def test_the_installed_configuration_checks_and_the_unit_verifies(package: Installed) -> None:
    checked = run("/usr/bin/scaisend", "check-config", "--config", str(CONFFILE), user=USER)
    assert checked.returncode == 0 and "configuration ok" in checked.stdout, checked.stderr
    unit = next(f for f in package.files if f.endswith("/systemd/system/scaisend.service"))
    verified = run("systemd-analyze", "verify", "--man=no", unit)
    assert verified.returncode == 0, verified.stderr
    assert verified.stdout.strip() == "" and verified.stderr.strip() == ""


@pytest.fixture
def workdir() -> Iterator[Path]:
    """A folder the scaisend user owns (pytest's tmp_path is root's alone)."""
    path = Path(tempfile.mkdtemp(prefix="scaisend-deb-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_the_installed_server_delivers_as_the_scaisend_user(
    package: Installed, workdir: Path, dns_server: DnsServer, sink: SmtpSink
) -> None:
    server = ScaisendServer(
        workdir, nameserver=nameserver_of(dns_server), smtp_port=sink.controller.port
    )
    shutil.chown(workdir, USER, USER)
    shutil.chown(server.config, USER, USER)
    command = ["/usr/bin/scaisend", "serve", "--config", str(server.config)]
    as_user = ["setpriv", f"--reuid={USER}", f"--regid={USER}", "--init-groups", "--"]
    with server.log_path.open("ab") as log:
        server.process = subprocess.Popen(
            [*as_user, *command], stdout=log, stderr=subprocess.STDOUT, env=clean_env(), cwd=workdir
        )
    try:
        wait_until(lambda: listening(server), "the installed server to answer", timeout=60)
        assert process_user(server.process.pid) == pwd.getpwnam(USER).pw_uid
        token = run(
            "/usr/bin/scaisend",
            "token",
            "--account",
            "acme",
            "--config",
            str(server.config),
            user=USER,
        )
        assert token.returncode == 0, token.stderr
        jwt = token.stdout.strip().splitlines()[-1]
        set_up_account(server, dns_server, jwt)
        send(server, new_key(server, jwt, ["mail.send"]), "ada@example.com")
        (received,) = sink.wait_for(1, timeout=30)
        assert received.rcpt_tos == ["ada@example.com"]
        assert b"DKIM-Signature: " in received.data
    finally:
        stop(server)
    assert server.process.returncode == 0, server.log()[-3000:]


def listening(server: ScaisendServer) -> bool:
    assert server.process is not None and server.process.poll() is None, server.log()[-3000:]
    try:
        return server.http.get(f"{server.base_url}/healthz", timeout=1).status_code == 200
    except Exception:
        return False


def process_user(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(line for line in status.splitlines() if line.startswith("Uid:")).split()[1])


def stop(server: ScaisendServer) -> None:
    if server.process is None or server.process.poll() is not None:
        return
    server.process.send_signal(signal.SIGTERM)
    try:
        server.process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait(timeout=10)
    finally:
        server.http.close()


def test_purge_leaves_nothing_but_the_data_directory(package: Installed) -> None:
    purged = run("dpkg", "--purge", "scaisend", timeout=300)
    assert purged.returncode == 0, purged.stdout + purged.stderr
    assert not installed()
    owned = (str(VENV), str(CONFFILE.parent), "/usr/share/doc/scaisend")
    left = [
        path
        for path in package.files
        if os.path.lexists(path) and (not os.path.isdir(path) or path.startswith(owned))
    ]
    assert left == []
    assert not VENV.exists() and not CONFFILE.parent.exists()
    assert CONFFILE.as_posix() not in run("dpkg-statoverride", "--list").stdout
    # Debian keeps user data on purge: the spool and database stay for the administrator.
    assert DATA_DIR.is_dir()
