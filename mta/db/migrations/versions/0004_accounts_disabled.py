"""Accounts an operator can disable (and enable again) and a contact email, as SendGrid's
subusers have: a disabled account's keys are refused, its mail held, its webhooks paused.

Revision ID: 0004_accounts_disabled
Revises: 0003_webhook_oauth
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_accounts_disabled"
down_revision = "0003_webhook_oauth"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("accounts") as batch:
        batch.add_column(
            sa.Column("disabled", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch.add_column(sa.Column("email", sa.String(length=254), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("accounts") as batch:
        batch.drop_column("email")
        batch.drop_column("disabled")
