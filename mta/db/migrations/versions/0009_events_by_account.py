"""Events read in id order per account (the event feed, `scaisend events tail`): the index on
account_id alone becomes one on (account_id, event_id), which also serves every query that
narrowed by account alone, so each insert still maintains one index for the account.

Revision ID: 0009_events_by_account
Revises: 0008_sealed_secrets
"""

from __future__ import annotations

from alembic import op

revision = "0009_events_by_account"
down_revision = "0008_sealed_secrets"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_events_account_event", "events", ["account_id", "event_id"])
    op.drop_index("ix_events_account_id", table_name="events")


def downgrade() -> None:
    op.create_index("ix_events_account_id", "events", ["account_id"])
    op.drop_index("ix_events_account_event", table_name="events")
