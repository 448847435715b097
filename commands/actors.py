"""`--by` of every command: the account a command acts as (one rule, in common.security)."""

from __future__ import annotations

import click

from common import security
from common.runtime import services


def actor(by: str, action: str) -> str:
    """The checked name for `--by` (see security.check_actor), or a clear CLI error."""
    try:
        return security.check_actor(services().store.db, by, action)
    except security.ActorRefused as exc:
        raise click.ClickException(str(exc)) from None
