"""`flask --app webhook shelters …`: import open data, set and review shelter status."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup

from bot.runtime import runtime
from commands.actors import actor
from shelters import service
from shelters.importer import ShelterFileInvalid
from store.shelters import MassWithdrawal
from store.vocab import SHELTER_STATUS, ShelterStatus

shelters_cli = AppGroup("shelters", help="Import shelter open data and keep each shelter's status.")

STATUSES = [s.value for s in ShelterStatus]
WITHDRAWN_SHOWN = 20  # withdrawn shelters named in the import summary (the audit log has them all)


def _db():
    return runtime().store.db


def _seed() -> None:
    service.ensure_seeded(runtime().store, current_app.config.get("SHELTERS_CSV"))


@shelters_cli.command("import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--by", "by", default="cli", show_default=True, help="Who imports (kept in the audit log).")
@click.option(
    "--allow-withdraw",
    is_flag=True,
    help="Allow an import that withdraws more than half of the shelters its source had (refused otherwise).",
)
def import_cmd(file: Path, by: str, allow_withdraw: bool) -> None:
    """Import a 自治体標準 CSV, a GSI CSV or a GSI GeoJSON file (format detected).

    Shelters are matched by the source's own id (ID / 共通ID): new ones are added, known ones
    updated, status and status history kept. Shelters of the same source (自治体標準, or GSI in
    either format) and municipality that the file no longer lists are withdrawn: hidden from
    residents and exports, history kept, reinstated if a later file lists them again;
    withdrawing more than half of them needs --allow-withdraw. A file with any error changes
    nothing. Residents are never notified of data changes.

    Example: flask --app webhook shelters import 131999_evacuation_space.csv --by tanaka
    """
    by = actor(by, "shelters.import")
    try:
        result = service.import_file(_db(), file, by=by, allow_mass_withdrawal=allow_withdraw)
    except MassWithdrawal as exc:
        raise click.ClickException(f"{file.name}: {exc} 何も変更していません。") from exc
    except ShelterFileInvalid as exc:
        for err in exc.errors[:200]:
            click.echo(str(err), err=True)
        if len(exc.errors) > 200:
            click.echo(f"… and {len(exc.errors) - 200} more", err=True)
        raise click.ClickException(f"{file.name}: {len(exc.errors)} error(s); nothing was changed") from exc
    except OSError as exc:
        raise click.ClickException(f"cannot read {file}: {exc.strerror}") from exc
    click.echo(
        f"imported {result.total} shelters ({result.format}): "
        f"{result.added} added, {result.updated} updated, {result.unchanged} unchanged"
        + (f", {result.withdrawn} withdrawn (no longer in the file)" if result.withdrawn else "")
        + (f", {result.reinstated} reinstated" if result.reinstated else "")
    )
    if result.withdrawn_ids:
        click.echo(
            "withdrawn (hidden from residents and exports, history kept; a file listing them again reinstates them):"
        )
        for sid in result.withdrawn_ids[:WITHDRAWN_SHOWN]:
            click.echo(f"  {sid}\t{service.get_shelter(_db(), sid)['name']}")
        if len(result.withdrawn_ids) > WITHDRAWN_SHOWN:
            click.echo(f"  … and {len(result.withdrawn_ids) - WITHDRAWN_SHOWN} more (all listed in the audit log)")


@shelters_cli.command("status")
@click.argument("shelter_id")
@click.argument("status", type=click.Choice(STATUSES, case_sensitive=False))
@click.option("--count", type=click.IntRange(min=0), help="How many people are in the shelter now.")
@click.option("--by", "by", required=True, help="Who reports the status (kept with the change).")
def status_cmd(shelter_id: str, status: str, count: int | None, by: str) -> None:
    """Set a shelter's status: open, crowded, full or closed (with an optional head count).

    Residents are not notified. A withdrawn shelter (no longer in its source's file) is refused.
    After opening a shelter, the command prints a pre-filled
    `alert create` command for its areas, which still needs a second person's approval.

    Example: flask --app webhook shelters status E13199900101 open --count 120 --by tanaka
    """
    by = actor(by, "shelters.status")
    _seed()
    try:
        shelter = service.set_status(_db(), shelter_id, status, count=count, by=by)
    except service.WithdrawnShelter as exc:
        raise click.ClickException(str(exc)) from exc
    except service.UnknownShelter as exc:
        raise click.ClickException(
            f"no shelter has the id {shelter_id!r} (use the source's ID / 共通ID; see `shelters list`)"
        ) from exc
    except service.InvalidStatus as exc:
        raise click.ClickException(str(exc)) from exc
    head = f", {shelter['head_count']} people" if shelter["head_count"] is not None else ""
    click.echo(
        f"{shelter['source_id']} {shelter['name']}: {SHELTER_STATUS.label(shelter['previous_status'])}"
        f" → {SHELTER_STATUS.label(shelter['status'])} ({shelter['status']}{head}) by {by}"
    )
    if shelter["status"] == ShelterStatus.OPEN and shelter["previous_status"] != ShelterStatus.OPEN:
        fields = service.opening_alert_fields(shelter, runtime().areas)
        click.echo("Residents were NOT notified. To announce the opening (needs a second person's approval):")
        if not fields["areas"]:
            click.echo("(no area of data/areas.csv matched this shelter: add --area CODE, or it goes to everyone)")
        click.echo(alert_command(fields, by))


def alert_command(fields: dict, by: str) -> str:
    """The `alert create` command line that announces a shelter opening (template shelter_open)."""
    parts = ["flask", "--app", "webhook", "alert", "create", "--template", "shelter_open"]
    for name, value in fields["template_fields"].items():
        parts += ["--field", f"{name}={value}"]
    for code in fields["areas"]:
        parts += ["--area", code]
    parts += ["--by", by]
    return " ".join(shlex.quote(p) for p in parts)


@shelters_cli.command("list")
@click.option("--status", "status", type=click.Choice(STATUSES, case_sensitive=False), help="Only this status.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON list.")
def list_cmd(status: str | None, as_json: bool) -> None:
    """List shelters with their id, status, head count and name.

    Example: flask --app webhook shelters list --status open
    """
    _seed()
    rows = [s for s in service.list_shelters(_db()) if status is None or s["status"] == status]
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False))
        return
    for s in rows:
        head = "" if s["head_count"] is None else f" {s['head_count']}人"
        click.echo(f"{s['source_id']}\t{SHELTER_STATUS.label(s['status'])}{head}\t{s['name']}")
    click.echo(f"{len(rows)} shelters")


@shelters_cli.command("history")
@click.argument("shelter_id")
def history_cmd(shelter_id: str) -> None:
    """Show every status change of a shelter, newest first, with who and when.

    Example: flask --app webhook shelters history E13199900101
    """
    try:
        rows = service.status_history(_db(), shelter_id)
    except service.UnknownShelter as exc:
        raise click.ClickException(f"no shelter has the id {shelter_id!r}") from exc
    for r in rows:
        head = "" if r["head_count"] is None else f" ({r['head_count']}人)"
        prev = SHELTER_STATUS.label(r["previous_status"]) if r["previous_status"] else "-"
        click.echo(f"{r['at']}  {prev} → {SHELTER_STATUS.label(r['status'])}{head}  by {r['by']} via {r['via']}")
    if not rows:
        click.echo("no status changes yet")


COMMANDS = [shelters_cli]
