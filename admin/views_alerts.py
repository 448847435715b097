"""Alerts: composer with templates and live preview, approval queue, delivery progress, cancel/correct.

Drills and actual alerts never share a button: the composer has a purple 「訓練として作成」 and a
red 「本番として作成」, and every page showing an alert carries a coloured banner with its kind.
"""

from __future__ import annotations

from typing import Any

from flask import abort, current_app, flash, g, jsonify, redirect, render_template, request, url_for

from admin import bp
from admin.guard import client_ip, db, roles
from alerts import service
from bot.runtime import runtime
from common.i18n import LANGUAGE_NAMES_JA, LANGUAGES
from shelters import service as shelters
from store.vocab import ALERT_UNSENT, TOPIC, AlertKind, AlertStatus

TEST_AUDIENCE_NOT_FOR_ACTUAL = (
    "本番の配信は「テスト対象者（職員の端末）だけに送る」にできません。"
    "職員の端末で試すときは「訓練として作成」を押してください。"
    "本番として住民に送るときは、チェックを外してから「本番として作成」を押してください。"
)


def _source() -> str:
    return f"web {client_ip()}"


def _templates() -> list[dict[str, Any]]:
    out = []
    for tpl in service.TEMPLATES.values():
        if tpl.name == AlertKind.LIFT:  # made from the order's page (解除), never a new alert
            continue
        out.append(
            {
                "name": tpl.name,
                "title": tpl.title,
                "status": tpl.status,
                "ja": list(tpl.texts.get("ja", ("", ""))),
                "fields": [
                    {
                        "key": k,
                        "label": f.label,
                        "required": f.required,
                        "choices": list(dict.fromkeys((f.choices or {}).values())) if f.choices else None,
                    }
                    for k, f in tpl.fields.items()
                ],
            }
        )
    return out


def _hazard_names() -> dict[str, str]:
    return dict(service.HAZARDS)


def _composer(form: dict[str, Any], problems: list[str] | None = None, status: int = 200):
    return render_template(
        "admin/alert_new.html",
        templates=_templates(),
        form=form,
        problems=problems or [],
        areas=runtime().areas.all,
        langs=LANGUAGES,
        lang_labels=LANGUAGE_NAMES_JA,
        topics=TOPIC.labels(),
        hazards=_hazard_names(),
        testers=service.list_testers(db()),
    ), status


def _translations() -> dict[str, tuple[str, str]]:
    """The operator's own text per language (free-text alerts), as the CLI's --translation.

    Languages left blank are not sent: the service gives those residents やさしい日本語/日本語.
    """
    out = {}
    for lang in LANGUAGES:
        pair = (request.form.get(f"tr_{lang}_headline", ""), request.form.get(f"tr_{lang}_body", ""))
        if lang != "ja" and any(x.strip() for x in pair):
            out[lang] = pair
    return out


@bp.route("/alerts")
@roles("operator", "approver")
def alerts():
    return render_template("admin/alerts.html", alerts=service.list_alerts(db(), limit=100))


@bp.route("/alerts/new")
@roles("operator")
def alert_new():
    form: dict[str, Any] = {
        "template": request.args.get("template", ""),
        "fields": {},
        "areas": [],
        "langs": [],
        "topics": [],
        "headline": "",
        "body": "",
        "translations": {},
        "test_audience": False,
    }
    shelter_id = request.args.get("shelter")
    if shelter_id:
        try:
            shelter = shelters.get_shelter(db(), shelter_id)
        except shelters.UnknownShelter:
            abort(404)
        if shelter.get("withdrawn_at"):
            abort(404)  # no longer designated: nothing to announce
        pre = shelters.opening_alert_fields(shelter, runtime().areas)
        form.update(
            template="shelter_open",
            areas=pre["areas"],
            fields={
                "shelter_name": pre["shelter_name"],
                "address": pre["address"],
                "areas": "、".join(pre["area_names"]),
            },
        )
    if form["template"] and (form["template"] not in service.TEMPLATES or form["template"] == AlertKind.LIFT):
        form["template"] = ""
    return _composer(form)


