"""Resident-facing strings of the residents feature."""

MESSAGES: dict[str, dict[str, str]] = {"ja": {}}
