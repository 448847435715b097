"""SQL for the shelters domain (filled in by its issue)."""

from sqlite_utils import Migrations

migrations = Migrations("madoguchi.shelters")