@bp.route("/alerts", methods=["POST"])
@roles("operator")
def alert_create():
    template = request.form.get("template", "")
    tpl = service.TEMPLATES.get(template) if template != AlertKind.LIFT else None
    fields = {k: request.form.get(f"f_{k}", "") for k in (tpl.fields if tpl else {})}
    form = {
        "template": template if tpl else "",
        "fields": fields,
        "areas": request.form.getlist("areas"),
        "langs": request.form.getlist("langs"),
        "topics": request.form.getlist("topics"),
        "headline": request.form.get("headline", ""),
        "body": request.form.get("body", ""),
        "translations": _translations(),
        "test_audience": request.form.get("test_audience") == "1",
    }
    kind = request.form.get("kind", "")
    if kind not in (AlertStatus.ACTUAL, AlertStatus.EXERCISE):
        return _composer(form, ["「訓練として作成」か「本番として作成」のボタンで作成してください。"], 400)
    try:
        alert_id = service.create_alert(
            db(),
            by=g.admin_user,
            headline=None if tpl else form["headline"],
            body=None if tpl else form["body"],
            template=template if tpl else None,
            fields=fields if tpl else None,
            areas=form["areas"],
            langs=form["langs"],
            topics=form["topics"],
            status=kind,
            translations=form["translations"] or None,
            test_audience=form["test_audience"],
            source=_source(),
        )
    except service.TestAudienceNotForActual:
        # The service's wording names CLI options; the console names its own buttons.
        return _composer(form, [TEST_AUDIENCE_NOT_FOR_ACTUAL], 400)
    except service.InvalidAlert as exc:
        return _composer(form, exc.problems, 400)
    except service.AlertError as exc:
        return _composer(form, [str(exc)], 400)
    flash("下書きを作成しました。内容と配信先を確認し、承認者に承認を依頼してください。")
    return redirect(url_for("admin.alert_detail", alert_id=alert_id))


def _get(alert_id: int) -> service.AlertView:
    try:
        return service.get_alert(db(), alert_id)
    except service.UnknownAlert:
        abort(404)


def _lang_order(lang: str) -> int:
    return LANGUAGES.index(lang) if lang in LANGUAGES else len(LANGUAGES)


def _detail(alert_id: int, error: str | None):
    alert = _get(alert_id)
    st = service.status(db(), alert_id)
    # One source for the state the page shows (banner and progress), updated together by the script.
    alert = service.AlertView(**{**alert, "state": st["state"], "state_label": st["state_label"]})
    preview = service.preview(db(), alert_id)
    # Texts nobody receives yet (e.g. the operator's English with no English residents) are
    # still shown, so the operator can check every text they wrote before approval.
    shown = {grp["lang"] for grp in preview["groups"]}
    unreached = [
        {"lang": lang, "count": 0, "messages": messages, "fallback_from": None}
        for lang, messages in sorted(alert["texts"].items(), key=lambda kv: _lang_order(kv[0]))
        if lang not in shown
    ]
    return render_template(
        "admin/alert.html",
        a=alert,
        preview=preview,
        unreached=unreached,
        st=st,
        lang_labels=LANGUAGE_NAMES_JA,
        liftable=service.LIFTABLE,
        error=error,
    )


@bp.route("/alerts/<int:alert_id>")
@roles("operator", "approver")
def alert_detail(alert_id: int):
    return _detail(alert_id, request.args.get("error"))


@bp.route("/alerts/<int:alert_id>/status.json")
@roles("operator", "approver")
def alert_status(alert_id: int):
    _get(alert_id)
    return jsonify(service.status(db(), alert_id))


def _act(alert_id: int, fn, ok_message: str):
    _get(alert_id)
    try:
        fn()
    except service.AlertError as exc:
        # The refusal (e.g. self-approval) is shown on the page, with 409.
        return _detail(alert_id, str(exc)), 409
    if ok_message:
        flash(ok_message)
    return redirect(url_for("admin.alert_detail", alert_id=alert_id))


