"""Every staff command says how it is used: its --help ends with an `Example:` line to copy."""

from __future__ import annotations

import importlib

import click
import pytest

from commands import COMMAND_MODULES


def _leaves(cmd: click.Command, path: tuple[str, ...]) -> list[tuple[tuple[str, ...], click.Command]]:
    if isinstance(cmd, click.Group):
        out = []
        for name, sub in cmd.commands.items():
            out += _leaves(sub, (*path, name))
        return out
    return [(path, cmd)]


def _commands() -> list[tuple[tuple[str, ...], click.Command]]:
    out = []
    for module in COMMAND_MODULES:
        for cmd in importlib.import_module(module).COMMANDS:
            out += _leaves(cmd, (cmd.name,))
    return out


COMMANDS = _commands()


def test_the_commands_are_found():
    names = {" ".join(path) for path, _ in COMMANDS}
    assert {"faq publish", "alert create", "shelters import", "worker"} <= names
    assert len(names) > 30


@pytest.mark.parametrize(("path", "cmd"), COMMANDS, ids=[" ".join(p) for p, _ in COMMANDS])
def test_help_has_an_example(path, cmd):
    with click.Context(cmd, info_name=" ".join(path)) as ctx:
        text = cmd.get_help(ctx)
    examples = [line.strip() for line in text.splitlines() if line.strip().startswith("Example:")]
    assert examples, f"`flask --app webhook {' '.join(path)} --help` shows no `Example:` line"
    assert all(e.startswith(f"Example: flask --app webhook {' '.join(path)}") for e in examples), examples
