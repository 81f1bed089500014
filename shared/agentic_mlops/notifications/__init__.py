"""Notifications sent to people: the Slack approval requests (config, blocks, poster)."""
