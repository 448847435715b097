"""Location messages and shelter questions (issue D)."""
