"""The tables of received DMARC aggregate and TLS-RPT reports, one account's each (beside
mta/db/models.py, whose Base they share and which imports them; that file is full)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Float, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from mta.db.models import Base


class DmarcReportRow(Base):
    """One DMARC aggregate report for one account's domain: who sent it, the period it
    covers and the policy it saw published; its records are `DmarcRecordRow`s."""

    __tablename__ = "dmarc_reports"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"))
    domain: Mapped[str] = mapped_column(String(253))
    org_name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(254))
    report_id: Mapped[str] = mapped_column(String(200))
    begin: Mapped[float] = mapped_column(Float)
    end: Mapped[float] = mapped_column(Float)
    received_at: Mapped[float] = mapped_column(Float)
    policy: Mapped[dict[str, Any]]
    __table_args__ = (
        Index("ix_dmarc_reports_account_domain_begin", "account_id", "domain", "begin"),
        # a reporter sending the same report twice stores it once
        Index("uq_dmarc_reports_reporter", "account_id", "org_name", "report_id", unique=True),
    )


class DmarcRecordRow(Base):
    """One row of a DMARC report: a source IP's message count, the disposition applied, the
    DKIM and SPF alignment verdicts, and (`auth`) the raw authentication results."""

    __tablename__ = "dmarc_records"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    report_id: Mapped[str] = mapped_column(ForeignKey("dmarc_reports.id"), index=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"))
    domain: Mapped[str] = mapped_column(String(253))
    day: Mapped[str] = mapped_column(String(10))  # the report's first day, UTC, YYYY-MM-DD
    source_ip: Mapped[str] = mapped_column(String(64))
    count: Mapped[int] = mapped_column(Integer)
    disposition: Mapped[str] = mapped_column(String(16))
    dkim: Mapped[str] = mapped_column(String(16))
    spf: Mapped[str] = mapped_column(String(16))
    header_from: Mapped[str] = mapped_column(String(253))
    auth: Mapped[dict[str, Any]]
    __table_args__ = (Index("ix_dmarc_records_account_domain_day", "account_id", "domain", "day"),)


class TlsReportRow(Base):
    """One TLS-RPT report for one account's domain: totals and, per policy, the successful
    and failed session counts with the failure details (`policies`)."""

    __tablename__ = "tls_reports"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"))
    domain: Mapped[str] = mapped_column(String(253))
    org_name: Mapped[str] = mapped_column(String(200))
    contact_info: Mapped[str] = mapped_column(String(254))
    report_id: Mapped[str] = mapped_column(String(200))
    begin: Mapped[float] = mapped_column(Float)
    end: Mapped[float] = mapped_column(Float)
    received_at: Mapped[float] = mapped_column(Float)
    successful: Mapped[int] = mapped_column(Integer)
    failed: Mapped[int] = mapped_column(Integer)
    policies: Mapped[list[Any]]
    __table_args__ = (
        Index("ix_tls_reports_account_domain_begin", "account_id", "domain", "begin"),
        Index("uq_tls_reports_reporter", "account_id", "org_name", "report_id", unique=True),
    )
