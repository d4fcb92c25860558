"""Alembic environment, executed by Alembic (never imported) for each command: runs on the
connection mta.db.engine hands over in `config.attributes["connection"]` (a sync facade
of an AsyncConnection, via run_sync)."""

from __future__ import annotations

from alembic import context

from mta.db.models import Base


def _run() -> None:
    connection = context.config.attributes.get("connection")
    if connection is None:
        raise RuntimeError("run migrations through mta.db.engine (scaisend db upgrade)")
    context.configure(
        connection=connection,
        target_metadata=context.config.attributes.get("target_metadata", Base.metadata),
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


_run()
