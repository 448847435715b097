"""Staff and operator commands: `flask --app webhook <group> <command>`."""

from __future__ import annotations

import importlib

from flask import Flask

# Each module exposes COMMANDS: a list of click commands/groups.
COMMAND_MODULES = (
    "commands.faq",
    "commands.alerts",
    "commands.shelters",
    "commands.users",
    "commands.garbage",
    "commands.reports",
    "commands.richmenu",
    "commands.surveys",
    "commands.answer",
)


def register_commands(app: Flask) -> None:
    for name in COMMAND_MODULES:
        module = importlib.import_module(name)
        for cmd in module.COMMANDS:
            app.cli.add_command(cmd)
