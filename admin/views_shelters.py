"""Shelters pages (filled in once shelters.service exists)."""
