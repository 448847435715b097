"""広聴 in the console: surveys (create, preview, approve, send, results) and residents' opinions
(inbox, department, notes, replies with second-person approval, monthly report)."""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
from typing import Any

from flask import Response, abort, current_app, flash, g, redirect, render_template, request, url_for

import wardtime
from admin import bp
from admin.charts import hbars
from admin.guard import db, roles
from bot.handlers.opinions import reply_messages
from bot.handlers.surveys import invitation, question_message
from bot.runtime import runtime
from common.i18n import LANGUAGE_NAMES_JA, LANGUAGES
from opinions import service as opinions
from store import opinions as opinion_store
from store import residents as resident_store
from store import surveys as survey_store
from store.vocab import OPINION_STATUS, QUESTION_KIND, REPLY_STATE, SURVEY_STATE, TOPIC, QuestionKind, ReplyState
from surveys import service as surveys

MAX_FORM_QUESTIONS = surveys.MAX_QUESTIONS


def _areas() -> dict[str, str]:
    return runtime().areas.names()


def _topics() -> dict[str, opinions.Topic]:
    return opinions.load_topics(current_app.config["OPINION_TOPICS_CSV"])


def _tz():
    return current_app.config.get("WARD_TZ") or wardtime.ward_zone()


# --- surveys ---------------------------------------------------------------------------------------


@bp.route("/surveys")
@roles("staff", "operator", "approver")
def surveys_list():
    rows = [
        {
            **r,
            "state_label": SURVEY_STATE.label(r["state"]),
            "answered": survey_store.count_respondents(db(), r["id"]),
            "recipients": survey_store.count_recipients(db(), r["id"]),
        }
        for r in survey_store.list_surveys(db())
    ]
    return render_template("admin/surveys.html", rows=rows)


def _form_questions(form) -> tuple[list[surveys.Question], list[str]]:
    questions, problems = [], []
    for i in range(MAX_FORM_QUESTIONS):
        text = (form.get(f"q{i}_text") or "").strip()
        if not text:
            continue
        kind = form.get(f"q{i}_kind") or QuestionKind.SINGLE
        options = [o.strip() for o in (form.get(f"q{i}_options") or "").splitlines() if o.strip()]
        if kind not in QUESTION_KIND:
            problems.append(f"質問{i + 1}: 種類を選んでください")
            continue
        questions.append(surveys.make_question(kind, text, options))
    return questions, problems


@bp.route("/surveys/new", methods=["GET", "POST"])
@roles("staff", "operator")
def survey_new():
    areas = _areas()
    form: dict[str, Any] = request.form.to_dict() if request.method == "POST" else {}
    problems: list[str] = []
    if request.method == "POST":
        questions, problems = _form_questions(request.form)
        closes_at = None
        if request.form.get("closes"):
            try:
                local = dt.datetime.fromisoformat(request.form["closes"]).replace(tzinfo=_tz())
                closes_at = local.timestamp()
            except ValueError:
                problems.append("締切の日時が読めません")
        chosen_areas = [a for a in request.form.getlist("area") if a in areas]
        langs = [lang for lang in request.form.getlist("lang") if lang in LANGUAGES]
        topics = [t for t in request.form.getlist("topic") if t in TOPIC]
        if not problems:
            try:
                survey_id = surveys.create(
                    db(),
                    request.form.get("title", ""),
                    questions,
                    g.admin_user,
                    chosen_areas,
                    langs,
                    topics,
                    closes_at,
                    source="console",
                )
            except surveys.InvalidSurvey as exc:
                problems = exc.problems
            else:
                flash("アンケートを作成しました。承認者が確認して承認すると送信できます。")
                return redirect(url_for("admin.survey_detail", survey_id=survey_id))
    return render_template(
        "admin/survey_new.html",
        form=form,
        problems=problems,
        areas=areas,
        languages=[(code, LANGUAGE_NAMES_JA[code]) for code in LANGUAGES],
        topics=TOPIC.labels(),
        kinds=QUESTION_KIND.labels(),
        n_questions=MAX_FORM_QUESTIONS,
        max_options=surveys.MAX_OPTIONS,
    )


def _preview(survey: dict[str, Any]) -> list[dict[str, Any]]:
    """What each language group receives, with how many people: the exact invitation."""
    counts = resident_store.count_recipients_by_lang(db(), survey["areas"], survey["langs"], survey["topics"])
    groups = []
    for lang in LANGUAGES:
        n = counts.get(lang, 0) + (counts.get(None, 0) if lang == "ja" else 0)
        if not n and lang not in ("ja", "en"):
            continue
        messages = invitation(survey, lang) + [
            question_message(survey, i, lang) for i in range(1, len(survey["questions"]))
        ]
        groups.append({"lang": lang, "count": n, "messages": messages})
    return groups


