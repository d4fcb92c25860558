"""The Domains page's reading of a record's check: not checked, found, missing, different
(with what DNS has), a failed look-up; and the add form as DomainCreate's body."""

from __future__ import annotations

import pytest

from control.schemas.bodies import DomainCreate
from control.ui.forms import form_struct
from control.ui.pages.domains import form_fields, record_row
from mta.services.dns_records import DnsRecord

TXT = DnsRecord(type="TXT", host="_dmarc.d.example", value="v=DMARC1; p=none", purpose="dmarc")
MX = DnsRecord(
    type="MX", host="bounces.d.example", value="mx.s.test", priority=10, purpose="return_path"
)


@pytest.mark.parametrize(
    ("valid", "reason", "found", "verified", "state", "starts"),
    [
        (None, None, None, False, "", "Not checked yet"),
        (None, None, None, True, "found", "Found when the domain was last verified"),
        (True, None, ["v=DMARC1; p=none"], False, "found", "Found: published as expected"),
        (False, "no TXT record found", [], False, "missing", "Missing: nothing of type TXT"),
        (
            False,
            "TXT at x does not match",
            ["v=DMARC1; p=reject"],
            False,
            "different",
            "Found but different: TXT at x",
        ),
        (
            False,
            "lookup failed: DnsTemporaryError",
            None,
            True,
            "failed",
            "Could not ask DNS (lookup failed",
        ),
    ],
)
def test_a_records_result_in_words(
    valid: bool | None,
    reason: str | None,
    found: list[str] | None,
    verified: bool,
    state: str,
    starts: str,
) -> None:
    record = DnsRecord(
        type=TXT.type,
        host=TXT.host,
        value=TXT.value,
        purpose=TXT.purpose,
        valid=valid,
        reason=reason,
        found=found,
    )
    row = record_row(record, verified)
    assert (row.state, row.reason[: len(starts)]) == (state, starts)
    assert row.found == (found or [])


def test_an_mx_value_is_shown_with_its_priority() -> None:
    row = record_row(MX)
    assert (row.value, row.purpose) == ("10 mx.s.test", "Return path MX: bounces come back to us")


def test_the_form_is_the_apis_body() -> None:
    form = {"domain": " Mail.Example.com ", "dmarc_policy": "", "dmarc_rua_email": "  "}
    body = form_struct(form_fields(form), DomainCreate)
    assert body == DomainCreate(
        domain=" Mail.Example.com ", dmarc_policy="none", dmarc_rua_email=None
    )
