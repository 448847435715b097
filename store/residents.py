"""SQL for residents (subscribers): area, language, topics (filled in by issue C)."""

from sqlite_utils import Migrations

migrations = Migrations("madoguchi.residents")
