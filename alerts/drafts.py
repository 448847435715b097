"""Drafting an alert (nothing is sent): every problem of the input listed at once, the texts of every
language rendered and stored for the second person to approve."""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from typing import Any

from sqlite_utils import Database

from alerts.areas import resolve_areas
from alerts.errors import DrillAsActual, InvalidAlert, TestAudienceNotForActual
from alerts.records import get_alert
from alerts.render import compose, length_problems, texts_for, validate_fields
from alerts.templates import TEMPLATES, Template
from alerts.vocab import DEFAULT_EXPIRY_HOURS, DRILL_MARKERS
from common.i18n import LANGUAGE_NAMES_JA, LANGUAGES
from store import alerts as alert_store
from store import audit
from store import residents as resident_store
from store.vocab import ALERT_STATUS, MSG_TYPE, AlertKind, AlertState, AlertStatus, MsgType


def create_alert(
    db: Database,
    *,
    by: str,
    headline: str | None = None,
    body: str | None = None,
    template: str | None = None,
    fields: Mapping[str, Any] | None = None,
    areas: Iterable[str] = (),
    langs: Iterable[str] = (),
    topics: Iterable[str] = (),
    status: str = AlertStatus.ACTUAL,
    msg_type: str = MsgType.ALERT,
    references: int | None = None,
    expires_at: float | None = None,
    translations: Mapping[str, tuple[str, str]] | None = None,
    test_audience: bool = False,
    source: str = "cli",
) -> int:
    """Store a draft (nothing is sent); returns its id. Approval by another operator comes next.

    Free text (headline/body) is Japanese; `translations` adds the operator's own text per
    language ({lang: (headline, body)}, e.g. やさしい日本語 or English). Residents whose
    language has no text get やさしい日本語, else Japanese, and the preview says so.
    `test_audience` limits an exercise/test alert to the staff test audience
    (`add_tester`); it is refused for actual alerts.
    """
    by = (by or "").strip()
    langs, topics = list(dict.fromkeys(langs)), list(dict.fromkeys(topics))
    now = time.time()
    problems, ref = _check_envelope(db, by, status, msg_type, langs, topics, references, expires_at, now)
    tpl, clean_fields, more = _check_content(template, fields, headline, body, status, msg_type)
    problems += more
    clean_translations, more = _check_translations(translations, template, msg_type)
    problems += more
    if test_audience and status == AlertStatus.ACTUAL:
        raise TestAudienceNotForActual()
    if status == AlertStatus.ACTUAL and not template:
        _refuse_drill_words(headline, body, clean_translations)
    if problems:
        raise InvalidAlert(problems)
    area_codes = resolve_areas(areas) if areas else []
    if msg_type in (MsgType.UPDATE, MsgType.CANCEL) and ref is not None:
        # A correction or cancel reaches exactly the original's recipients.
        area_codes, langs, topics = ref["areas"], ref["langs"], ref["topics"]
        status = ref["status"]
        test_audience = bool(ref.get("test_audience"))
        if msg_type == MsgType.UPDATE and tpl is None and ref["template"] and not headline:
            tpl = TEMPLATES[ref["template"]]
            clean_fields = validate_fields(tpl, {**ref["fields"], **dict(fields or {})})
    row: dict[str, Any] = {
        "created_at": now,
        "created_by": by,
        "status": status,
        "msg_type": msg_type,
        "references_id": ref["id"] if ref else None,
        "template": tpl.name if tpl else None,
        "fields": clean_fields
        if tpl
        else {"body": (body or "").strip(), **({"translations": clean_translations} if clean_translations else {})},
        "areas": area_codes,
        "langs": langs,
        "topics": topics,
        "expires_at": expires_at if expires_at is not None else now + DEFAULT_EXPIRY_HOURS * 3600,
        "state": AlertState.DRAFT,
        "test_audience": int(bool(test_audience)),
        **_classification(tpl, clean_fields, ref),
    }
    rendered = _render(row, ref, headline, body)
    alert_id = alert_store.insert_alert(db, row, rendered)
    audit.record(db, by, "alert.create", f"alert:{alert_id}", _audit_details(row, rendered), source)
    return alert_id


def _audit_details(row: Mapping[str, Any], rendered: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "status": row["status"],
        "msg_type": row["msg_type"],
        "template": row["template"],
        "areas": row["areas"],
        "langs": row["langs"],
        "topics": row["topics"],
        "references": row["references_id"],
        "test_audience": bool(row["test_audience"]),
        "texts": sorted(rendered),
    }


def _check_envelope(
    db: Database,
    by: str,
    status: str,
    msg_type: str,
    langs: list[str],
    topics: list[str],
    references: int | None,
    expires_at: float | None,
    now: float,
) -> tuple[list[str], dict[str, Any] | None]:
    """Problems with who, which kind, to whom and until when; and the referenced alert, if any."""
    problems: list[str] = []
    if not by:
        problems.append("作成者を入力してください")
    if status not in ALERT_STATUS:
        problems.append(f"status は {' / '.join(AlertStatus)} のどれかです")
    if msg_type not in MSG_TYPE:
        problems.append(f"msg_type は {' / '.join(MsgType)} のどれかです")
    for lang in langs:
        if lang not in LANGUAGES:
            problems.append(f"言語「{lang}」は対応していません（{', '.join(LANGUAGES)}）")
    for topic in topics:
        if topic not in resident_store.TOPICS:
            problems.append(f"トピック「{topic}」はありません（{', '.join(resident_store.TOPICS)}）")
    ref = None
    if msg_type in (MsgType.UPDATE, MsgType.CANCEL):
        ref = get_alert(db, references) if references is not None else None
        if ref is None:
            problems.append("訂正・取消には元の警報（references）が必要です")
    elif references is not None:
        problems.append("references は訂正・取消のときだけ指定します")
    if expires_at is not None and expires_at <= now:
        problems.append("有効期限が過去になっています")
    return problems, ref


