"""`flask --app webhook alert …` (create, preview, approve, send, status, cancel) and `worker`."""

from __future__ import annotations

import json
import logging
import signal
import threading
import time

import click
from flask import current_app
from flask.cli import AppGroup

import wardtime
from alerts import service
from alerts.worker import DEFAULT_LEASE_SECONDS, run_worker
from bot.runtime import runtime
from commands import garbage as garbage_commands
from commands.actors import actor
from common.i18n import LANGUAGE_NAMES_JA
from opinions import service as opinion_service
from outbox import sender as outbox_sender
from reports import service as report_service
from richmenu import switcher
from store.vocab import ALERT_STATUS, ALERT_UNSENT, AlertKind, AlertState, AlertStatus, DeliveryState
from surveys import service as survey_service

REPORT_SWEEP_SECONDS = 60.0  # expiring a 30-minute draft a minute late is fine; every idle round is not

alert_cli = AppGroup("alert", help="Create, approve, send, follow and cancel emergency alerts.")


def _rps(value: float | None) -> float | None:
    rps = value if value is not None else float(current_app.config.get("LINE_MULTICAST_RPS") or 0)
    return rps or None


class _Edge:
    """Turn AlertError into a ClickException (the operator reads the Japanese message)."""

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc is not None and isinstance(exc, service.AlertError):
            raise click.ClickException(str(exc)) from exc
        return False


def _parse_fields(values: tuple[str, ...]) -> dict[str, str]:
    fields = {}
    for item in values:
        if "=" not in item:
            raise click.BadParameter(f"{item!r}: use NAME=VALUE", param_hint="--field")
        key, value = item.split("=", 1)
        fields[key.strip()] = value.strip()
    return fields


def _echo_preview(db, alert_id: int) -> None:
    p = service.preview(db, alert_id)
    audience = "  送信先: テスト対象者のみ" if p["test_audience"] else ""
    a = service.get_alert(db, alert_id)
    kind = f"  {a['kind_label']}" if a["kind_label"] else ""
    click.echo(f"警報 {alert_id}  [{p['status_label']}]{kind}  状態: {a['state_label']}{audience}  {a['title']}")
    click.echo(f"受信者数: {p['recipient_count']}")
    for note in p["notes"]:
        click.echo(f"※ {note}")
    for g in p["groups"]:
        who = LANGUAGE_NAMES_JA.get(g["resident_lang"], g["resident_lang"])
        note = f"（{g['note']}）" if g["fallback_from"] else ""
        click.echo(f"--- {who} の人 {g['count']}人 → 文面: {g['lang']} {note}")
        for m in g["messages"]:
            click.echo(m.get("text") or json.dumps(m, ensure_ascii=False))
    used = {g["lang"] for g in p["groups"]}
    for lang, messages in service.get_alert(db, alert_id)["texts"].items():
        if lang not in used:
            click.echo(f"--- {lang}: 0人（この言語の受信者はいません）")
            for m in messages:
                click.echo(m.get("text") or json.dumps(m, ensure_ascii=False))


