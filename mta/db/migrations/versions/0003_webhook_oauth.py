"""Webhook OAuth: a webhook's OAuth 2.0 client-credentials settings, the client id,
secret and token URL SendGrid's event webhook API takes.

Revision ID: 0003_webhook_oauth
Revises: 0002_several_nodes
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_webhook_oauth"
down_revision = "0002_several_nodes"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("webhooks") as batch:
        batch.add_column(sa.Column("oauth_client_id", sa.String(length=255), nullable=True))
        batch.add_column(sa.Column("oauth_client_secret", sa.Text(), nullable=True))
        batch.add_column(sa.Column("oauth_token_url", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("webhooks") as batch:
        batch.drop_column("oauth_token_url")
        batch.drop_column("oauth_client_secret")
        batch.drop_column("oauth_client_id")