@bp.route("/surveys/<int:survey_id>")
@roles("staff", "operator", "approver")
def survey_detail(survey_id: int):
    try:
        survey = surveys.get(db(), survey_id)
    except surveys.UnknownSurvey:
        abort(404, description="アンケートが見つかりません。")
    res = surveys.results(db(), survey_id)
    charts = [hbars(list(q["counts"].items())) for q in res["questions"]]
    return render_template(
        "admin/survey.html",
        survey=survey,
        res=res,
        charts=charts,
        groups=_preview(survey),
        areas=_areas(),
        lang_labels=LANGUAGE_NAMES_JA,
        topics=TOPIC.labels(),
        kinds=QUESTION_KIND.labels(),
        can_approve=g.admin_role in ("approver", "admin")
        and survey["created_by"].casefold() != g.admin_user.casefold(),
    )


def _survey_action(survey_id: int, fn, done: str):
    try:
        fn()
    except surveys.SurveyError as exc:
        flash(str(exc))
    else:
        if done:
            flash(done)
    return redirect(url_for("admin.survey_detail", survey_id=survey_id))


@bp.route("/surveys/<int:survey_id>/approve", methods=["POST"])
@roles("approver")
def survey_approve(survey_id: int):
    return _survey_action(
        survey_id, lambda: surveys.approve(db(), survey_id, g.admin_user, source="console"), "承認しました。"
    )


@bp.route("/surveys/<int:survey_id>/send", methods=["POST"])
@roles("staff", "operator", "approver")
def survey_send(survey_id: int):
    def go():
        n = surveys.start_sending(db(), survey_id, g.admin_user, invitation, source="console")
        flash(f"{n} 人への送信を始めました（配信ワーカーが送ります）。")

    return _survey_action(survey_id, go, "")


@bp.route("/surveys/<int:survey_id>/close", methods=["POST"])
@roles("staff", "operator", "approver")
def survey_close(survey_id: int):
    return _survey_action(
        survey_id, lambda: surveys.close(db(), survey_id, g.admin_user, source="console"), "受付を終了しました。"
    )


@bp.route("/surveys/<int:survey_id>.csv")
@roles("staff", "operator", "approver")
def survey_csv(survey_id: int):
    try:
        data = surveys.results_csv(db(), survey_id)
    except surveys.UnknownSurvey:
        abort(404, description="アンケートが見つかりません。")
    return Response(
        data,
        content_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f"attachment; filename=survey-{survey_id}.csv"},
    )


# --- opinions ---------------------------------------------------------------------------------------


