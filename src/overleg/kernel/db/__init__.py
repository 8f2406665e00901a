"""Database: declarative base, column types, engine + sessions, tenant scoping."""
