"""The Debian package end to end: `make deb` builds it, lintian finds no error, dpkg installs
it, the installed scaisend serves a mail to a sink as the scaisend user, and a purge leaves
nothing of it but /var/lib/scaisend. It changes this system: only with SCAISEND_TEST_DEB=1."""

from __future__ import annotations

import os
import pwd
import shutil
import stat
import subprocess
import tempfile
import tomllib
from collections.abc import Iterator
from pathlib import Path

import httpx
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
    """The environment of a build or an installed program: none of the suite's SCAISEND_ or
    PYTHON variables (`make test`'s bytecode prefix under the checkout, say)."""
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


def build() -> Path:
    """`make deb` in the checkout: dist/scaisend_<version>_<arch>.deb."""
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    arch = run("dpkg", "--print-architecture").stdout.strip()
    built = subprocess.run(
        ["make", "-C", str(ROOT), "deb"],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
        env=clean_env(),
    )
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    path = ROOT / "dist" / f"scaisend_{version}_{arch}.deb"
    assert path.is_file(), built.stdout[-3000:]
    return path


@pytest.fixture
def system() -> Iterator[None]:
    """Whatever the test leaves: the package purged, and the user and data directory it made
    removed when they were not there before."""
    assert os.geteuid() == 0, "SCAISEND_TEST_DEB=1 installs a package: run as root"
    if VENV.exists() and not installed():
        pytest.fail(f"{VENV} exists and is not the package's (a wheel install?): left alone")
    had_user, had_data = user_exists(), DATA_DIR.exists()
    yield
    if installed():
        run("dpkg", "--purge", "scaisend", timeout=300)
    shutil.rmtree(VENV, ignore_errors=True)  # ours (above): what a failed purge may leave
    if not had_data:
        shutil.rmtree(DATA_DIR, ignore_errors=True)
    if not had_user and user_exists():
        run("userdel", USER)


@pytest.fixture
def workdir() -> Iterator[Path]:
    """A folder the scaisend user owns (pytest's tmp_path is root's alone)."""
    path = Path(tempfile.mkdtemp(prefix="scaisend-deb-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_the_package_builds_installs_serves_mail_and_purges(
    system: None, workdir: Path, dns_server: DnsServer, sink: SmtpSink
) -> None:
    """One scenario, in order, in one process: the steps share one machine's dpkg."""
    deb = build()
    lintian = subprocess.Popen(  # alongside the rest: it takes half a minute or more
        ["lintian", str(deb)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        installed_files = install(deb)
        check_layout(installed_files)
        check_config_and_unit(installed_files)
        check_serving(workdir, dns_server, sink)
        check_purge(installed_files)
    finally:
        try:
            report, _ = lintian.communicate(timeout=600)
        except subprocess.TimeoutExpired:
            lintian.kill()
            lintian.communicate()
            raise
    errors = [line for line in report.splitlines() if line.startswith("E:")]
    assert errors == [], report
    assert lintian.returncode in (0, 1), report  # 1: warnings, 2: lintian itself failed


def install(deb: Path) -> list[str]:
    """`dpkg -i`; the files `dpkg -L` lists then."""
    result = run("dpkg", "--install", str(deb), timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    return run("dpkg", "--listfiles", "scaisend").stdout.splitlines()


def check_layout(files: list[str]) -> None:
    """The environment, the command, the unit, the user and the conffile where they belong."""
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

    assert any(f.endswith("/systemd/system/scaisend.service") for f in files)
    assert "/usr/lib/sysusers.d/scaisend.conf" in files
    assert "/usr/lib/tmpfiles.d/scaisend.conf" in files
    data = DATA_DIR.stat()
    assert data.st_uid == pwd.getpwnam(USER).pw_uid and stat.S_IMODE(data.st_mode) == 0o700
    # Installed, not enabled: the shipped configuration is not set up for this host yet.
    assert not Path("/etc/systemd/system/multi-user.target.wants/scaisend.service").exists()


def check_config_and_unit(files: list[str]) -> None:
    """The installed configuration checks as the service's user; the installed unit, whose
    ExecStart is now the installed command, verifies."""
    checked = run("/usr/bin/scaisend", "check-config", "--config", str(CONFFILE), user=USER)
    assert checked.returncode == 0 and "configuration ok" in checked.stdout, checked.stderr
    unit = next(f for f in files if f.endswith("/systemd/system/scaisend.service"))
    verified = run("systemd-analyze", "verify", "--man=no", unit)
    assert verified.returncode == 0, verified.stderr
    assert verified.stdout.strip() == "" and verified.stderr.strip() == ""


def check_serving(workdir: Path, dns_server: DnsServer, sink: SmtpSink) -> None:
    """`/usr/bin/scaisend serve` as the scaisend user on free loopback ports: a JWT from the
    installed `scaisend token`, a verified domain and a key, one send, and the sink has it."""
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
    except httpx.TransportError:
        return False


def process_user(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(line for line in status.splitlines() if line.startswith("Uid:")).split()[1])


def stop(server: ScaisendServer) -> None:
    try:
        server.stop(timeout=30)  # the installed server, as another user: give it longer
    finally:
        server.http.close()


def check_purge(files: list[str]) -> None:
    """Nothing of what `dpkg -L` listed is left, but the directories other packages share;
    /var/lib/scaisend stays (Debian keeps user data on purge)."""
    purged = run("dpkg", "--purge", "scaisend", timeout=300)
    assert purged.returncode == 0, purged.stdout + purged.stderr
    assert not installed()
    owned = (str(VENV), str(CONFFILE.parent), "/usr/share/doc/scaisend")
    left = [
        path
        for path in files
        if os.path.lexists(path) and (not os.path.isdir(path) or path.startswith(owned))
    ]
    assert left == []
    assert not VENV.exists() and not CONFFILE.parent.exists()
    assert CONFFILE.as_posix() not in run("dpkg-statoverride", "--list").stdout
    assert DATA_DIR.is_dir()
