"""A domain is verified by one account only: a unique index over verified domains. Where
several accounts had verified the same domain, the first to verify keeps it and the others
are unverified (they verify again once the domain is theirs).

Revision ID: 0005_domain_one_owner
Revises: 0004_accounts_disabled
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_domain_one_owner"
down_revision = "0004_accounts_disabled"
branch_labels = None
depends_on = None

LATER_VERIFIER = """
UPDATE domains SET verified = FALSE, verified_at = NULL
WHERE verified AND EXISTS (
    SELECT 1 FROM domains AS first
    WHERE first.domain = domains.domain AND first.verified AND first.id != domains.id
      AND (first.verified_at < domains.verified_at
           OR (first.verified_at = domains.verified_at AND first.id < domains.id))
)
"""


def upgrade() -> None:
    op.execute(sa.text(LATER_VERIFIER))
    op.create_index(
        "uq_domains_verified_domain",
        "domains",
        ["domain"],
        unique=True,
        sqlite_where=sa.text("verified"),
        postgresql_where=sa.text("verified"),
    )


def downgrade() -> None:
    op.drop_index(
        "uq_domains_verified_domain",
        table_name="domains",
        sqlite_where=sa.text("verified"),
        postgresql_where=sa.text("verified"),
    )
