"""The report parsers against real report documents and hostile ones: gzip, zip and plain
unpacking within MAX_UNPACKED_BYTES, zip and gzip bombs, an XML entity bomb, malformed XML,
and TLS-RPT JSON of the wrong shape, each refused with a reason."""

from __future__ import annotations

import gzip
import io
import zipfile

import pytest

from mta.inbound_mail.reports.archives import (
    MAX_UNPACKED_BYTES,
    MAX_ZIP_MEMBERS,
    ReportRefused,
    gunzip,
    unpack,
    unzip,
)
from mta.inbound_mail.reports.dmarc import MAX_RECORDS, parse_dmarc
from mta.inbound_mail.reports.extract import parse_report_mail, report_kind
from mta.inbound_mail.reports.tlsrpt import parse_tlsrpt
from tests.support.report_samples import dmarc_xml, gzipped, report_mail, tlsrpt_json, zipped

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<feedback><report_metadata><org_name>&lol4;</org_name></report_metadata></feedback>"""


def test_a_dmarc_report_parses_into_rows() -> None:
    report = parse_dmarc(dmarc_xml())
    assert (report.org_name, report.report_id, report.domain) == (
        "google.com",
        "r-1",
        "mail.example.com",
    )
    assert (report.begin, report.end) == (1764892800, 1764979199)
    assert report.policy["p"] == "quarantine" and report.policy["adkim"] == "r"
    first, second = report.rows
    assert (first.source_ip, first.count, first.dkim, first.spf) == (
        "192.0.2.10",
        12,
        "pass",
        "pass",
    )
    assert first.dkim_results == ["mail.example.com (s=scaisend1): pass"]
    assert (second.source_ip, second.disposition, second.dkim) == (
        "203.0.113.66",
        "quarantine",
        "fail",
    )
    assert second.spf_results == ["spoofer.example: softfail"]


def test_a_namespaced_dmarcbis_report_parses() -> None:
    xml = dmarc_xml().replace(b"<feedback>", b'<feedback xmlns="urn:ietf:params:xml:ns:dmarc-2.0">')
    assert parse_dmarc(xml).rows[0].count == 12


@pytest.mark.parametrize(
    ("xml", "reason"),
    [
        (BILLION_LAUGHS, "XML refused: DTDForbidden"),
        (b"<feedback><report_metadata>", "malformed XML"),
        (b"<html><body>hello</body></html>", "not a DMARC aggregate report"),
        (
            dmarc_xml().replace(b"<report_id>r-1</report_id>", b""),
            "missing report_metadata/report_id",
        ),
        (dmarc_xml(domain="not a domain"), "no valid policy_published/domain"),
        (
            dmarc_xml().replace(b"<count>12</count>", b"<count>-1</count>"),
            "row/count is not a number",
        ),
    ],
)
def test_bad_dmarc_xml_is_refused_with_a_reason(xml: bytes, reason: str) -> None:
    with pytest.raises(ReportRefused, match=reason):
        parse_dmarc(xml)


def test_an_external_entity_is_refused() -> None:
    xml = b'<?xml version="1.0"?><!DOCTYPE f [<!ENTITY x SYSTEM "file:///etc/passwd">]><feedback>&x;</feedback>'
    with pytest.raises(ReportRefused, match="XML refused"):
        parse_dmarc(xml)


def test_too_many_records_are_refused() -> None:
    record = dmarc_xml().split(b"<record>")[1].split(b"</record>")[0]
    head, _, _ = dmarc_xml().partition(b"<record>")
    xml = head + (b"<record>" + record + b"</record>") * (MAX_RECORDS + 1) + b"</feedback>"
    with pytest.raises(ReportRefused, match="records"):
        parse_dmarc(xml)


def test_gzip_zip_and_plain_unpack_to_the_same_report() -> None:
    xml = dmarc_xml()
    assert unpack(gzipped(xml)) == unpack(zipped("google.com!example.com!1!2.xml", xml)) == xml
    assert unpack(xml) == xml
    assert unpack(gzipped(xml) + gzipped(b"<!-- 2nd member -->")) == xml + b"<!-- 2nd member -->"


def test_a_gzip_bomb_is_refused_before_it_expands() -> None:
    bomb = gzip.compress(b"\0" * (MAX_UNPACKED_BYTES + 1024 * 1024), compresslevel=9)
    assert len(bomb) < MAX_UNPACKED_BYTES // 100  # a small file that would expand a lot
    with pytest.raises(ReportRefused, match="decompression bomb"):
        unpack(bomb)
    assert gunzip(gzip.compress(b"x" * 100), limit=100) == b"x" * 100
    with pytest.raises(ReportRefused, match="expands past 99"):
        gunzip(gzip.compress(b"x" * 100), limit=99)


def test_a_zip_bomb_is_refused_even_when_it_lies_about_its_size() -> None:
    honest = zipped("r.xml", b"\0" * (MAX_UNPACKED_BYTES + 1))
    with pytest.raises(ReportRefused, match="declares"):
        unpack(honest)
    liar = bytearray(zipped("r.xml", b"\0" * 10_000))
    # the central directory's uncompressed size (offset 24 in its entry) says 10 bytes
    central = liar.rindex(b"PK\x01\x02")
    liar[central + 24 : central + 28] = (10).to_bytes(4, "little")
    with pytest.raises(ReportRefused):
        unzip(bytes(liar), limit=5_000)


def test_zip_oddities_are_refused() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for n in range(MAX_ZIP_MEMBERS + 1):
            archive.writestr(f"{n}.xml", b"<feedback/>")
    with pytest.raises(ReportRefused, match="files"):
        unpack(buffer.getvalue())
    with pytest.raises(ReportRefused, match="bad zip"):
        unpack(b"PK\x03\x04 not really a zip")
    with pytest.raises(ReportRefused, match=r"bad gzip|truncated"):
        unpack(gzipped(dmarc_xml())[:40])


def test_a_tlsrpt_report_parses_per_policy() -> None:
    report = parse_tlsrpt(tlsrpt_json())
    assert (report.org_name, report.report_id, report.domain) == (
        "Company-X",
        "t-1",
        "mail.example.com",
    )
    assert report.begin == 1764892800
    [policy] = report.policies
    assert (policy.policy_type, policy.successful, policy.failed) == ("sts", 5326, 303)
    assert [d.result_type for d in policy.failure_details] == [
        "certificate-expired",
        "starttls-not-supported",
    ]
    assert policy.failure_details[1].receiving_ip == "203.0.113.56"


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (b"{", "not a TLS-RPT report"),
        (b'{"organization-name": "x"}', "not a TLS-RPT report"),
        (
            tlsrpt_json().replace(
                b'"policy-domain": "mail.example.com"', b'"policy-domain": "x y"'
            ),
            "policy-domain",
        ),
        (tlsrpt_json().replace(b"5326", b'"many"'), "not a TLS-RPT report"),
    ],
)
def test_bad_tlsrpt_json_is_refused(text: bytes, reason: str) -> None:
    with pytest.raises(ReportRefused, match=reason):
        parse_tlsrpt(text)


def test_report_mails_by_address_and_attachment() -> None:
    assert report_kind(["DMARC@bounces.example.com"]) == "dmarc-aggregate"
    assert report_kind(["x@y", "tlsrpt@bounces.example.com"]) == "tlsrpt"
    assert report_kind(["bounce+abc@bounces.example.com"]) is None
    mail = report_mail(zipped("r.xml", dmarc_xml()), "application/zip", "r.zip")
    assert parse_report_mail("dmarc-aggregate", mail).domain == "mail.example.com"
    tls = report_mail(gzipped(tlsrpt_json()), "application/tlsrpt+gzip", "t.json.gz")
    assert parse_report_mail("tlsrpt", tls).report_id == "t-1"
    plain = report_mail(tlsrpt_json(), "application/tlsrpt+json", "t.json")
    assert parse_report_mail("tlsrpt", plain).policies[0].failed == 303
    with pytest.raises(ReportRefused, match="no report attachment"):
        parse_report_mail("dmarc-aggregate", b"Subject: hi\r\n\r\njust text\r\n")