@alert_cli.command("create")
@click.option("--headline", help="見出し (free text; not with --template).")
@click.option("--body", help="本文 (free text; not with --template).")
@click.option(
    "--template",
    "template",
    type=click.Choice(sorted(t for t in service.TEMPLATES if t != AlertKind.LIFT)),
    help="Official wording template (a lift is made with alert lift).",
)
@click.option("--field", "fields", multiple=True, help="Template field NAME=VALUE (repeatable), e.g. hazard=洪水.")
@click.option(
    "--area", "areas", multiple=True, help="Target area code or name from areas.csv (repeatable; none = everyone)."
)
@click.option("--lang", "langs", multiple=True, help="Only residents with this language (repeatable).")
@click.option("--topic", "topics", multiple=True, help="Only residents subscribed to this topic (repeatable).")
@click.option(
    "--status",
    type=click.Choice([s.value for s in AlertStatus]),
    default=AlertStatus.ACTUAL.value,  # click compares the default with the choices as text
    show_default=True,
    help="actual = real alert; exercise = 訓練; test = テスト.",
)
@click.option("--expires-in", type=float, help="Hours until the alert expires (default 24).")
@click.option(
    "--translation",
    "translations",
    nargs=3,
    multiple=True,
    metavar="LANG HEADLINE BODY",
    help="Free text in another language (repeatable), e.g. --translation easy 見出し 本文.",
)
@click.option(
    "--test-audience",
    is_flag=True,
    help="Only residents in the staff test audience (alert testers); exercise/test only.",
)
@click.option("--by", "by", required=True, help="Operator creating the alert.")
def create_cmd(
    headline, body, template, fields, areas, langs, topics, status, expires_in, translations, test_audience, by
) -> None:
    """Create a draft alert and print what each language group will receive; the id is the last line.

    Example: flask --app webhook alert create --template evac_level4 --field areas=みどり一丁目 --field hazard=洪水 --area midori-1 --by tanaka

    Example: flask --app webhook alert create --headline 配信テスト --body 試験送信です --status test --test-audience --by tanaka
    """
    by = actor(by, "alert.create")
    seen = [lang for lang, _, _ in translations]
    if len(seen) != len(set(seen)):
        raise click.BadParameter("each language once", param_hint="--translation")
    import time

    db = runtime().store.db
    with _Edge():
        alert_id = service.create_alert(
            db,
            by=by,
            headline=headline,
            body=body,
            template=template,
            fields=_parse_fields(fields) or None,
            areas=areas,
            langs=langs,
            topics=topics,
            status=status,
            expires_at=time.time() + expires_in * 3600 if expires_in else None,
            translations={lang: (h, b) for lang, h, b in translations} or None,
            test_audience=test_audience,
        )
        _echo_preview(db, alert_id)
    click.echo("承認は作成者以外が行います: flask --app webhook alert approve ID --by USER")
    click.echo(alert_id)


@alert_cli.command("preview")
@click.argument("alert_id", type=int)
@click.option("--json", "as_json", is_flag=True, help="Print the preview as JSON.")
def preview_cmd(alert_id: int, as_json: bool) -> None:
    """Show the recipient count and the exact messages per language group.

    Example: flask --app webhook alert preview 12
    """
    db = runtime().store.db
    with _Edge():
        if as_json:
            click.echo(json.dumps(service.preview(db, alert_id), ensure_ascii=False))
        else:
            _echo_preview(db, alert_id)


@alert_cli.command("approve")
@click.argument("alert_id", type=int)
@click.option("--by", "by", required=True, help="Approving operator (must not be the author).")
def approve_cmd(alert_id: int, by: str) -> None:
    """Approve an alert (a second operator; approving again refreshes a stale approval).

    Example: flask --app webhook alert approve 12 --by suzuki
    """
    by = actor(by, "alert.approve")
    db = runtime().store.db
    with _Edge():
        _echo_preview(db, alert_id)
        service.approve(db, alert_id, by)
    click.echo(f"承認しました: 警報 {alert_id}（送信: flask --app webhook alert send {alert_id}）")


