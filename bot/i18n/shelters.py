"""Resident-facing strings of the shelters feature."""

MESSAGES: dict[str, dict[str, str]] = {"ja": {}}
