"""DMARC aggregate and TLS-RPT reports received at the MX, stored per account and domain:
dmarc_reports with their records (dmarc_records) and tls_reports (docs/reports.md).

Revision ID: 0011_inbound_reports
Revises: 0010_webhook_exchanges
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011_inbound_reports"
down_revision = "0010_webhook_exchanges"
branch_labels = None
depends_on = None


def _reporter_columns() -> list[sa.Column[object]]:
    return [
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("account_id", sa.String(32), sa.ForeignKey("accounts.id"), nullable=False),
        sa.Column("domain", sa.String(253), nullable=False),
        sa.Column("org_name", sa.String(200), nullable=False),
    ]


def _period_columns() -> list[sa.Column[object]]:
    return [
        sa.Column("report_id", sa.String(200), nullable=False),
        sa.Column("begin", sa.Float(), nullable=False),
        sa.Column("end", sa.Float(), nullable=False),
        sa.Column("received_at", sa.Float(), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "dmarc_reports",
        *_reporter_columns(),
        sa.Column("email", sa.String(254), nullable=False),
        *_period_columns(),
        sa.Column("policy", sa.JSON(), nullable=False),
    )
    _report_indexes("dmarc_reports")
    op.create_table(
        "dmarc_records",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("report_id", sa.String(32), sa.ForeignKey("dmarc_reports.id"), nullable=False),
        sa.Column("account_id", sa.String(32), sa.ForeignKey("accounts.id"), nullable=False),
        sa.Column("domain", sa.String(253), nullable=False),
        sa.Column("day", sa.String(10), nullable=False),
        sa.Column("source_ip", sa.String(64), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("disposition", sa.String(16), nullable=False),
        sa.Column("dkim", sa.String(16), nullable=False),
        sa.Column("spf", sa.String(16), nullable=False),
        sa.Column("header_from", sa.String(253), nullable=False),
        sa.Column("auth", sa.JSON(), nullable=False),
    )
    op.create_index("ix_dmarc_records_report_id", "dmarc_records", ["report_id"])
    op.create_index(
        "ix_dmarc_records_account_domain_day", "dmarc_records", ["account_id", "domain", "day"]
    )
    op.create_table(
        "tls_reports",
        *_reporter_columns(),
        sa.Column("contact_info", sa.String(254), nullable=False),
        *_period_columns(),
        sa.Column("successful", sa.Integer(), nullable=False),
        sa.Column("failed", sa.Integer(), nullable=False),
        sa.Column("policies", sa.JSON(), nullable=False),
    )
    _report_indexes("tls_reports")


def _report_indexes(table: str) -> None:
    op.create_index(f"ix_{table}_account_domain_begin", table, ["account_id", "domain", "begin"])
    op.create_index(
        f"uq_{table}_reporter", table, ["account_id", "org_name", "report_id"], unique=True
    )


def downgrade() -> None:
    op.drop_table("tls_reports")
    op.drop_table("dmarc_records")
    op.drop_table("dmarc_reports")
