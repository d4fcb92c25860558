"""A DMARC aggregate report (RFC 7489 appendix C, and DMARCbis's namespaced form) parsed from
its XML with defusedxml: no DTD, no entities; at most MAX_RECORDS records."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException

from mta.inbound_mail.reports.archives import ReportRefused
from mta.services.dns_records import normalise_domain
from mta.services.report_types import DmarcAggregate, DmarcRow

MAX_RECORDS = 10_000  # rows in one report; a large provider's daily report has hundreds
MAX_AUTH_RESULTS = 20  # dkim / spf results kept per row
MAX_TEXT = 253
POLICY_TAGS = ("p", "sp", "pct", "adkim", "aspf", "np", "fo")


def parse_dmarc(xml: bytes) -> DmarcAggregate:
    """The report in `xml`; ReportRefused, with the reason, when it is not one."""
    try:
        root = SafeET.fromstring(xml, forbid_dtd=True)
    except DefusedXmlException as exc:
        raise ReportRefused(f"XML refused: {type(exc).__name__}") from None
    except ET.ParseError as exc:
        raise ReportRefused(f"malformed XML: {exc}") from None
    _strip_namespaces(root)
    if root.tag != "feedback":
        raise ReportRefused(f"not a DMARC aggregate report (root <{root.tag}>)")
    records = root.findall("record")
    if len(records) > MAX_RECORDS:
        raise ReportRefused(f"{len(records)} records (at most {MAX_RECORDS})")
    domain = normalise_domain(_text(root, "policy_published/domain"))
    if domain is None:
        raise ReportRefused("no valid policy_published/domain")
    return DmarcAggregate(
        org_name=_required(root, "report_metadata/org_name"),
        email=_text(root, "report_metadata/email"),
        report_id=_required(root, "report_metadata/report_id"),
        begin=_number(root, "report_metadata/date_range/begin"),
        end=_number(root, "report_metadata/date_range/end"),
        domain=domain,
        policy={tag: _text(root, f"policy_published/{tag}") for tag in POLICY_TAGS},
        rows=[_row(record) for record in records],
    )


def _strip_namespaces(root: ET.Element) -> None:
    for element in root.iter():
        if isinstance(element.tag, str) and "}" in element.tag:
            element.tag = element.tag.rpartition("}")[2]


def _text(element: ET.Element, path: str) -> str:
    found = element.find(path)
    text = found.text if found is not None else None
    return (text or "").strip()[:MAX_TEXT]


def _required(element: ET.Element, path: str) -> str:
    text = _text(element, path)
    if not text:
        raise ReportRefused(f"missing {path}")
    return text


def _number(element: ET.Element, path: str) -> int:
    text = _required(element, path)
    if not text.isdigit() or len(text) > 12:
        raise ReportRefused(f"{path} is not a number: {text[:40]!r}")
    return int(text)


def _row(record: ET.Element) -> DmarcRow:
    dkim = record.findall("auth_results/dkim")[:MAX_AUTH_RESULTS]
    spf = record.findall("auth_results/spf")[:MAX_AUTH_RESULTS]
    return DmarcRow(
        source_ip=_required(record, "row/source_ip")[:64],
        count=_number(record, "row/count"),
        disposition=_text(record, "row/policy_evaluated/disposition").lower()[:16] or "none",
        dkim=_text(record, "row/policy_evaluated/dkim").lower()[:16] or "fail",
        spf=_text(record, "row/policy_evaluated/spf").lower()[:16] or "fail",
        header_from=_text(record, "identifiers/header_from").lower(),
        envelope_from=_text(record, "identifiers/envelope_from").lower(),
        dkim_results=[_auth_result(result, "selector") for result in dkim],
        spf_results=[_auth_result(result, "scope") for result in spf],
    )


def _auth_result(result: ET.Element, extra: str) -> str:
    """`domain=result` as reported, e.g. `example.com (s=scaisend1): pass`."""
    detail = _text(result, extra)
    suffix = f" ({extra[0]}={detail})" if detail else ""
    return f"{_text(result, 'domain') or '-'}{suffix}: {_text(result, 'result') or '-'}"
