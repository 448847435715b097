"""`flask --app webhook garbage …`: import 5374 data, print collection days, 粗大ごみ lists."""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path

import click
from flask.cli import AppGroup
from sqlite_utils import Database

import wardtime
from bot.runtime import runtime
from commands.actors import actor
from common.i18n import LANGUAGES, t
from garbage import service
from garbage.bulky import FeeListInvalid, export_csv
from garbage.calendar import calendar
from garbage.format5374 import GarbageDataInvalid
from garbage.reminders import EVENING_END, NotEvening, make_reminders
from store import garbage as garbage_store

garbage_cli = AppGroup("garbage", help="Garbage collection data (5374 format) and 粗大ごみ requests.")
ERRORS_SHOWN = 200
REMINDER_HOUR = 18  # the delivery worker queues tomorrow's reminders from this hour (ward time)
DRAFT_TTL_SECONDS = 24 * 3600  # a 粗大ごみ request left unfinished this long is forgotten


def _db():
    return runtime().store.db


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
    by = actor(by, "garbage.import")
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
    return runtime().areas.names()


COMMANDS = [garbage_cli]


@garbage_cli.group("fees")
def fees_cli() -> None:
    """The 粗大ごみ fee list (品目, 手数料, notes, furigana)."""


@fees_cli.command("import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--by", "by", default="cli", show_default=True, help="Who imports.")
def fees_import_cmd(file: Path, by: str) -> None:
    """Replace the 粗大ごみ fee list with FILE (CSV: 品目, 手数料, notes, furigana).

    A file with any error changes nothing; every error is listed as line N, column C: reason.

    Example: flask --app webhook garbage fees import sodai_ryokin.csv --by tanaka
    """
    try:
        fees = service.import_fee_list(_db(), file, by=by)
    except FeeListInvalid as exc:
        for err in exc.errors[:ERRORS_SHOWN]:
            click.echo(str(err), err=True)
        raise click.ClickException(
            f"{file.name}: {len(exc.errors)} error(s); the current fee list is still in use"
        ) from exc
    except OSError as exc:
        raise click.ClickException(f"cannot read {file}: {exc.strerror}") from exc
    click.echo(f"imported {len(fees)} items")


@garbage_cli.command("capacity")
@click.argument("area")
@click.argument("capacity", type=click.IntRange(0, 1000))
@click.option(
    "--day", default=None, callback=_date, help="Only this day (YYYY-MM-DD); without it: the area's usual number."
)
def capacity_cmd(area: str, capacity: int, day: date | None) -> None:
    """Set how many 粗大ごみ requests AREA (an areas.csv code) takes per day; 0 closes the day.

    Example: flask --app webhook garbage capacity midori-1 12 --day 2027-01-08
    """
    names = _area_names()
    if area not in names:
        raise click.ClickException(f"unknown area {area!r} (areas.csv codes: {', '.join(list(names)[:8])}, …)")
    garbage_store.set_capacity(_db(), area, day.isoformat() if day else garbage_store.DEFAULT_DAY, capacity)
    click.echo(f"{names[area]}: {capacity} per day" + (f" on {day}" if day else " (usual)"))


@garbage_cli.command("requests")
@click.option("--from", "start", required=True, callback=_date, help="First collection day (YYYY-MM-DD).")
@click.option("--to", "end", required=True, callback=_date, help="Last collection day (YYYY-MM-DD).")
@click.option("--area", default=None, help="Only this area (areas.csv code).")
@click.option(
    "--csv", "as_csv", type=click.Path(dir_okay=False, path_type=Path), help="Write the contractor's CSV here."
)
def requests_cmd(start: date, end: date, area: str | None, as_csv: Path | None) -> None:
    """List 粗大ごみ requests by collection day (or write the contractor's CSV, formula-safe).

    Example: flask --app webhook garbage requests --from 2027-01-08 --to 2027-01-08 --csv sodai_0108.csv
    """
    rows = garbage_store.requests_between(_db(), start.isoformat(), end.isoformat(), area)
    names = _area_names()
    if as_csv:
        as_csv.write_bytes(export_csv(rows, names))
        click.echo(f"wrote {len(rows)} requests to {as_csv}")
        return
    for r in rows:
        items = "・".join(i["name"] for i in r["items"])
        click.echo(
            f"{r['day']}\t{r['receipt']}\t{names.get(r['area'], r['area'])}\t{items}\t{r['total_fee']}円\t{r['status']}"
        )


def _compose(lang: str, area: str, day: str, labels: list[str]) -> tuple[str, str]:
    """The reminder's headline and text in ``lang``."""
    d = date.fromisoformat(day)
    weekdays = t("garbage_weekdays", lang).split(",")
    shown = t("garbage_date", lang, m=d.month, d=d.day, wd=weekdays[d.weekday()])
    return (
        t("garbage_remind_headline", lang, area=area),
        t("garbage_remind_text", lang, date=shown, categories="・".join(labels), area=area),
    )


def worker_sweep(db: Database, now: datetime | None = None) -> None:
    """The delivery worker calls this about once a minute: 粗大ごみ drafts older than a day are
    dropped, and from REMINDER_HOUR tomorrow's reminders are queued (once per area and day)."""
    local = (now or datetime.now(wardtime.ward_zone())).astimezone(wardtime.ward_zone())
    garbage_store.expire_drafts(db, DRAFT_TTL_SECONDS, now=local.timestamp())
    if not REMINDER_HOUR <= local.hour < EVENING_END:
        return
    loaded = service.current(db)
    if loaded is not None:
        make_reminders(db, loaded.gset, _area_names(), list(LANGUAGES), _compose, now=local)


@garbage_cli.command("remind")
@click.option(
    "--now", "now", default=None, help="Pretend it is this moment (ISO 8601 with offset), for a dry run or a test."
)
def remind_cmd(now: str | None) -> None:
    """Queue tomorrow's ごみ reminders now (one per area, in each resident's language) in the
    outbox. The delivery worker does this by itself from 18:00 ward time; this runs it at once.
    It refuses to run outside 17:00–21:00 and its messages expire at 21:00, so nobody is woken
    at night. Running it twice (or with the worker) does not remind anyone twice.

    Example: flask --app webhook garbage remind
    """
    loaded = service.current(_db())
    if loaded is None:
        raise click.ClickException("no garbage data yet: run `flask --app webhook garbage import DIR` first")
    moment = datetime.fromisoformat(now) if now else None
    if moment is not None and moment.tzinfo is None:
        raise click.BadParameter("give an offset, e.g. 2027-01-03T18:00:00+09:00", param_hint="--now")

    try:
        made = make_reminders(_db(), loaded.gset, _area_names(), list(LANGUAGES), _compose, now=moment)
    except NotEvening as exc:
        raise click.ClickException(f"not now: {exc}") from exc
    for m in made:
        click.echo(f"{m.area}\t{m.day}\t{'・'.join(m.categories)}\t{m.recipients} residents\talert {m.alert_id}")
    click.echo(f"{len(made)} reminder(s) queued")
