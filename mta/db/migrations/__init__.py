"""Alembic migrations of the ScaiSend schema: env.py and versions/, configured in code by
mta.db.engine (no alembic.ini); a new revision is made as docs/database.md says."""