@alert_cli.command("send")
@click.argument("alert_id", type=int)
@click.option("--by", "by", default="cli", show_default=True, help="Operator starting the delivery.")
@click.option("--rps", type=float, help="Client rate limit, requests/second (default LINE_MULTICAST_RPS).")
@click.option("--batch-size", type=click.IntRange(1, 500), default=500, show_default=True)
def send_cmd(alert_id: int, by: str, rps: float | None, batch_size: int) -> None:
    """Deliver an approved alert in the foreground with a progress bar (rerun after a crash to finish).

    Example: flask --app webhook alert send 12
    """
    by = actor(by, "alert.send")
    rt = runtime()
    db = rt.store.db
    with _Edge():
        alert = service.get_alert(db, alert_id)
        if alert["state"] in ALERT_UNSENT:
            service.start_delivery(
                db, alert_id, by, batch_size=batch_size, stale_minutes=current_app.config["ALERT_STALE_MINUTES"]
            )
        elif alert["state"] == AlertState.STOPPED:
            service.resume(db, alert_id, by)
        elif alert["state"] == AlertState.WITHDRAWN:
            raise service.Withdrawn()
        st = service.status(db, alert_id)
    if st["status"] != AlertStatus.ACTUAL:
        scope = "テスト対象者だけに" if alert.get("test_audience") else ""
        click.echo(f"【{ALERT_STATUS.label(st['status'])}】として{scope}送信します（本番ではありません）。")
    done = st[DeliveryState.SENT] + st[DeliveryState.FAILED] + st[DeliveryState.WITHDRAWN]
    with click.progressbar(length=st["total"], label=f"警報 {alert_id} 配信", show_pos=True) as bar:
        bar.update(done)
        run_worker(
            rt.store,
            rt.line,
            once=True,
            rate_limit_rps=_rps(rps),
            alert_id=alert_id,
            on_progress=lambda n, outcome: bar.update(n),
        )
    st = service.status(db, alert_id)
    if st["state"] == AlertState.STOPPED:
        raise click.ClickException(st["message"] or service.QUOTA_MESSAGE)
    click.echo(f"送信済み {st[DeliveryState.SENT]} / 対象 {st['total']}（失敗 {st[DeliveryState.FAILED]}）")
    if st["message"]:
        click.echo(st["message"])
    if st[DeliveryState.FAILED]:
        raise click.ClickException(
            f"{st[DeliveryState.FAILED]} 人に届けられませんでした。alert status {alert_id} で確認してください。"
        )


@alert_cli.command("status")
@click.argument("alert_id", type=int)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object: total, sent, pending, failed, state, …")
def status_cmd(alert_id: int, as_json: bool) -> None:
    """Delivery progress of an alert.

    Example: flask --app webhook alert status 12 --json
    """
    with _Edge():
        st = service.status(runtime().store.db, alert_id)
    if as_json:
        click.echo(json.dumps(st, ensure_ascii=False))
        return
    click.echo(
        f"警報 {alert_id}: {st['state_label']}  対象 {st['total']}  送信済み {st[DeliveryState.SENT]}  "
        f"未送信 {st[DeliveryState.PENDING]}  失敗 {st[DeliveryState.FAILED]}"
    )
    if st["message"]:
        click.echo(st["message"])


def _echo_cancel_preview(p: dict) -> None:
    click.echo(f"取消の対象: 警報 {p['alert_id']} [{p['status_label']}] {p['title']}")
    click.echo(f"取消のお知らせを受け取る人: {p['recipient_count']}人（元の配信を受け取った人だけ）")
    if p["unsent"]:
        click.echo(f"まだ送っていない {p['unsent']}人分は送らずに取り下げます。")
    for g in p["groups"]:
        click.echo(f"--- {LANGUAGE_NAMES_JA.get(g['lang'], g['lang'])} {g['count']}人")
        for m in g["messages"]:
            click.echo(m.get("text") or json.dumps(m, ensure_ascii=False))


