"""`flask --app webhook alerts …` (filled in by its issue)."""

COMMANDS: list = []