def _month_range(value: str | None) -> tuple[str, float, float]:
    """'YYYY-MM' in the ward's calendar → (label, start, end) as UTC epoch seconds."""
    tz = _tz()
    today = wardtime.to_local(dt.datetime.now(dt.UTC).timestamp(), tz).date()
    try:
        year, month = (int(x) for x in (value or "").split("-"))
        first = dt.date(year, month, 1)
    except ValueError:
        first = today.replace(day=1)
    nxt = (first.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    return first.strftime("%Y-%m"), wardtime.day_start(first, tz), wardtime.day_start(nxt, tz)


@bp.route("/opinions")
@roles("staff", "approver")
def opinions_list():
    args = {k: request.args.get(k, "").strip() for k in ("status", "topic", "area", "department", "month")}
    filters: dict[str, Any] = {k: v for k, v in args.items() if v and k != "month"}
    if args["month"]:
        _label, filters["start"], filters["end"] = _month_range(args["month"])
    rows = opinion_store.list_opinions(db(), filters)
    topics = _topics()
    departments = sorted({t.department for t in topics.values()} | {r["department"] for r in rows if r["department"]})
    return render_template(
        "admin/opinions.html",
        rows=rows,
        args=args,
        topics=topics,
        areas=_areas(),
        departments=departments,
        labels=OPINION_STATUS.labels(),
        receipt=opinions.receipt,
        pending=opinion_store.pending_replies(db()),
    )


@bp.route("/opinions/<int:opinion_id>")
@roles("staff", "approver")
def opinion_detail(opinion_id: int):
    try:
        op = opinions.get(db(), opinion_id)
    except opinions.OpinionError:
        abort(404, description="ご意見が見つかりません。")
    topics = _topics()
    replies = opinion_store.replies(db(), opinion_id)
    for r in replies:
        r["delivery"] = (
            opinions.reply_delivery(db(), r["id"])
            if r["state"] == ReplyState.SENT
            else REPLY_STATE.label(ReplyState.DRAFT)
        )
    return render_template(
        "admin/opinion.html",
        op=op,
        topic=topics.get(op["topic"]),
        topics=topics,
        areas=_areas(),
        notes=opinion_store.notes(db(), opinion_id),
        replies=replies,
        labels=OPINION_STATUS.labels(),
        lang_labels=LANGUAGE_NAMES_JA,
        needs_approval=opinions.needs_approval(op, topics),
        departments=sorted({t.department for t in topics.values()}),
    )


def _opinion_action(opinion_id: int, fn, done: str):
    try:
        fn()
    except opinions.OpinionError as exc:
        flash(str(exc))
    else:
        if done:
            flash(done)
    return redirect(url_for("admin.opinion_detail", opinion_id=opinion_id))


@bp.route("/opinions/<int:opinion_id>/status", methods=["POST"])
@roles("staff", "approver")
def opinion_status(opinion_id: int):
    status = request.form.get("status", "")
    return _opinion_action(
        opinion_id, lambda: opinions.set_status(db(), opinion_id, status, g.admin_user), "状態を変更しました。"
    )


@bp.route("/opinions/<int:opinion_id>/assign", methods=["POST"])
@roles("staff", "approver")
def opinion_assign(opinion_id: int):
    dept = request.form.get("department", "")
    return _opinion_action(
        opinion_id, lambda: opinions.assign(db(), opinion_id, dept, g.admin_user), "担当課を変更しました。"
    )


@bp.route("/opinions/<int:opinion_id>/note", methods=["POST"])
@roles("staff", "approver")
def opinion_note(opinion_id: int):
    body = request.form.get("body", "")
    return _opinion_action(
        opinion_id, lambda: opinions.add_note(db(), opinion_id, body, g.admin_user), "メモを残しました。"
    )


@bp.route("/opinions/<int:opinion_id>/reply", methods=["POST"])
@roles("staff", "approver")
def opinion_reply(opinion_id: int):
    body = request.form.get("body", "")

    def go():
        _reply_id, sent = opinions.write_reply(db(), opinion_id, body, g.admin_user, _topics(), reply_messages("ja"))
        flash(
            "返信を送りました（このトークに届きます）。"
            if sent
            else "返信を承認待ちにしました。別の職員が承認すると送られます。"
        )

    return _opinion_action(opinion_id, go, "")


@bp.route("/opinions/replies/<int:reply_id>/approve", methods=["POST"])
@roles("staff", "approver")
def opinion_reply_approve(reply_id: int):
    reply = opinion_store.get_reply(db(), reply_id)
    if reply is None:
        abort(404, description="返信が見つかりません。")
    return _opinion_action(
        reply["opinion_id"],
        lambda: opinions.approve_reply(db(), reply_id, g.admin_user, reply_messages("ja")),
        "承認して送りました。",
    )


@bp.route("/opinions/media/<name>")
@roles("staff", "approver")
def opinion_media(name: str):
    from reports.media import valid_name
    from reports.service import Settings

    if not valid_name(name):
        abort(404)
    data = Settings.from_config(current_app.config, runtime().areas).media.get(name)
    if data is None:
        abort(404)
    return Response(data, content_type="image/jpeg")


@bp.route("/opinions/report")
@roles("staff", "approver")
def opinions_report():
    label, start, end = _month_range(request.args.get("month"))
    topics = _topics()
    report = opinions.monthly_report(db(), start, end, topics)
    areas = _areas()
    by_area = [(areas.get(a, "地区未登録" if a == "-" else a), n) for a, n in report["by_area"]]
    if request.args.get("format") == "csv":
        return _report_csv(label, report, areas)
    return render_template(
        "admin/opinions_report.html",
        month=label,
        report=report,
        topic_chart=hbars(report["by_topic"]),
        area_chart=hbars(by_area),
        by_area=by_area,
        areas=areas,
    )


def _report_csv(month: str, report: dict[str, Any], areas: dict[str, str]) -> Response:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["月", "分野", "地区", "件数"])
    for topic, cells in sorted(report["table"].items()):
        for area, n in sorted(cells.items()):
            writer.writerow([month, topic, areas.get(area, "地区未登録" if area == "-" else area), n])
    return Response(
        codecs.BOM_UTF8 + out.getvalue().encode("utf-8"),
        content_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f"attachment; filename=opinions-{month}.csv"},
    )
