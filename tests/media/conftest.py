"""The media suite's fixtures: private Janus instances (see tests/fixtures/janus.py)."""

from tests.fixtures.janus import janus, janus_factory, janus_pair

__all__ = ["janus", "janus_factory", "janus_pair"]
