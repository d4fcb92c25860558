"""The DMARC verdict of received mail: aligned SPF or DKIM passes, relaxed and strict, and the
records that give no verdict."""

from __future__ import annotations

import pytest

from mta.inbound_mail.dmarc_verdict import organizational, verdict

REJECT = ["v=DMARC1; p=reject; rua=mailto:d@example.com"]


def test_an_aligned_dkim_pass_passes_whatever_spf_says() -> None:
    found = verdict(REJECT, "example.com", "fail", "bounce.other.net", ("mail.example.com",))
    assert found.field() == "pass"


def test_an_aligned_spf_pass_passes_without_dkim() -> None:
    found = verdict(REJECT, "example.com", "pass", "bounces.example.com", ())
    assert found.field() == "pass"


def test_passes_for_other_domains_fail_with_the_policy() -> None:
    found = verdict(REJECT, "example.com", "pass", "mailer.net", ("mailer.net",))
    assert found.field() == "fail (p=reject)"


@pytest.mark.parametrize(("tag", "result"), [("adkim=s", "fail (p=reject)"), ("adkim=r", "pass")])
def test_strict_alignment_wants_the_same_name(tag: str, result: str) -> None:
    records = [f"v=DMARC1; p=reject; {tag}"]
    assert verdict(records, "example.com", "none", "", ("mail.example.com",)).field() == result


def test_no_record_is_none_and_two_records_a_permerror() -> None:
    assert verdict(["v=spf1 -all"], "example.com", "pass", "example.com", ()).field() == "none"
    assert verdict(REJECT * 2, "example.com", "pass", "example.com", ()).field() == "permerror"


def test_the_organizational_domain_is_the_last_two_labels() -> None:
    assert organizational("a.b.Example.COM.") == "example.com"
