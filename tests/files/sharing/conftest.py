"""The files ``Shelf`` (tests/files/core) and a ``Desk`` on it (tests/files/sharing/desk.py)."""

from tests.files.core.conftest import shelf
from tests.files.sharing.desk import desk

__all__ = ["desk", "shelf"]
