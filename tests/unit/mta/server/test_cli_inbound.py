"""`scaisend inbound classify`, run as a real process."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

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


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mta.server.cli.main", "inbound", "classify", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_classify_prints_json(tmp_path: Path) -> None:
    path = tmp_path / "bounce.eml"
    path.write_bytes(DSN)
    done = _run(str(path))
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
