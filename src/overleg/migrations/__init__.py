"""Alembic migrations. ``overleg db upgrade`` applies them; the app refuses a stale schema."""
