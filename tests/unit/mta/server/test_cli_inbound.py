"""`scaisend inbound classify`, run as a real process: a file, or standard input (`-` or no
FILE), bounded in size as the MX's messages are."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from mta.server.cli.inbound import MAX_MESSAGE_BYTES

DSN = b"""From: MAILER-DAEMON@mx.example.net
To: bounces+msg42.0@bounces.example.com
Subject: Undelivered Mail Returned to Sender
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="b"

--b
Content-Type: text/plain

The mail system

--b
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.net

Final-Recipient: rfc822; gone@example.net
Action: failed
Status: 5.1.1
Diagnostic-Code: smtp; 550 5.1.1 User unknown

--b--
"""


def _run(*args: str, stdin: bytes = b"") -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [sys.executable, "-m", "mta.server.cli.main", "inbound", "classify", *args],
        capture_output=True,
        input=stdin,
        timeout=120,
        check=False,
    )
    return subprocess.CompletedProcess(
        done.args, done.returncode, done.stdout.decode(), done.stderr.decode()
    )


def test_classify_prints_json(tmp_path: Path) -> None:
    path = tmp_path / "bounce.eml"
    path.write_bytes(DSN)
    _assert_the_bounce(_run(str(path)))


@pytest.mark.parametrize("args", [("-",), ()], ids=["dash", "no-file"])
def test_classify_reads_a_piped_message(args: tuple[str, ...]) -> None:
    _assert_the_bounce(_run(*args, stdin=DSN.replace(b"\n", b"\r\n")))


def _assert_the_bounce(done: subprocess.CompletedProcess[str]) -> None:
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert (answer["kind"], answer["feedback_type"]) == ("dsn", "")
    assert answer["recipients"] == [
        {
            "address": "gone@example.net",
            "action": "failed",
            "status": "5.1.1",
            "diagnostic": "550 5.1.1 User unknown",
            "classification": "Invalid Address",
            "bounce_type": "bounce",
            "hard": True,
            "reason": "user unknown",
        }
    ]


def test_missing_file_exits_2(tmp_path: Path) -> None:
    done = _run(str(tmp_path / "absent.eml"))
    assert done.returncode == 2
    assert "absent.eml" in done.stderr
    assert done.stdout == ""


def test_corpus_option_on_an_empty_folder_exits_2(tmp_path: Path) -> None:
    done = _run("--corpus", str(tmp_path))
    assert done.returncode == 2
    assert "no corpus" in done.stderr


def test_a_message_larger_than_the_mx_takes_is_refused(tmp_path: Path) -> None:
    huge = tmp_path / "huge.eml"
    with huge.open("wb") as handle:  # sparse: no disk spent
        handle.truncate(MAX_MESSAGE_BYTES + 1)
    for done, name in (
        (_run(str(huge)), str(huge)),
        (_run("-", stdin=DSN + b"x" * MAX_MESSAGE_BYTES), "standard input"),
    ):
        assert done.returncode == 2
        assert done.stderr == (
            f"scaisend: {name} is larger than a message may be ({MAX_MESSAGE_BYTES} bytes)\n"
        )
        assert done.stdout == ""
