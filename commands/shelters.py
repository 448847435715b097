"""`flask --app webhook shelters …` (filled in by its issue)."""

COMMANDS: list = []
