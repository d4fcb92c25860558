"""Inbound Parse: the hostnames whose mail is posted to an account's URL (SendGrid's
`/v3/user/webhooks/parse/settings`), and that mail, kept from the MX's 250 until posted.

Revision ID: 0012_parse_settings
Revises: 0011_inbound_reports
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012_parse_settings"
down_revision = "0011_inbound_reports"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "parse_settings",
        sa.Column("hostname", sa.String(253), primary_key=True),
        sa.Column("account_id", sa.String(32), sa.ForeignKey("accounts.id"), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("spam_check", sa.Boolean(), nullable=False),
        sa.Column("send_raw", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
    )
    op.create_index("ix_parse_settings_account_id", "parse_settings", ["account_id"])
    op.create_table(
        "parse_messages",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("account_id", sa.String(32), sa.ForeignKey("accounts.id"), nullable=False),
        sa.Column("hostname", sa.String(253), nullable=False),
        sa.Column("received_at", sa.Float(), nullable=False),
        sa.Column("mail_from", sa.String(254), nullable=False),
        sa.Column("rcpt", sa.JSON(), nullable=False),
        sa.Column("sender_ip", sa.String(64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("raw", sa.LargeBinary(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.Float(), nullable=False),
        sa.Column("gives_up_at", sa.Float(), nullable=False),
        sa.Column("lease_until", sa.Float(), nullable=False),
        sa.Column("last_attempt_at", sa.Float(), nullable=True),
        sa.Column("last_status", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=False),
    )
    op.create_index("ix_parse_messages_due", "parse_messages", ["status", "next_attempt_at"])
    op.create_index(
        "ix_parse_messages_account_received", "parse_messages", ["account_id", "received_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_parse_messages_account_received", "parse_messages")
    op.drop_index("ix_parse_messages_due", "parse_messages")
    op.drop_table("parse_messages")
    op.drop_index("ix_parse_settings_account_id", "parse_settings")
    op.drop_table("parse_settings")
