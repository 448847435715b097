"""Resident-facing strings of the alerts feature."""

MESSAGES: dict[str, dict[str, str]] = {"ja": {}}