@bp.route("/alerts/<int:alert_id>/approve", methods=["POST"])
@roles("approver")
def alert_approve(alert_id: int):
    return _act(
        alert_id,
        lambda: service.approve(db(), alert_id, g.admin_user, source=_source()),
        "承認しました。「配信を開始」で送信します。",
    )


@bp.route("/alerts/<int:alert_id>/send", methods=["POST"])
@roles("approver")
def alert_send(alert_id: int):
    return _act(
        alert_id,
        lambda: service.start_delivery(
            db(), alert_id, g.admin_user, source=_source(), stale_minutes=current_app.config["ALERT_STALE_MINUTES"]
        ),
        "配信を開始しました。",
    )


@bp.route("/alerts/<int:alert_id>/cancel")
@roles("operator", "approver")
def alert_cancel_confirm(alert_id: int):
    """取消 confirmation: the exact fixed text per language and how many people get it."""
    alert = _get(alert_id)
    if alert["state"] in ALERT_UNSENT:
        return redirect(url_for("admin.alert_detail", alert_id=alert_id))
    try:
        cp = service.cancel_preview(db(), alert_id)
    except service.AlertError as exc:
        return _detail(alert_id, str(exc)), 409
    return render_template("admin/alert_cancel.html", a=alert, cp=cp, lang_labels=LANGUAGE_NAMES_JA)


@bp.route("/alerts/<int:alert_id>/cancel", methods=["POST"])
@roles("operator", "approver")
def alert_cancel(alert_id: int):
    """Withdraw a draft; 取消 with the fixed text after the confirmation; free text → a draft to approve."""
    alert = _get(alert_id)
    body = (request.form.get("body") or "").strip()
    sent = alert["state"] not in ALERT_UNSENT
    if sent and not body and request.form.get("confirm") != "1":
        # Nothing is sent without the confirmation page (exact text and count).
        return redirect(url_for("admin.alert_cancel_confirm", alert_id=alert_id))
    result: dict[str, int] = {}

    def run() -> None:
        result["id"] = service.cancel(db(), alert_id, g.admin_user, body=body, source=_source(), confirmed=True)

    resp = _act(alert_id, run, "" if sent else "取り下げました。")
    if result.get("id") and result["id"] != alert_id:
        if body:
            flash("説明つきの取消を下書きとして作成しました。送るには、ほかの承認者の承認が必要です。")
        else:
            flash("取消のお知らせを、元の配信を受け取った人に送っています。")
        return redirect(url_for("admin.alert_detail", alert_id=result["id"]))
    return resp


@bp.route("/alerts/<int:alert_id>/lift", methods=["POST"])
@roles("operator")
def alert_lift(alert_id: int):
    """解除: the order ends. A draft in every language that an approver approves and sends."""
    result: dict[str, int] = {}

    def run() -> None:
        result["id"] = service.lift(db(), alert_id, g.admin_user, source=_source())

    resp = _act(alert_id, run, "")
    if result.get("id"):
        flash("解除の下書きを作成しました。文面と配信人数を確認し、承認者に承認を依頼してください。")
        return redirect(url_for("admin.alert_detail", alert_id=result["id"]))
    return resp


@bp.route("/alerts/<int:alert_id>/correct", methods=["POST"])
@roles("operator")
def alert_correct(alert_id: int):
    result: dict[str, int] = {}

    def run() -> None:
        result["id"] = service.correct(
            db(),
            alert_id,
            g.admin_user,
            headline=request.form.get("headline") or None,
            body=request.form.get("body") or None,
            source=_source(),
        )

    resp = _act(alert_id, run, "")
    if result.get("id"):
        flash("訂正の下書きを作成しました。承認者の承認が必要です。")
        return redirect(url_for("admin.alert_detail", alert_id=result["id"]))
    return resp


@bp.route("/approvals")
@roles("approver")
def approvals():
    rows = [a for a in service.list_alerts(db(), limit=200) if a["state"] in ALERT_UNSENT]
    previews = {a["id"]: service.preview(db(), a["id"]) for a in rows}
    return render_template("admin/approvals.html", alerts=rows, previews=previews, lang_labels=LANGUAGE_NAMES_JA)
