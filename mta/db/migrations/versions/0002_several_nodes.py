"""Several nodes (issue 7): the HTTP rate-limit buckets shared by every node of a PostgreSQL
deployment (control/ratelimit_sql.py).

Revision ID: 0002_several_nodes
Revises: 0001_baseline
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_several_nodes"
down_revision = "0001_baseline"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rate_limit_buckets",
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("tokens", sa.Float(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.Column("allowed", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )
    op.create_index(
        op.f("ix_rate_limit_buckets_updated_at"), "rate_limit_buckets", ["updated_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_rate_limit_buckets_updated_at"), table_name="rate_limit_buckets")
    op.drop_table("rate_limit_buckets")
