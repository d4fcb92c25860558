"""A TLS-RPT report (RFC 8460 section 4) parsed from its JSON into typed Structs: at most
MAX_POLICIES policies of one policy domain, MAX_FAILURE_DETAILS details each."""

from __future__ import annotations

import datetime as dt

import msgspec

from mta.inbound_mail.reports.archives import ReportRefused
from mta.services.dns_records import normalise_domain
from mta.services.report_types import FailureDetail, TlsPolicy, TlsReport

MAX_POLICIES = 100
MAX_FAILURE_DETAILS = 200


class _DateRange(msgspec.Struct, rename="kebab"):
    start_datetime: dt.datetime
    end_datetime: dt.datetime


class _Policy(msgspec.Struct, rename="kebab"):
    policy_type: str
    policy_domain: str
    policy_string: list[str] = msgspec.field(default_factory=list)
    mx_host: list[str] | str = msgspec.field(default_factory=list)


class _Summary(msgspec.Struct, rename="kebab"):
    total_successful_session_count: int = 0
    total_failure_session_count: int = 0


class _Failure(msgspec.Struct, rename="kebab"):
    result_type: str
    failed_session_count: int = 0
    sending_mta_ip: str = ""
    receiving_mx_hostname: str = ""
    receiving_mx_helo: str = ""
    receiving_ip: str = ""
    failure_reason_code: str = ""
    additional_information: str = ""


class _PolicyReport(msgspec.Struct, rename="kebab"):
    policy: _Policy
    summary: _Summary
    failure_details: list[_Failure] = msgspec.field(default_factory=list)


class _Report(msgspec.Struct, rename="kebab"):
    organization_name: str
    date_range: _DateRange
    report_id: str
    policies: list[_PolicyReport]
    contact_info: str = ""


def parse_tlsrpt(text: bytes) -> TlsReport:
    """The report in `text`; ReportRefused, with the reason, when it is not one."""
    try:
        report = msgspec.json.decode(text, type=_Report)
    except msgspec.DecodeError as exc:  # ValidationError is one: a wrong or missing field
        raise ReportRefused(f"not a TLS-RPT report: {exc}") from None
    if not report.policies:
        raise ReportRefused("no policies")
    if len(report.policies) > MAX_POLICIES:
        raise ReportRefused(f"{len(report.policies)} policies (at most {MAX_POLICIES})")
    domains = {normalise_domain(item.policy.policy_domain) for item in report.policies}
    if len(domains) != 1 or None in domains:
        raise ReportRefused(f"policy-domain not one valid domain: {sorted(map(str, domains))}")
    return TlsReport(
        org_name=report.organization_name[:200],
        contact_info=report.contact_info[:254],
        report_id=report.report_id[:200],
        begin=int(_utc(report.date_range.start_datetime).timestamp()),
        end=int(_utc(report.date_range.end_datetime).timestamp()),
        domain=str(domains.pop()),
        policies=[_policy(item) for item in report.policies],
    )


def _utc(moment: dt.datetime) -> dt.datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def _policy(item: _PolicyReport) -> TlsPolicy:
    if len(item.failure_details) > MAX_FAILURE_DETAILS:
        raise ReportRefused(
            f"{len(item.failure_details)} failure details (at most {MAX_FAILURE_DETAILS})"
        )
    mx_host = [item.policy.mx_host] if isinstance(item.policy.mx_host, str) else item.policy.mx_host
    return TlsPolicy(
        policy_type=item.policy.policy_type[:32],
        policy_domain=item.policy.policy_domain.lower(),
        policy_string=item.policy.policy_string[:50],
        mx_host=mx_host[:50],
        successful=item.summary.total_successful_session_count,
        failed=item.summary.total_failure_session_count,
        failure_details=[
            msgspec.convert(d, FailureDetail, from_attributes=True) for d in item.failure_details
        ],
    )