@alert_cli.command("cancel")
@click.argument("alert_id", type=int)
@click.option("--by", "by", required=True, help="Operator cancelling.")
@click.option(
    "--body", help="Free-text explanation: the cancellation then needs another person's approval (like a correction)."
)
@click.option("--yes", "yes", is_flag=True, help="Confirm the cancellation without the prompt (after reading it).")
def cancel_cmd(alert_id: int, by: str, body: str | None, yes: bool) -> None:
    """取消 of an alert sent by mistake: the fixed cancel text to exactly its recipients (a draft is withdrawn).

    Shows the exact text and the number of people, then asks for confirmation (--yes confirms on
    the command line). With --body the cancellation is a draft another person approves
    (alert approve ID, alert send ID). The id of the cancellation is the last line.

    Example: flask --app webhook alert cancel 12 --by tanaka --yes
    """
    by = actor(by, "alert.cancel")
    db = runtime().store.db
    with _Edge():
        alert = service.get_alert(db, alert_id)
        sent = alert["state"] not in (*ALERT_UNSENT, AlertState.WITHDRAWN)
        if sent and not (body or "").strip():
            _echo_cancel_preview(service.cancel_preview(db, alert_id))
            if not yes:
                click.confirm("この取消を今すぐ送信しますか？", abort=True)
        new_id = service.cancel(db, alert_id, by, body=body, confirmed=True)
    if new_id == alert_id:
        click.echo(f"警報 {alert_id} は未送信だったため取り下げました。")
    elif (body or "").strip():
        click.echo(
            f"説明つきの取消 {new_id} を下書きとして作成しました。作成者以外の承認が必要です: "
            f"flask --app webhook alert approve {new_id} --by USER → alert send {new_id}"
        )
    else:
        click.echo(
            f"取消の警報 {new_id} を作成し、配信を開始しました（worker が送ります。前面で送るには alert send {new_id}）。"
        )
    click.echo(new_id)


@alert_cli.command("lift")
@click.argument("alert_id", type=int)
@click.option("--by", "by", required=True, help="Operator writing the lift (解除).")
def lift_cmd(alert_id: int, by: str) -> None:
    """解除: the evacuation order ends. Creates the lift in every language as a draft that needs approval.

    The lift goes to exactly the people the order reached, after another person approves it
    (alert approve ID --by USER, then alert send ID). The id of the lift is the last line.

    Example: flask --app webhook alert lift 12 --by tanaka
    """
    by = actor(by, "alert.lift")
    db = runtime().store.db
    with _Edge():
        lift_id = service.lift(db, alert_id, by)
        _echo_preview(db, lift_id)
    click.echo(f"承認は作成者以外が行います: flask --app webhook alert approve {lift_id} --by USER")
    click.echo(lift_id)


@alert_cli.command("list")
@click.option("--limit", default=20, show_default=True)
def list_cmd(limit: int) -> None:
    """List recent alerts.

    Example: flask --app webhook alert list
    """
    for a in service.list_alerts(runtime().store.db, limit):
        when = wardtime.format_time(a["created_at"])
        click.echo(
            f"{a['id']:5d}  {when}  [{a['status_label']}] {a['kind_label'] or '配信':4} {a['state_label']:12} {a['title']}  by {a['created_by']}"
        )


testers_cli = AppGroup(
    "testers", help="The staff test audience: LINE user ids of staff phones for exercise/test alerts."
)
alert_cli.add_command(testers_cli)


@testers_cli.command("add")
@click.argument("user_id")
@click.option("--note", help="Whose phone this is (e.g. 防災課 田中 業務用).")
@click.option("--by", "by", required=True, help="Operator adding the tester.")
def testers_add_cmd(user_id: str, note: str | None, by: str) -> None:
    """Add a staff phone's LINE user id to the test audience (it must follow the account to receive).

    Example: flask --app webhook alert testers add U0123456789abcdef0123456789abcdef --note 防災課 田中 --by tanaka
    """
    by = actor(by, "alert.testers")
    db = runtime().store.db
    with _Edge():
        created = service.add_tester(db, user_id, by, note=note, secret=current_app.config["SECRET_KEY"])
    click.echo("テスト対象者に追加しました。" if created else "すでに登録されています（メモを更新しました）。")


@testers_cli.command("remove")
@click.argument("user_id")
@click.option("--by", "by", required=True, help="Operator removing the tester.")
def testers_remove_cmd(user_id: str, by: str) -> None:
    """Remove a LINE user id from the test audience.

    Example: flask --app webhook alert testers remove U0123456789abcdef0123456789abcdef --by tanaka
    """
    by = actor(by, "alert.testers")
    with _Edge():
        removed = service.remove_tester(runtime().store.db, user_id, by, secret=current_app.config["SECRET_KEY"])
    if not removed:
        raise click.ClickException("そのユーザーIDはテスト対象者に登録されていません。")
    click.echo("テスト対象者から外しました。")


