"""User-facing API, version 1."""
