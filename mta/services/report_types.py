"""The shapes of a parsed DMARC aggregate report (RFC 7489 appendix C) and TLS-RPT report
(RFC 8460): what the MX's parsers produce and mta/services/reports.py stores and serves."""

from __future__ import annotations

import msgspec


class DmarcRow(msgspec.Struct, frozen=True, kw_only=True):
    """One record of an aggregate report: `dkim` and `spf` are the DMARC (aligned) verdicts
    of policy_evaluated; `dkim_results` / `spf_results` the raw auth_results."""

    source_ip: str
    count: int
    disposition: str
    dkim: str
    spf: str
    header_from: str = ""
    envelope_from: str = ""
    dkim_results: list[str] = msgspec.field(default_factory=list)
    spf_results: list[str] = msgspec.field(default_factory=list)


class DmarcAggregate(msgspec.Struct, frozen=True, kw_only=True):
    org_name: str
    email: str
    report_id: str
    begin: int
    end: int
    domain: str  # policy_published/domain, whose owner the report belongs to
    policy: dict[str, str]
    rows: list[DmarcRow]


class FailureDetail(msgspec.Struct, frozen=True, kw_only=True):
    result_type: str
    failed_session_count: int
    sending_mta_ip: str = ""
    receiving_mx_hostname: str = ""
    receiving_mx_helo: str = ""
    receiving_ip: str = ""
    failure_reason_code: str = ""
    additional_information: str = ""


class TlsPolicy(msgspec.Struct, frozen=True, kw_only=True):
    policy_type: str
    policy_domain: str
    policy_string: list[str]
    mx_host: list[str]
    successful: int
    failed: int
    failure_details: list[FailureDetail]


class TlsReport(msgspec.Struct, frozen=True, kw_only=True):
    org_name: str
    contact_info: str
    report_id: str
    begin: int
    end: int
    domain: str  # the policies' policy-domain
    policies: list[TlsPolicy]
