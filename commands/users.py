"""`flask --app webhook users …` (filled in by its issue)."""

COMMANDS: list = []
