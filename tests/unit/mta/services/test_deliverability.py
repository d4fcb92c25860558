"""The deliverability findings from DNS answers: a domain set up as we ask finds every check
ok, and each way of getting a record wrong says what was found and what to fix."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from mta.services.deliverability import (
    Answer,
    Answers,
    Facts,
    Finding,
    PtrAnswer,
    Unsubscribe,
    findings,
    worst,
)
from mta.services.spf import SpfWorld

ADDRESS = "192.0.2.10"
HOST = "mx.scaisend.test"
KEY = "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAu"
FACTS = Facts(
    domain="d.example",
    return_path_host="bounces.d.example",
    dkim_host="scaisend1._domainkey.d.example",
    dkim_public_key=KEY,
    smtp_hostname=HOST,
    source_address="",
    sending_addresses=[ADDRESS],
)
SPF_OURS = f"v=spf1 a:{HOST} ~all"
GOOD = Answers(
    spf_domain=SpfWorld(records={"d.example": [SPF_OURS]}, addresses={HOST: [ADDRESS]}),
    spf_return_path=SpfWorld(
        records={"bounces.d.example": [SPF_OURS]}, addresses={HOST: [ADDRESS]}
    ),
    dkim=Answer([f"v=DKIM1; k=rsa; p={KEY}"]),
    dmarc=Answer(["v=DMARC1; p=reject; rua=mailto:dmarc@d.example"]),
    domain_mx=Answer(["10 mail.d.example"]),
    return_path_mx=Answer([f"10 {HOST}"]),
    ptr=[PtrAnswer(ADDRESS, [HOST], {HOST: [ADDRESS]})],
    mta_sts=Answer(["v=STSv1; id=20250101"]),
    tls_rpt=Answer(["v=TLSRPTv1; rua=mailto:tls@d.example"]),
)
READY = Unsubscribe(1, "https://t.scaisend.test")


def found_with(unsubscribe: Unsubscribe = READY, **changes: Any) -> dict[str, Finding]:
    answers = msgspec.structs.replace(GOOD, **changes)
    return {f.check: f for f in findings(FACTS, answers, unsubscribe)}


def test_a_domain_set_up_as_asked_is_ok_everywhere() -> None:
    every = found_with()
    assert {check: f.status for check, f in every.items() if f.status != "ok"} == {}
    assert list(every) == [
        "SPF (bounces.d.example)",
        "SPF (d.example)",
        "DKIM",
        "DMARC",
        "MX",
        "PTR",
        "MTA-STS",
        "TLS-RPT",
        "List-Unsubscribe",
    ]
    assert "No outbound source address is configured" in every["PTR"].found


@pytest.mark.parametrize(
    ("change", "check", "status", "in_found", "in_fix"),
    [
        (
            {"spf_domain": SpfWorld(records={"d.example": ["v=spf1 -all", SPF_OURS]})},
            "SPF (d.example)",
            "fail",
            "2 SPF records at d.example",
            "Merge them into one record",
        ),
        (
            {"spf_return_path": SpfWorld(records={"bounces.d.example": []})},
            "SPF (bounces.d.example)",
            "fail",
            "No SPF record",
            f"v=spf1 a:{HOST} ~all",
        ),
        (
            {"spf_return_path": SpfWorld(records={"bounces.d.example": ["v=spf1 ~all"]})},
            "SPF (bounces.d.example)",
            "fail",
            f"softfail for {ADDRESS}",
            f"Add a:{HOST}",
        ),
        (
            {
                "spf_return_path": SpfWorld(
                    records={"bounces.d.example": ["v=spf1 " + "a:x.example " * 11 + "-all"]}
                )
            },
            "SPF (bounces.d.example)",
            "fail",
            "needs 11 DNS look-ups",
            "ip4:/ip6:",
        ),
        (
            {"spf_domain": SpfWorld(errors=["timed out"])},
            "SPF (d.example)",
            "warn",
            "Could not ask DNS",
            "again",
        ),
        (
            {
                "spf_return_path": SpfWorld(
                    records={"bounces.d.example": ["v=spf1 include:gone.example -all"]},
                    errors=["gone.example: timed out"],
                )
            },
            "SPF (bounces.d.example)",
            "warn",
            "gone.example: timed out",
            "again",
        ),
        ({"dkim": Answer([])}, "DKIM", "fail", "No DKIM key", "Publish"),
        ({"dkim": Answer(["v=DKIM1; p=OTHERKEY"])}, "DKIM", "fail", "not ours: p=OTHERKEY", ""),
        ({"dkim": Answer(["v=DKIM1; p="])}, "DKIM", "fail", "revoked", ""),
        ({"dmarc": Answer([])}, "DMARC", "fail", "No DMARC record at _dmarc.d.example", "p=none"),
        ({"dmarc": Answer(["v=DMARC1; p=none"])}, "DMARC", "warn", "Policy none", "rua="),
        (
            {"dmarc": Answer(["v=DMARC1; p=reject; aspf=s; rua=mailto:a@d.example"])},
            "DMARC",
            "ok",
            "SPF does not align",
            "",
        ),
        ({"dmarc": Answer(["v=DMARC1; p=reject", "v=DMARC1; p=none"])}, "DMARC", "fail", "2", ""),
        ({"return_path_mx": Answer(["10 other.example"])}, "MX", "fail", "other.example", "MX 10"),
        ({"return_path_mx": Answer([])}, "MX", "warn", "go nowhere", f"MX 10 {HOST}"),
        ({"ptr": [PtrAnswer(ADDRESS)]}, "PTR", "fail", "no reverse name", "reverse name"),
        (
            {"ptr": [PtrAnswer(ADDRESS, ["host.isp.example"], {"host.isp.example": ["1.2.3.4"]})]},
            "PTR",
            "fail",
            "does not resolve back",
            "",
        ),
        ({"ptr": [], "sending_error": ""}, "PTR", "fail", f"{HOST} has no address", "A record"),
        ({"mta_sts": Answer([])}, "MTA-STS", "warn", "No MTA-STS record", "Optional"),
        ({"mta_sts": Answer(["v=STSv1;"])}, "MTA-STS", "fail", "v=STSv1", "id="),
        ({"tls_rpt": Answer([])}, "TLS-RPT", "warn", "No TLS-RPT record", "rua="),
        ({"tls_rpt": Answer(["v=TLSRPTv1;"])}, "TLS-RPT", "fail", "no single rua", ""),
        ({"tls_rpt": Answer(error="timed out")}, "TLS-RPT", "warn", "timed out", ""),
    ],
)
def test_each_problem_says_what_was_found_and_what_to_fix(
    change: dict[str, Any], check: str, status: str, in_found: str, in_fix: str
) -> None:
    finding = found_with(**change)[check]
    assert (finding.status, finding.check) == (status, check)
    assert in_found in finding.found and in_fix in finding.fix


@pytest.mark.parametrize(
    ("unsubscribe", "status", "in_fix"),
    [
        (Unsubscribe(2, "https://t.example"), "ok", ""),
        (Unsubscribe(0, "https://t.example"), "warn", "Create an unsubscribe group"),
        (Unsubscribe(2, "http://127.0.0.1:8080"), "warn", "https://"),
    ],
)
def test_list_unsubscribe_readiness(unsubscribe: Unsubscribe, status: str, in_fix: str) -> None:
    finding = found_with(unsubscribe)["List-Unsubscribe"]
    assert finding.status == status and in_fix in finding.fix
    assert "asm.group_id" in finding.found


def test_the_worst_status_is_the_domains() -> None:
    assert worst(list(found_with().values())) == "ok"
    assert worst(list(found_with(dkim=Answer([])).values())) == "fail"
