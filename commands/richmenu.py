"""Rich-menu commands: `flask --app webhook richmenu sync|status|render`."""

from __future__ import annotations

import json
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup

from bot.runtime import runtime
from common.line_api import LineApiError
from richmenu.draw import FontMissing, contact_sheet, render_menu
from richmenu.spec import LANGS, MenuFileInvalid, load_menu_file
from richmenu.sync import status, sync

richmenu_cli = AppGroup("richmenu", help="The account's tap menu (rich menu): normal and disaster, per language.")


def _menus(path: str | None):
    source = Path(path or current_app.config["RICHMENU_CSV"])
    try:
        return load_menu_file(source)
    except OSError as exc:
        raise click.ClickException(f"メニューファイル {source} を読めません: {exc.strerror}") from None
    except MenuFileInvalid as exc:
        raise click.ClickException(f"メニューファイル {source.name} に誤りがあります:\n{exc}") from None


@richmenu_cli.command("sync")
@click.option("--file", "path", type=click.Path(dir_okay=False), help="Menu file (default RICHMENU_CSV).")
def sync_cmd(path: str | None) -> None:
    """Create or update the menus at LINE, set the default, delete old ones (safe to run again).

    Example: flask --app webhook richmenu sync
    """
    menus = _menus(path)
    rt = runtime()
    try:
        report = sync(rt.store.db, rt.line, menus)
    except FontMissing as exc:
        raise click.ClickException(str(exc)) from None
    except LineApiError as exc:
        raise click.ClickException(f"LINE がメニューを受け付けませんでした（{exc.status}）: {exc.message}") from None
    click.echo(
        f"作成 {len(report.created)} / そのまま {len(report.kept)} / 削除 {len(report.deleted)}"
        f"（既定のメニュー: {report.default_id}）"
    )
    for key in report.created:
        click.echo(f"  作成: {key}")


@richmenu_cli.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def status_cmd(as_json: bool) -> None:
    """Show the menus LINE holds, the default, and how many residents have a per-user menu.

    Example: flask --app webhook richmenu status
    """
    rt = runtime()
    try:
        info = status(rt.store.db, rt.line)
    except LineApiError as exc:
        raise click.ClickException(f"LINE に問い合わせできませんでした（{exc.status}）: {exc.message}") from None
    if as_json:
        click.echo(json.dumps(info, ensure_ascii=False))
        return
    click.echo(
        f"既定のメニュー: {info['default_key'] or '(madoguchi のものではありません)'} {info['default'] or 'なし'}"
    )
    for m in info["menus"]:
        click.echo(
            f"  {m['key'] or '(記録なし)':16} {m['richMenuId']}  「{m['chatBarText']}」 {m['areas']} 区画  {m['name']}"
        )
    if info["missing"]:
        click.echo("LINE から消えているメニュー: " + ", ".join(info["missing"]) + "（richmenu sync で作り直せます）")
    click.echo(f"個別メニューの住民: {info['linked_residents']} 人")


@richmenu_cli.command("render")
@click.argument("out_dir", type=click.Path(file_okay=False))
@click.option("--file", "path", type=click.Path(dir_okay=False), help="Menu file (default RICHMENU_CSV).")
@click.option("--sheet", is_flag=True, help="Also write all.png: every menu and language on one page.")
def render_cmd(out_dir: str, path: str | None, sheet: bool) -> None:
    """Draw every menu in every language as PNG files, to look at before a sync.

    Example: flask --app webhook richmenu render /tmp/menus --sheet
    """
    menus = _menus(path)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    try:
        for menu in menus.values():
            for lang in LANGS:
                data = render_menu(menu, lang)
                (out / f"{menu.name}_{lang}.png").write_bytes(data)
                click.echo(f"{menu.name}_{lang}.png  {menu.size[0]}×{menu.size[1]}  {len(data) // 1024} KB")
    except FontMissing as exc:
        raise click.ClickException(str(exc)) from None
    if sheet:
        (out / "all.png").write_bytes(contact_sheet(menus))
        click.echo("all.png")


COMMANDS = [richmenu_cli]
