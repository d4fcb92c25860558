"""Which mail is a report, and the report inside it: the recipient's local part names the
kind (dmarc@, tlsrpt@ at a host the MX accepts); the first report-like MIME part is unpacked
(bounded) and parsed. Pure: bytes in, a parsed report or ReportRefused out."""

from __future__ import annotations

import email
import email.policy
from email.message import Message
from typing import Literal

from mta.inbound_mail.reports.archives import ReportRefused, unpack
from mta.inbound_mail.reports.dmarc import parse_dmarc
from mta.inbound_mail.reports.tlsrpt import parse_tlsrpt
from mta.services.report_types import DmarcAggregate, TlsReport

ReportKind = Literal["dmarc-aggregate", "tlsrpt"]
REPORT_LOCAL_PARTS: dict[str, ReportKind] = {"dmarc": "dmarc-aggregate", "tlsrpt": "tlsrpt"}
MAX_PARTS = 50  # MIME parts looked at before giving up
REPORT_TYPES = (
    "application/gzip",
    "application/x-gzip",
    "application/zip",
    "application/x-zip-compressed",
    "application/xml",
    "text/xml",
    "application/tlsrpt+gzip",
    "application/tlsrpt+json",
    "application/json",
    "application/octet-stream",
)
REPORT_SUFFIXES = (".xml", ".gz", ".zip", ".json", ".json.gz")


def report_kind(rcpt_tos: list[str]) -> ReportKind | None:
    """The kind of report a recipient's local part asks for (the first that names one)."""
    for rcpt in rcpt_tos:
        local = rcpt.rpartition("@")[0].lower()
        if local in REPORT_LOCAL_PARTS:
            return REPORT_LOCAL_PARTS[local]
    return None


def parse_report_mail(kind: ReportKind, data: bytes) -> DmarcAggregate | TlsReport:
    """The report a received message carries; ReportRefused (with why) for anything else."""
    payload = report_payload(email.message_from_bytes(data, policy=email.policy.compat32))
    report = unpack(payload)
    return parse_dmarc(report) if kind == "dmarc-aggregate" else parse_tlsrpt(report)


def report_payload(message: Message) -> bytes:
    """The decoded body of the first part that looks like a report (type or file name)."""
    for seen, part in enumerate(message.walk()):
        if seen >= MAX_PARTS:
            break
        if part.is_multipart():
            continue
        name = (part.get_filename() or "").lower()
        if part.get_content_type() in REPORT_TYPES or name.endswith(REPORT_SUFFIXES):
            body = part.get_payload(decode=True)
            if isinstance(body, bytes) and body:
                return body
    raise ReportRefused("no report attachment (xml, gzip, zip or json)")
