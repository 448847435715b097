"""`--by` of every command: the account a command acts as (one rule, in common.security)."""

from __future__ import annotations

import click

from bot.runtime import runtime
from common import security


def actor(by: str, action: str) -> str:
    """The checked name for `--by` (see security.check_actor), or a clear CLI error."""
    try:
        return security.check_actor(runtime().store.db, by, action)
    except security.ActorRefused as exc:
        raise click.ClickException(str(exc)) from None
