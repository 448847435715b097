"""Resident-facing bot: webhook, event routing, replies, and the LINE API client."""
