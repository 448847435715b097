"""Survey commands: `flask --app webhook survey create|approve|send|results|close`."""

from __future__ import annotations

import datetime as dt
import json
import os
import socket
import time

import click
from flask import current_app
from flask.cli import AppGroup

from alerts.service import AlertError, resolve_areas
from bot.handlers.surveys import invitation
from bot.runtime import runtime
from commands.actors import actor
from outbox import sender
from store import outbox as outbox_store
from store.vocab import DeliveryState, QuestionKind, SurveyState
from surveys import service

survey_cli = AppGroup("survey", help="Surveys (アンケート): create, approve, send, results, close.")


def _db():
    return runtime().store.db


class _Edge:
    """Survey and targeting errors become one-line CLI errors in Japanese."""

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc is not None and isinstance(exc, (service.SurveyError, AlertError)):
            raise click.ClickException(str(exc)) from None
        return False


def _parse_closes(value: str | None) -> float | None:
    if not value:
        return None
    try:
        when = dt.datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"ISO 8601 の日時で書いてください（例 2027-01-31T17:00+09:00）: {value}") from None
    if when.tzinfo is None:
        from zoneinfo import ZoneInfo

        when = when.replace(tzinfo=ZoneInfo(str(current_app.config.get("WARD_TIMEZONE") or "Asia/Tokyo")))
    return when.timestamp()


@survey_cli.command("create")
@click.option("--question", required=True, help="The question (Japanese).")
@click.option("--option", "options", multiple=True, required=True, help="An answer option (repeat 2–13 times).")
@click.option("--title", help="Title shown to residents (default: the question).")
@click.option("--area", "areas", multiple=True, help="Only residents of this area (name or code; repeatable).")
@click.option("--lang", "langs", multiple=True, help="Only residents with this language (repeatable).")
@click.option("--topic", "topics", multiple=True, help="Only residents subscribed to this topic (repeatable).")
@click.option("--closes", help="Deadline, ISO 8601 (ward time when no offset is given).")
@click.option("--by", "by", required=True, help="Staff member creating the survey.")
def create_cmd(question, options, title, areas, langs, topics, closes, by) -> None:
    """Create a one-question single-choice survey (a draft: another person approves it).

    Prints the new survey's id as its last line.

    Example: flask --app webhook survey create --question 区の窓口の対応はいかがでしたか --option 満足 --option ふつう --option 不満 --area みどり一丁目 --by tanaka
    """
    by = actor(by, "survey.create")
    db = _db()
    with _Edge():
        codes = resolve_areas(areas) if areas else []
        q = service.make_question(QuestionKind.SINGLE, question, options)
        survey_id = service.create(
            db, title or question[: service.TITLE_MAX], [q], by, codes, list(langs), list(topics), _parse_closes(closes)
        )
    click.echo(
        "アンケートを作成しました（承認待ち）。承認は作成者以外が行います: flask --app webhook survey approve ID --by USER"
    )
    click.echo(str(survey_id))


@survey_cli.command("approve")
@click.argument("survey_id", type=int)
@click.option("--by", "by", required=True, help="Approver (must not be the author).")
def approve_cmd(survey_id: int, by: str) -> None:
    """Approve a survey draft (a second person).

    Example: flask --app webhook survey approve 3 --by suzuki
    """
    by = actor(by, "survey.approve")
    with _Edge():
        service.approve(_db(), survey_id, by)
    click.echo(f"アンケート {survey_id} を承認しました。送信: flask --app webhook survey send {survey_id}")


@survey_cli.command("send")
@click.argument("survey_id", type=int)
@click.option("--by", "by", default="cli", show_default=True, help="Who starts the sending.")
def send_cmd(survey_id: int, by: str) -> None:
    """Send an approved survey and wait until every invitation went out (run again to resume).

    Example: flask --app webhook survey send 3
    """
    by = actor(by, "survey.send")
    db = _db()
    rt = runtime()
    with _Edge():
        survey = service.get(db, survey_id)
        if survey["state"] == SurveyState.APPROVED:
            n = service.start_sending(db, survey_id, by, invitation)
            click.echo(f"{n} 人に送ります…")
        elif survey["state"] != SurveyState.SENDING:
            raise service.WrongState(survey["state"], "送信")
    worker_id = f"{socket.gethostname()}:{os.getpid()}:survey-send"
    with click.progressbar(
        length=max(1, sum(outbox_store.counts(db, service.KIND, survey_id).values())), label="送信"
    ) as bar:
        last = 0
        while True:
            batch = outbox_store.claim(db, worker_id, sender.LEASE_SECONDS, kind=service.KIND, ref=survey_id)
            counts = outbox_store.counts(db, service.KIND, survey_id)
            done = (
                counts[DeliveryState.SENT]
                + counts[DeliveryState.FAILED]
                + counts[DeliveryState.STOPPED]
                + counts[DeliveryState.WITHDRAWN]
            )
            bar.update(done - last)
            last = done
            if batch is None:
                if counts[DeliveryState.PENDING] == 0:
                    break
                due = outbox_store.next_due(db, kind=service.KIND, ref=survey_id)
                time.sleep(min(1.0, max(0.05, (due or time.time() + 0.2) - time.time())))
                continue
            sender.send_one(db, rt.line, batch)
    counts = outbox_store.counts(db, service.KIND, survey_id)
    click.echo(
        f"送信済み {counts[DeliveryState.SENT]} 人 / 失敗 {counts[DeliveryState.FAILED]} 人 / 停止 {counts[DeliveryState.STOPPED]} 人"
    )
    error = outbox_store.last_error(db, service.KIND, survey_id)
    if counts[DeliveryState.STOPPED] and error:
        click.echo(error)


@survey_cli.command("results")
@click.argument("survey_id", type=int)
@click.option(
    "--json", "as_json", is_flag=True, help='One JSON object: {"sent", "answered", "counts": {option: n}, …}.'
)
def results_cmd(survey_id: int, as_json: bool) -> None:
    """Show the answers so far (the first question's counts; every question with --json).

    Example: flask --app webhook survey results 3 --json
    """
    with _Edge():
        res = service.results(_db(), survey_id)
    if as_json:
        click.echo(json.dumps(res, ensure_ascii=False))
        return
    click.echo(f"{res['title']}  送信 {res['sent']} 人 / 回答 {res['answered']} 人")
    for q in res["questions"]:
        click.echo(f"Q{q['index'] + 1}. {q['text']}（{q['n']} 人）")
        for label, n in q["counts"].items():
            click.echo(f"   {label}: {n}")


@survey_cli.command("close")
@click.argument("survey_id", type=int)
@click.option("--by", "by", required=True, help="Staff member closing the survey.")
def close_cmd(survey_id: int, by: str) -> None:
    """Stop taking answers (later taps get 「受付は終了しました」).

    Example: flask --app webhook survey close 3 --by tanaka
    """
    by = actor(by, "survey.close")
    with _Edge():
        service.close(_db(), survey_id, by)
    click.echo(f"アンケート {survey_id} の受付を終了しました。")


COMMANDS = [survey_cli]
