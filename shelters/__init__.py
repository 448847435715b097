"""Shelters: open-data import, live status, nearest-shelter search."""
