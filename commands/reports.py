"""`flask --app webhook reports …`: check the report kinds file staff edit, housekeeping."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup

from bot.runtime import runtime
from excelcsv import CsvInvalid
from reports import service
from reports.kinds import parse_kinds

reports_cli = AppGroup("reports", help="Residents' reports: the kinds file, housekeeping.")


@reports_cli.command("validate-kinds")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
def validate_kinds(path: str) -> None:
    """Check a report kinds CSV (every error as `line N, column C: reason`).

    Example: flask --app webhook reports validate-kinds reports/data/report_kinds.csv
    """
    try:
        with open(path, "rb") as fh:
            kinds = parse_kinds(fh.read())
    except CsvInvalid as exc:
        for err in exc.errors:
            click.echo(str(err), err=True)
        raise click.ClickException(f"{len(exc.errors)} 件のエラーがあります。ファイルは使われません。") from None
    click.echo(f"OK: {len(kinds)} 種類（{'、'.join(k.name for k in kinds)}）")


@reports_cli.command("sweep")
def sweep() -> None:
    """Expire unfinished reports, delete their photos, forget reporters past the retention period.

    The delivery worker does this every minute; this runs it once.

    Example: flask --app webhook reports sweep
    """
    rt = runtime()
    result = service.sweep(rt.store.db, service.Settings.from_config(current_app.config, rt.areas))
    click.echo(
        f"期限切れの下書き {result['expired']} 件、削除した写真 {result['deleted']} 件、"
        f"通報者の記録を消した通報 {result['forgotten']} 件"
    )


COMMANDS = [reports_cli]
