"""Baseline: the schema as mta.db.models defined it when migrations began (issue 7).

Written out explicitly; a database made earlier by create_all is stamped at this revision.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001_baseline"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "accounts",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    op.create_table(
        "events",
        sa.Column("event_id", sa.String(length=32), nullable=False),
        sa.Column("account_id", sa.String(length=32), nullable=False),
        sa.Column("message_id", sa.String(length=32), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("event_type", sa.String(length=24), nullable=False),
        sa.Column("timestamp", sa.Integer(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("event_id"),
    )
    op.create_index(op.f("ix_events_account_id"), "events", ["account_id"], unique=False)
    op.create_index(op.f("ix_events_message_id"), "events", ["message_id"], unique=False)
    op.create_index("ix_events_timestamp", "events", ["timestamp"], unique=False)
    op.create_table(
        "inbound_messages",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("received_at", sa.Float(), nullable=False),
        sa.Column("mail_from", sa.String(length=254), nullable=False),
        sa.Column("rcpt", sa.Text(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("dkim", sa.String(length=16), nullable=False),
        sa.Column("authres", sa.Text(), nullable=False),
        sa.Column("message_id", sa.String(length=32), nullable=True),
        sa.Column("account_id", sa.String(length=32), nullable=True),
        sa.Column("events", sa.JSON(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        op.f("ix_inbound_messages_account_id"), "inbound_messages", ["account_id"], unique=False
    )
    op.create_index(
        op.f("ix_inbound_messages_message_id"), "inbound_messages", ["message_id"], unique=False
    )
    op.create_index(
        op.f("ix_inbound_messages_received_at"), "inbound_messages", ["received_at"], unique=False
    )
    op.create_table(
        "stats_daily",
        sa.Column("account_id", sa.String(length=32), nullable=False),
        sa.Column("category", sa.String(length=255), nullable=False),
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.Column("blocks", sa.Integer(), nullable=False),
        sa.Column("bounce_drops", sa.Integer(), nullable=False),
        sa.Column("bounces", sa.Integer(), nullable=False),
        sa.Column("clicks", sa.Integer(), nullable=False),
        sa.Column("deferred", sa.Integer(), nullable=False),
        sa.Column("delivered", sa.Integer(), nullable=False),
        sa.Column("invalid_emails", sa.Integer(), nullable=False),
        sa.Column("opens", sa.Integer(), nullable=False),
        sa.Column("processed", sa.Integer(), nullable=False),
        sa.Column("requests", sa.Integer(), nullable=False),
        sa.Column("spam_report_drops", sa.Integer(), nullable=False),
        sa.Column("spam_reports", sa.Integer(), nullable=False),
        sa.Column("unique_clicks", sa.Integer(), nullable=False),
        sa.Column("unique_opens", sa.Integer(), nullable=False),
        sa.Column("unsubscribe_drops", sa.Integer(), nullable=False),
        sa.Column("unsubscribes", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("account_id", "category", "day"),
    )
    op.create_index("ix_stats_daily_day", "stats_daily", ["account_id", "day"], unique=False)
    op.create_table(
        "suppressions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("account_id", sa.String(length=32), nullable=False),
        sa.Column("list", sa.String(length=16), nullable=False),
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("created", sa.Integer(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("ip", sa.String(length=64), nullable=False),
        sa.Column("event_id", sa.String(length=32), nullable=True),
        sa.Column("event_type", sa.String(length=24), nullable=True),
        sa.Column("message_id", sa.String(length=32), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_suppressions_created", "suppressions", ["account_id", "list", "created"], unique=False
    )
    op.create_index("ix_suppressions_email", "suppressions", ["account_id", "email"], unique=False)
    op.create_index(
        "ux_suppressions_entry",
        "suppressions",
        ["account_id", "list", "group_id", "email"],
        unique=True,
    )
    op.create_table(
        "api_keys",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("account_id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("environment", sa.String(length=8), nullable=False),
        sa.Column("scopes", sa.JSON(), nullable=False),
        sa.Column("secret_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("revoked_at", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_api_keys_account_id"), "api_keys", ["account_id"], unique=False)
    op.create_table(
        "asm_groups",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("account_id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("description", sa.String(length=200), nullable=False),
        sa.Column("is_default", sa.Boolean(), nullable=False),
        sa.Column("created", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_asm_groups_account_id"), "asm_groups", ["account_id"], unique=False)
    op.create_table(
        "domains",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("account_id", sa.String(length=32), nullable=False),
        sa.Column("domain", sa.String(length=253), nullable=False),
        sa.Column("dkim_selector", sa.String(length=63), nullable=False),
        sa.Column("dkim_private_key", sa.Text(), nullable=False),
        sa.Column("dkim_public_key", sa.Text(), nullable=False),
        sa.Column("return_path_host", sa.String(length=253), nullable=False),
        sa.Column("dmarc_policy", sa.String(length=16), nullable=False),
        sa.Column("dmarc_rua_email", sa.String(length=254), nullable=True),
        sa.Column("verified", sa.Boolean(), nullable=False),
        sa.Column("verified_at", sa.Float(), nullable=True),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_domains_account_domain", "domains", ["account_id", "domain"], unique=True)
    op.create_index(op.f("ix_domains_account_id"), "domains", ["account_id"], unique=False)
    op.create_index(
        op.f("ix_domains_return_path_host"), "domains", ["return_path_host"], unique=False
    )
    op.create_table(
        "mail_batches",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("account_id", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=8), nullable=True),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        op.f("ix_mail_batches_account_id"), "mail_batches", ["account_id"], unique=False
    )
    op.create_index(op.f("ix_mail_batches_status"), "mail_batches", ["status"], unique=False)
    op.create_table(
        "messages",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("account_id", sa.String(length=32), nullable=False),
        sa.Column("api_key_id", sa.String(length=32), nullable=True),
        sa.Column("from_email", sa.String(length=254), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("template_id", sa.String(length=64), nullable=True),
        sa.Column("categories", sa.JSON(), nullable=False),
        sa.Column("custom_args", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("sandbox", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.Column("last_event_time", sa.Float(), nullable=True),
        sa.Column("opens_count", sa.Integer(), nullable=False),
        sa.Column("clicks_count", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_messages_account_created", "messages", ["account_id", "created_at"], unique=False
    )
    op.create_index(
        "ix_messages_account_from",
        "messages",
        ["account_id", "from_email", "created_at"],
        unique=False,
    )
    op.create_index(op.f("ix_messages_account_id"), "messages", ["account_id"], unique=False)
    op.create_index(
        "ix_messages_account_key",
        "messages",
        ["account_id", "api_key_id", "created_at"],
        unique=False,
    )
    op.create_index(
        "ix_messages_account_last_event",
        "messages",
        ["account_id", "last_event_time"],
        unique=False,
    )
    op.create_index(
        "ix_messages_account_status",
        "messages",
        ["account_id", "status", "created_at"],
        unique=False,
    )
    op.create_index(
        "ix_messages_account_subject",
        "messages",
        ["account_id", "subject", "created_at"],
        unique=False,
    )
    op.create_index(
        "ix_messages_account_template",
        "messages",
        ["account_id", "template_id", "created_at"],
        unique=False,
    )
    op.create_index(op.f("ix_messages_api_key_id"), "messages", ["api_key_id"], unique=False)
    op.create_index(op.f("ix_messages_created_at"), "messages", ["created_at"], unique=False)
    op.create_table(
        "templates",
        sa.Column("account_id", sa.String(length=32), nullable=False),
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("generation", sa.String(length=8), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
        ),
        sa.PrimaryKeyConstraint("account_id", "id"),
    )
    op.create_table(
        "webhook_signing_keys",
        sa.Column("account_id", sa.String(length=32), nullable=False),
        sa.Column("private_key_pem", sa.Text(), nullable=False),
        sa.Column("public_key", sa.Text(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
        ),
        sa.PrimaryKeyConstraint("account_id"),
    )
    op.create_table(
        "webhooks",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("account_id", sa.String(length=32), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("enabled_events", sa.JSON(), nullable=False),
        sa.Column("signing_secret", sa.String(length=128), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("format", sa.String(length=12), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_webhooks_account_id"), "webhooks", ["account_id"], unique=False)
    op.create_table(
        "message_categories",
        sa.Column("message_id", sa.String(length=32), nullable=False),
        sa.Column("category", sa.String(length=255), nullable=False),
        sa.Column("account_id", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["messages.id"],
        ),
        sa.PrimaryKeyConstraint("message_id", "category"),
    )
    op.create_index(
        "ix_message_categories_lookup",
        "message_categories",
        ["account_id", "category", "created_at"],
        unique=False,
    )
    op.create_table(
        "message_recipients",
        sa.Column("message_id", sa.String(length=32), nullable=False),
        sa.Column("index", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["messages.id"],
        ),
        sa.PrimaryKeyConstraint("message_id", "index"),
    )
    op.create_index(
        op.f("ix_message_recipients_email"), "message_recipients", ["email"], unique=False
    )
    op.create_table(
        "template_versions",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("account_id", sa.String(length=32), nullable=False),
        sa.Column("template_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("html_content", sa.Text(), nullable=False),
        sa.Column("plain_content", sa.Text(), nullable=False),
        sa.Column("generate_plain_content", sa.Boolean(), nullable=False),
        sa.Column("editor", sa.String(length=8), nullable=False),
        sa.Column("test_data", sa.Text(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id", "template_id"],
            ["templates.account_id", "templates.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_template_versions_template",
        "template_versions",
        ["account_id", "template_id"],
        unique=False,
    )
    op.create_index(
        "ux_template_versions_active",
        "template_versions",
        ["account_id", "template_id"],
        unique=True,
        sqlite_where=sa.text("active"),
        postgresql_where=sa.text("active"),
    )
    op.create_table(
        "webhook_deliveries",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("webhook_id", sa.String(length=32), nullable=False),
        sa.Column("event_id", sa.String(length=32), nullable=False),
        sa.Column("event_type", sa.String(length=24), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.Float(), nullable=False),
        sa.Column("last_status", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("claimed_until", sa.Float(), nullable=True),
        sa.Column("claim_token", sa.String(length=32), nullable=True),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("last_attempt_at", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(
            ["webhook_id"],
            ["webhooks.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_webhook_deliveries_due",
        "webhook_deliveries",
        ["state", "next_attempt_at"],
        unique=False,
    )
    op.create_index(
        op.f("ix_webhook_deliveries_webhook_id"), "webhook_deliveries", ["webhook_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_webhook_deliveries_webhook_id"), table_name="webhook_deliveries")
    op.drop_index("ix_webhook_deliveries_due", table_name="webhook_deliveries")
    op.drop_table("webhook_deliveries")
    op.drop_index(
        "ux_template_versions_active",
        table_name="template_versions",
        sqlite_where=sa.text("active"),
        postgresql_where=sa.text("active"),
    )
    op.drop_index("ix_template_versions_template", table_name="template_versions")
    op.drop_table("template_versions")
    op.drop_index(op.f("ix_message_recipients_email"), table_name="message_recipients")
    op.drop_table("message_recipients")
    op.drop_index("ix_message_categories_lookup", table_name="message_categories")
    op.drop_table("message_categories")
    op.drop_index(op.f("ix_webhooks_account_id"), table_name="webhooks")
    op.drop_table("webhooks")
    op.drop_table("webhook_signing_keys")
    op.drop_table("templates")
    op.drop_index(op.f("ix_messages_created_at"), table_name="messages")
    op.drop_index(op.f("ix_messages_api_key_id"), table_name="messages")
    op.drop_index("ix_messages_account_template", table_name="messages")
    op.drop_index("ix_messages_account_subject", table_name="messages")
    op.drop_index("ix_messages_account_status", table_name="messages")
    op.drop_index("ix_messages_account_last_event", table_name="messages")
    op.drop_index("ix_messages_account_key", table_name="messages")
    op.drop_index(op.f("ix_messages_account_id"), table_name="messages")
    op.drop_index("ix_messages_account_from", table_name="messages")
    op.drop_index("ix_messages_account_created", table_name="messages")
    op.drop_table("messages")
    op.drop_index(op.f("ix_mail_batches_status"), table_name="mail_batches")
    op.drop_index(op.f("ix_mail_batches_account_id"), table_name="mail_batches")
    op.drop_table("mail_batches")
    op.drop_index(op.f("ix_domains_return_path_host"), table_name="domains")
    op.drop_index(op.f("ix_domains_account_id"), table_name="domains")
    op.drop_index("ix_domains_account_domain", table_name="domains")
    op.drop_table("domains")
    op.drop_index(op.f("ix_asm_groups_account_id"), table_name="asm_groups")
    op.drop_table("asm_groups")
    op.drop_index(op.f("ix_api_keys_account_id"), table_name="api_keys")
    op.drop_table("api_keys")
    op.drop_index("ux_suppressions_entry", table_name="suppressions")
    op.drop_index("ix_suppressions_email", table_name="suppressions")
    op.drop_index("ix_suppressions_created", table_name="suppressions")
    op.drop_table("suppressions")
    op.drop_index("ix_stats_daily_day", table_name="stats_daily")
    op.drop_table("stats_daily")
    op.drop_index(op.f("ix_inbound_messages_received_at"), table_name="inbound_messages")
    op.drop_index(op.f("ix_inbound_messages_message_id"), table_name="inbound_messages")
    op.drop_index(op.f("ix_inbound_messages_account_id"), table_name="inbound_messages")
    op.drop_table("inbound_messages")
    op.drop_index("ix_events_timestamp", table_name="events")
    op.drop_index(op.f("ix_events_message_id"), table_name="events")
    op.drop_index(op.f("ix_events_account_id"), table_name="events")
    op.drop_table("events")
    op.drop_table("accounts")
