"""Meetings' audio and video: the Janus instances Overleg drives (config, client, placement)."""
