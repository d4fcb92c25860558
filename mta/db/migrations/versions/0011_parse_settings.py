"""Inbound Parse: the hostnames whose mail is posted to an account's URL (SendGrid's
`/v3/user/webhooks/parse/settings`).

Revision ID: 0011_parse_settings
Revises: 0010_webhook_exchanges
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011_parse_settings"
down_revision = "0010_webhook_exchanges"
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


def downgrade() -> None:
    op.drop_index("ix_parse_settings_account_id", "parse_settings")
    op.drop_table("parse_settings")