def _check_content(
    template: str | None,
    fields: Mapping[str, Any] | None,
    headline: str | None,
    body: str | None,
    status: str,
    msg_type: str,
) -> tuple[Template | None, dict[str, str], list[str]]:
    """The template and its checked fields, or the free text; a drill-only template as actual is refused."""
    problems: list[str] = []
    tpl = None
    clean_fields: dict[str, str] = {}
    if template:
        tpl = TEMPLATES.get(template)
        if tpl is None:
            problems.append(f"テンプレート「{template}」はありません（{', '.join(TEMPLATES)}）")
        elif headline or body:
            problems.append("テンプレートを使うときは見出し・本文を直接入力しません（項目で指定します）")
        else:
            try:
                clean_fields = validate_fields(tpl, fields or {})
            except InvalidAlert as exc:
                problems += exc.problems
            if tpl.name == AlertKind.LIFT and msg_type != MsgType.UPDATE:
                problems.append("解除は、元の避難情報の画面の「解除する」（alert lift）から作成します")
            if tpl.status and status != tpl.status:
                raise DrillAsActual(
                    [
                        f"テンプレート「{tpl.title}」は{ALERT_STATUS.label(tpl.status)}専用です。本番として送ることはできません"
                    ]
                )
    elif msg_type != MsgType.CANCEL:
        if not (headline or "").strip():
            problems.append("見出しを入力してください")
        if not (body or "").strip():
            problems.append("本文を入力してください")
    if fields and not template:
        problems.append("項目（fields）はテンプレートと一緒に使います")
    problems += length_problems("", headline, body)
    return tpl, clean_fields, problems


def _check_translations(
    translations: Mapping[str, tuple[str, str]] | None, template: str | None, msg_type: str
) -> tuple[dict[str, list[str]], list[str]]:
    """The operator's own text per language ({lang: [headline, body]}) and its problems."""
    problems: list[str] = []
    clean: dict[str, list[str]] = {}
    for lang, pair in (translations or {}).items():
        h, b = (str(x or "").strip() for x in pair)
        if template or msg_type == MsgType.CANCEL:
            problems.append(
                "言語ごとの文面（translations）は自由文の警報で使います（テンプレートは全言語の文面があります）"
            )
            break
        if lang not in LANGUAGES or lang == "ja":
            problems.append(f"文面の言語「{lang}」は指定できません（{', '.join(x for x in LANGUAGES if x != 'ja')}）")
        elif not h or not b:
            problems.append(f"{LANGUAGE_NAMES_JA.get(lang, lang)}の見出しと本文を両方入力してください")
        elif too_long := length_problems(LANGUAGE_NAMES_JA.get(lang, lang) + "の", h, b):
            problems += too_long
        else:
            clean[lang] = [h, b]
    return clean, problems


def _refuse_drill_words(headline: str | None, body: str | None, translations: Mapping[str, list[str]]) -> None:
    """Free text of an actual alert that reads like a drill or test is refused (never sent as actual)."""
    text = f"{headline or ''} {body or ''}".lower()
    # "exercise" is also plain English ("exercise caution"): only the other markers apply to translations.
    translated = " ".join(f"{h} {b}" for h, b in translations.values()).lower()
    if any(m in text for m in DRILL_MARKERS) or any(m in translated for m in DRILL_MARKERS if m != "exercise"):
        raise DrillAsActual(
            [
                "本文に「訓練」「テスト」などの語があります。訓練・テストの配信は、訓練またはテストとして作成してください（本番では送れません）"
            ]
        )


def _classification(
    tpl: Template | None, clean_fields: Mapping[str, str], ref: Mapping[str, Any] | None
) -> dict[str, Any]:
    """event, level, severity and hazard: from the template, else the referenced alert, else a notice."""
    out: dict[str, Any] = {
        "event": tpl.event if tpl else (ref["event"] if ref else "notice"),
        "level": tpl.level if tpl else (ref["level"] if ref else None),
        "severity": tpl.severity if tpl else "Moderate",
    }
    if tpl is not None:
        out["hazard"] = tpl.hazard or clean_fields.get("hazard")
        if tpl.name == "earthquake" and clean_fields.get("intensity", "") >= "5":
            out["level"] = 4  # strong shaking: disaster mode on
    elif ref is not None:
        out["hazard"] = ref["hazard"]
    return out


def _render(
    row: dict[str, Any], ref: Mapping[str, Any] | None, headline: str | None, body: str | None
) -> dict[str, list[dict[str, Any]]]:
    """The exact messages per language; sets the row's (Japanese) headline."""
    msg_type = row["msg_type"]
    texts = texts_for(row, (headline or "").strip(), (body or "").strip())
    row["headline"] = texts.get("ja", next(iter(texts.values())))[0] if msg_type != MsgType.CANCEL else ref["headline"]  # type: ignore[index]
    ref_texts = texts_for(ref) if ref is not None else {}
    if msg_type == MsgType.CANCEL:
        texts = {lang: ("", (body or "").strip()) for lang in (ref_texts or {"ja": None})}
    return {
        lang: compose(
            lang,
            row["status"],
            msg_type,
            h,
            b,
            (ref_texts.get(lang) or ref_texts.get("ja") or ("",))[0] if ref else None,
            lift=row["template"] == AlertKind.LIFT,
        )
        for lang, (h, b) in texts.items()
    }
