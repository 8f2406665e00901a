"""Chats, channel posts and replies, edits, reactions, mentions, read state and pins."""
