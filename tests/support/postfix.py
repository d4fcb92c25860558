"""A private Postfix instance on loopback for end-to-end tests: its own config, queue and
data directories, a listener on 127.0.0.1:<port> and transport_maps naming where each
domain goes (a real remote MTA that accepts, bounces and sends DSNs)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

POSTFIX = "/usr/sbin/postfix"
DAEMONS = "/usr/lib/postfix/sbin"
MASTER_CF = """\
127.0.0.1:{port} inet n - n - - smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
local     unix  -       n       n       -       -       local
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"""


def postfix_unavailable() -> str:
    """Why a private Postfix cannot run here, or "" when it can."""
    if not (Path(POSTFIX).exists() and Path(DAEMONS, "master").exists()):
        return "postfix is not installed (apt-get install postfix)"
    if os.geteuid() != 0:
        return "a private postfix instance needs root (its daemons drop to the postfix user)"
    if shutil.which("postmap") is None:
        return "postmap is missing"
    return ""


class PostfixInstance:
    """`postfix -c DIR start` with `transports` (domain → transport:nexthop) as its map.

    `local_domains` are final destinations without recipient checks at RCPT: mail to them
    is accepted, then bounced by local(8) with `mailbox_reply` (a DSN after acceptance, as a
    real MX sends); no mailbox, .forward, file or command is ever delivered to, even for a
    system user's name."""

    def __init__(
        self,
        root: Path,
        port: int,
        transports: dict[str, str],
        local_domains: tuple[str, ...] = (),
        hostname: str = "mx.peer.test",
        mailbox_reply: str = "5.1.1 user unknown",
    ) -> None:
        self.mailbox_reply = mailbox_reply
        self.root, self.port, self.hostname = root, port, hostname
        self.local_domains = local_domains
        self.config, self.queue, self.data = root / "etc", root / "spool", root / "data"
        self.transports = transports
        self._started = False

    def _main_cf(self) -> str:
        return f"""\
compatibility_level = 3.6
queue_directory = {self.queue}
data_directory = {self.data}
command_directory = /usr/sbin
daemon_directory = {DAEMONS}
mail_owner = postfix
setgid_group = postdrop
maillog_file = {self.data}/maillog
maillog_file_prefixes = {self.root}
myhostname = {self.hostname}
mydomain = peer.test
myorigin = $myhostname
mydestination = {", ".join(self.local_domains)}
local_recipient_maps =
alias_maps =
alias_database =
forward_path =
allow_mail_to_commands =
allow_mail_to_files =
mailbox_transport = error:{self.mailbox_reply}
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtpd_relay_restrictions = permit_mynetworks, reject
transport_maps = texthash:{self.config}/transport
default_transport = error:5.4.4 no route in this test instance
smtp_dns_support_level = disabled
smtp_tls_security_level = none
smtpd_tls_security_level = none
queue_run_delay = 1s
minimal_backoff_time = 1s
maximal_backoff_time = 2s
biff = no
"""

    def start(self) -> PostfixInstance:
        for directory in (self.config, self.queue, self.data):
            directory.mkdir(parents=True, exist_ok=True)
        shutil.chown(self.data, user="postfix")
        # the daemons run as the postfix user: they must reach the queue under `root`
        for parent in (self.root, *self.root.parents):
            if parent == Path(parent.anchor):
                break
            parent.chmod(parent.stat().st_mode | 0o011)
        (self.config / "main.cf").write_text(self._main_cf())
        (self.config / "master.cf").write_text(MASTER_CF.format(port=self.port))
        (self.config / "transport").write_text(
            "".join(f"{domain} {target}\n" for domain, target in self.transports.items())
        )
        self._run("check")
        self._run("start")
        self._started = True
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return self
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"postfix did not listen on {self.port}: {self.maillog()[-3000:]}")

    def stop(self) -> None:
        if self._started:
            subprocess.run(
                [POSTFIX, "-c", str(self.config), "stop"], capture_output=True, timeout=60
            )
            self._started = False

    def maillog(self) -> str:
        path = self.data / "maillog"
        return path.read_text(errors="replace") if path.exists() else ""

    def _run(self, command: str) -> None:
        result = subprocess.run(
            [POSTFIX, "-c", str(self.config), command],
            capture_output=True,
            text=True,
            timeout=60,
        )
        if result.returncode != 0:
            raise RuntimeError(f"postfix {command} failed: {result.stderr}{result.stdout}")
