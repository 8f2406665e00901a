"""Teams, channels, memberships and channel moderation."""
