"""Overleg: a self-hosted team workspace with compliance controls built in."""
