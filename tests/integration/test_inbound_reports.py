"""DMARC aggregate and TLS-RPT reports over SMTP to a running server's MX: a gzip and a zip
DMARC report and a gzip TLS-RPT report for acme's domain, sent to the addresses its records
name, come back through /v3/user/dmarc/reports, /v3/user/dmarc/sources and
/v3/user/tls_reports; globex, with its own report, sees only its own; scopes are checked."""

from __future__ import annotations

import smtplib
import time
from typing import Any

from tests.support.api import get, new_key, set_up_account
from tests.support.dns_server import DnsServer
from tests.support.report_samples import dmarc_xml, gzipped, report_mail, tlsrpt_json, zipped
from tests.support.server import ScaisendServer

ACME, GLOBEX = "mail.example.com", "mail.globex.example"
READ = ["dmarc.read", "tls_reports.read"]


def deliver(server: ScaisendServer, rcpt: str, mail: bytes) -> None:
    with smtplib.SMTP("127.0.0.1", server.mx_port, timeout=30) as mx:
        mx.ehlo("reporter.example.net")
        assert mx.sendmail("noreply-dmarc@reporter.example.net", [rcpt], mail) == {}


def wait_for(server: ScaisendServer, key: str, path: str, count: int, **params: Any) -> Any:
    deadline, body = time.monotonic() + 20, []
    while time.monotonic() < deadline:
        response = get(server, key, path, **params)
        assert response.status_code == 200, response.text
        body = response.json()
        if len(body) >= count:
            return body
        time.sleep(0.1)
    raise AssertionError(f"{path}: {body}")


def test_reports_over_smtp_come_back_per_account(
    scaisend: ScaisendServer, dns_server: DnsServer
) -> None:
    server, today = scaisend, int(time.time()) // 86400 * 86400
    acme, globex = server.token("acme"), server.token("globex")
    domain = set_up_account(server, dns_server, acme, ACME)
    set_up_account(server, dns_server, globex, GLOBEX)
    acme_key, globex_key = new_key(server, acme, READ), new_key(server, globex, READ)
    rp_host = domain["return_path_host"]
    assert rp_host == f"bounces.{ACME}"

    xml = dmarc_xml(ACME, "gz-1", begin=today)
    deliver(server, f"dmarc@{rp_host}", report_mail(gzipped(xml), "application/gzip", "a.xml.gz"))
    other = dmarc_xml(ACME, "zip-1", begin=today).replace(b"google.com<", b"outlook.com<")
    deliver(
        server, f"dmarc@{rp_host}", report_mail(zipped("b.xml", other), "application/zip", "b.zip")
    )
    tls = gzipped(tlsrpt_json(ACME, "t-1", begin=today))
    deliver(server, f"tlsrpt@{rp_host}", report_mail(tls, "application/tlsrpt+gzip", "t.json.gz"))
    mine = gzipped(dmarc_xml(GLOBEX, "g-1", begin=today))
    deliver(server, f"dmarc@bounces.{GLOBEX}", report_mail(mine, "application/gzip", "g.xml.gz"))

    reports = wait_for(server, acme_key, "/v3/user/dmarc/reports", 2)
    assert sorted(r["report_id"] for r in reports) == ["gz-1", "zip-1"]
    assert {r["org_name"] for r in reports} == {"google.com", "outlook.com"}
    assert all(r["domain"] == ACME and len(r["rows"]) == 2 for r in reports)
    sources = wait_for(server, acme_key, "/v3/user/dmarc/sources", 2, domain=ACME, days=2)
    by_ip = {s["source_ip"]: s for s in sources}
    assert by_ip["192.0.2.10"]["count"] == 24 and by_ip["192.0.2.10"]["dmarc_fail"] == 0
    assert by_ip["203.0.113.66"]["dmarc_fail"] == 6 and by_ip["203.0.113.66"]["quarantine"] == 6
    [tls_report] = wait_for(server, acme_key, "/v3/user/tls_reports", 1, domain=ACME)
    assert (tls_report["successful"], tls_report["failed"]) == (5326, 303)
    details = tls_report["policies"][0]["failure_details"]
    assert details[1]["result_type"] == "starttls-not-supported"

    # globex: its own report, none of acme's, and acme's domain asked for by name gives nothing
    [theirs] = wait_for(server, globex_key, "/v3/user/dmarc/reports", 1)
    assert theirs["domain"] == GLOBEX
    assert get(server, globex_key, "/v3/user/dmarc/reports", domain=ACME).json() == []
    assert get(server, globex_key, "/v3/user/tls_reports").json() == []
    assert get(server, globex_key, "/v3/user/dmarc/sources", domain=ACME).json() == []

    mail_only = new_key(server, acme, ["mail.send"])
    for path in ("/v3/user/dmarc/reports", "/v3/user/dmarc/sources", "/v3/user/tls_reports"):
        assert get(server, mail_only, path).status_code == 403
    bad = get(server, acme_key, "/v3/user/dmarc/reports", start_date="yesterday")
    assert bad.status_code == 400 and bad.json()["errors"][0]["field"] == "start_date"
    assert "event=inbound " in server.log() and "kind=dmarc-aggregate" in server.log()
