"""`flask --app webhook garbage …`: import 5374 data, print collection days, 粗大ごみ lists."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup

from alerts.service import load_areas
from garbage import service
from garbage.calendar import calendar
from garbage.format5374 import GarbageDataInvalid

garbage_cli = AppGroup("garbage", help="Garbage collection data (5374 format) and 粗大ごみ requests.")
ERRORS_SHOWN = 200


def _db():
    return current_app.extensions["madoguchi"].store.db


def _date(ctx: click.Context, param: click.Parameter, value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date like 2027-01-04") from None


@garbage_cli.command("import")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--by", "by", default="cli", show_default=True, help="Who imports (kept with the set).")
def import_cmd(directory: Path, by: str) -> None:
    """Import a 5374-format directory (area_days.csv, target.csv, description.csv, center.csv,
    remarks.csv) as the ward's garbage data.

    The whole set replaces the previous one in one step; a directory with any error changes
    nothing (every error is listed as FILE: line N, column C: reason). Warnings (an item whose
    category has no collection column, a 隔 weekday letter that disagrees with its date) are
    listed but do not stop the import.

    Example: flask --app webhook garbage import data/garbage/midori --by tanaka
    """
    try:
        set_id, gset = service.import_directory(_db(), directory, by=by)
    except GarbageDataInvalid as exc:
        for err in exc.errors[:ERRORS_SHOWN]:
            click.echo(str(err), err=True)
        if len(exc.errors) > ERRORS_SHOWN:
            click.echo(f"… and {len(exc.errors) - ERRORS_SHOWN} more", err=True)
        raise click.ClickException(
            f"{directory}: {len(exc.errors)} error(s); the previous data is still in use"
        ) from exc
    for w in gset.warnings[:ERRORS_SHOWN]:
        click.echo(f"warning: {w}", err=True)
    if len(gset.warnings) > ERRORS_SHOWN:
        click.echo(f"… and {len(gset.warnings) - ERRORS_SHOWN} more warnings", err=True)
    click.echo(
        f"imported set {set_id}: {len(gset.areas)} areas, {len(gset.categories)} categories, "
        f"{len(gset.items)} items, {len(gset.pauses)} centre pauses"
    )


@garbage_cli.command("days")
@click.argument("areas", nargs=-1)
@click.option("--from", "start", required=True, callback=_date, help="First date (YYYY-MM-DD), inclusive.")
@click.option("--to", "end", required=True, callback=_date, help="Last date (YYYY-MM-DD), inclusive.")
@click.option("--json", "as_json", is_flag=True, help='Print a JSON list of {"area", "date", "categories"}.')
def days_cmd(areas: tuple[str, ...], start: date, end: date, as_json: bool) -> None:
    """Collection days of AREA… (地名 as in area_days.csv, or an areas.csv code) between two dates;
    no AREA: every area. Centre pauses are skipped.

    Example: flask --app webhook garbage days みどり一丁目 --from 2027-01-01 --to 2027-01-31 --json
    """
    if end < start:
        raise click.BadParameter("--to is before --from", param_hint="--to")
    if (end - start).days > 3660:
        raise click.BadParameter("at most ten years at once", param_hint="--to")
    loaded = service.current(_db())
    if loaded is None:
        raise click.ClickException("no garbage data yet: run `flask --app webhook garbage import DIR` first")
    names = _area_names()
    chosen = []
    for value in areas:
        area = service.resolve_area(loaded.gset, value, names)
        if area is None:
            raise click.ClickException(
                f"unknown area {value!r} (known: {', '.join(a.name for a in loaded.gset.areas[:10])}, …)"
            )
        chosen.append(area)
    rows = calendar(loaded.gset, chosen or loaded.gset.areas, start, end)
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False))
        return
    for row in rows:
        click.echo(f"{row['date']}\t{row['area']}\t{'・'.join(row['categories'])}")


def _area_names() -> dict[str, str]:
    try:
        return {a["code"]: a["name"] for a in load_areas(current_app.config["AREAS_CSV"])}
    except (OSError, KeyError, ValueError):
        return {}


COMMANDS = [garbage_cli]
