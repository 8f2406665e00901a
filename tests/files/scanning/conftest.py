"""The scanning suite's fixtures: private clamd instances (see tests/fixtures/clamd.py)."""

from tests.fixtures.clamd import clamd, clamd_factory

__all__ = ["clamd", "clamd_factory"]
