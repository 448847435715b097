"""SQL for the alerts domain (filled in by its issue)."""

from sqlite_utils import Migrations

migrations = Migrations("madoguchi.alerts")
