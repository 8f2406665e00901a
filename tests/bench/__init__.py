"""Benchmarks, run by ``make bench`` (``python -m tests.bench``). Results: docs/BENCHMARKS.md.

Not a test suite: no module here is named ``test_*``, so pytest collects nothing from it.
Every number is reported next to a baseline measured in the same process and run, because
absolute speed depends on the machine and whatever else runs on it.
"""
