"""The delivery log keeps what the last attempt of a webhook delivery sent and got back (the
headers, the number of events the POST carried, the start of the receiver's answer), so a
user can see why a receiver refused it.

Revision ID: 0010_webhook_exchanges
Revises: 0009_events_by_account
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010_webhook_exchanges"
down_revision = "0009_events_by_account"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("webhook_deliveries") as batch:
        batch.add_column(sa.Column("last_exchange", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("webhook_deliveries") as batch:
        batch.drop_column("last_exchange")
