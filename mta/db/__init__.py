"""Metadata storage: SQLAlchemy models and the async engine."""
