"""Secrets sealed at rest (mta/db/sealed.py): a sealed webhook signing secret is longer than
the 128 characters its column had, so it becomes TEXT like the other sealed columns. The
values themselves are sealed when the server starts (`reseal`): the keys are not in the
database, so a migration cannot do it.

Revision ID: 0008_sealed_secrets
Revises: 0007_sign_in_failures
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_sealed_secrets"
down_revision = "0007_sign_in_failures"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("webhooks") as batch:
        batch.alter_column("signing_secret", type_=sa.Text(), existing_type=sa.String(length=128))


def downgrade() -> None:
    with op.batch_alter_table("webhooks") as batch:
        batch.alter_column("signing_secret", type_=sa.String(length=128), existing_type=sa.Text())
