"""Persistence: ORM models, engine/session, queries (flush, never commit), dialect differences."""
