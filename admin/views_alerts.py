"""Alerts pages (filled in once alerts.service exists)."""