@testers_cli.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list.")
def testers_list_cmd(as_json: bool) -> None:
    """List the test audience (and whether each phone currently follows the account).

    Example: flask --app webhook alert testers list
    """
    rows = service.list_testers(runtime().store.db)
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False))
        return
    if not rows:
        click.echo("テスト対象者は登録されていません。")
        return
    for r in rows:
        when = wardtime.format_time(r["added_at"])
        state = "受信可" if r["subscribed"] else "未登録（友だち追加されていないか配信停止中）"
        click.echo(f"{r['user_id']}  {state}  {r['note'] or ''}  追加: {when} by {r['added_by']}")
    click.echo(f"計 {len(rows)} 人")


@click.command("worker")
@click.option("--rps", type=float, help="Client rate limit, requests/second (default LINE_MULTICAST_RPS).")
@click.option("--once", is_flag=True, help="Exit when no batch is left.")
@click.option(
    "--lease-seconds",
    type=float,
    default=DEFAULT_LEASE_SECONDS,
    show_default=True,
    help="How long a claimed batch is held before another worker may retry it.",
)
@click.option("--backoff", type=float, default=1.0, show_default=True, help="Base retry backoff in seconds.")
@click.option("--concurrency", type=int, default=1, show_default=True, help="Sending threads.")
def worker_cmd(rps: float | None, once: bool, lease_seconds: float, backoff: float, concurrency: int) -> None:
    """Run the alert delivery worker (the Procfile's worker: line); SIGTERM stops it cleanly.

    Example: flask --app webhook worker
    """
    rt = runtime()
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    logging.getLogger(__name__).info("delivery worker started")
    # Residents' reports: unfinished ones expire (their photos deleted), retention applies.
    report_settings = report_service.Settings.from_config(current_app.config, rt.areas)
    last_report_sweep = [0.0]

    def report_sweep() -> None:
        if time.monotonic() - last_report_sweep[0] >= REPORT_SWEEP_SECONDS:
            last_report_sweep[0] = time.monotonic()
            report_service.sweep(rt.store.db, report_settings)

    last_garbage_sweep = [0.0]

    def garbage_sweep() -> None:
        # Tomorrow's ごみ reminders from 18:00 (once per area and day) and stale 粗大ごみ drafts.
        if time.monotonic() - last_garbage_sweep[0] >= REPORT_SWEEP_SECONDS:
            last_garbage_sweep[0] = time.monotonic()
            try:
                garbage_commands.worker_sweep(rt.store.db)
            except Exception:  # a garbage data problem must not stop deliveries
                logging.getLogger(__name__).exception("garbage sweep failed")

    # Rich menus follow the live alerts (disaster menu on, normal menu back): a reconciler
    # beside the sender, sharing its stop signal.

    menus = threading.Thread(target=switcher.run, args=(rt.store, rt.line, stop), name="richmenu", daemon=True)
    menus.start()

    # The shared outbox (survey invitations, replies to opinions); when idle it closes surveys at
    # their deadline and drops opinion drafts older than a day.
    def close_surveys() -> None:
        survey_service.close_due(rt.store.db)
        opinion_service.expire_drafts(rt.store.db)
        report_sweep()
        garbage_sweep()

    if once:
        outbox_sender.deliver_due(rt.store, rt.line)
        close_surveys()
    else:
        threading.Thread(
            target=outbox_sender.run,
            args=(rt.store, rt.line, stop),
            kwargs={"rate_limit_rps": _rps(rps), "sweep": close_surveys},
            name="outbox",
            daemon=True,
        ).start()
    run_worker(
        rt.store,
        rt.line,
        stop_event=stop,
        once=once,
        rate_limit_rps=_rps(rps),
        lease_seconds=lease_seconds,
        backoff_base=backoff,
        concurrency=concurrency,
    )


COMMANDS = [alert_cli, worker_cmd]
