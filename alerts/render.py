"""From an alert row to words: template fields checked, texts per language, the exact LINE messages
each language group receives, and the labels operators read (never internal codes)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from alerts.errors import InvalidAlert
from alerts.templates import INTENSITY_NAMES, TEMPLATES, Template
from alerts.vocab import (
    BODY_MAX,
    FIELD_MAX,
    HAZARDS,
    HEADLINE_MAX,
    TEXT_MAX,
)
from common.i18n import LANGUAGE_NAMES_JA, t
from nlp.language import clip_utf16, utf16_len
from store.alerts import AlertRow
from store.vocab import ALERT_KIND, ALERT_STATE, ALERT_STATUS, TOPIC, AlertKind, AlertStatus, MsgType


def validate_fields(tpl: Template, fields: Mapping[str, Any]) -> dict[str, str]:
    problems = []
    clean: dict[str, str] = {}
    for key in fields:
        if key not in tpl.fields:
            problems.append(f"テンプレート「{tpl.title}」に項目「{key}」はありません")
    for key, spec in tpl.fields.items():
        value = str(fields.get(key) or "").strip()
        if not value:
            if spec.required:
                problems.append(f"「{spec.label}」（{key}）を入力してください")
            continue
        if len(value) > FIELD_MAX:
            problems.append(f"「{spec.label}」が長すぎます（{FIELD_MAX}文字まで）")
        if spec.choices is not None:
            if value not in spec.choices:
                problems.append(f"「{spec.label}」は次のどれかにしてください: {'、'.join(dict.fromkeys(spec.choices))}")
                continue
            value = spec.choices[value]
        clean[key] = value
    if problems:
        raise InvalidAlert(problems)
    return clean


def texts_for(
    alert: Mapping[str, Any], headline: str | None = None, body: str | None = None
) -> dict[str, tuple[str, str]]:
    """lang → (headline, body) of an alert row's content (without status/type prefixes)."""
    tpl = TEMPLATES.get(alert.get("template") or "")
    if tpl is None:
        out = {
            "ja": (
                headline if headline is not None else alert["headline"],
                body if body is not None else alert["fields"].get("body", ""),
            )
        }
        for lang, (h, b) in (alert["fields"].get("translations") or {}).items():
            out[lang] = (h, b)
        return out
    values = dict(alert["fields"])
    hazard = tpl.hazard or values.get("hazard")
    out = {}
    for lang, (h, b) in tpl.texts.items():
        extra = {"hazard_name": t(f"hazard_{hazard}", lang) if hazard else ""}
        if "order" in values:
            extra["order_name"] = t(f"order_{values['order']}", lang)
        if "intensity" in values:
            extra["intensity_name"] = INTENSITY_NAMES.get(lang, {}).get(values["intensity"], values["intensity"])
        out[lang] = (h.format(**extra, **values), b.format(**extra, **values))
    return out


def length_problems(prefix: str, headline: str | None, body: str | None) -> list[str]:
    out = []
    for label, text, limit in (("見出し", headline, HEADLINE_MAX), ("本文", body, BODY_MAX)):
        n = len((text or "").strip())
        if n > limit:
            out.append(f"{prefix}{label}は{limit:,}文字までにしてください（いま{n:,}文字）")
    return out


def clip(text: str) -> str:
    if utf16_len(text) <= TEXT_MAX:
        return text
    return clip_utf16(text, TEXT_MAX - 200) + "…"


def compose(
    lang: str, status: str, msg_type: str, headline: str, body: str, ref_headline: str | None, lift: bool = False
) -> list[dict[str, Any]]:
    """The exact LINE messages one language group receives."""
    lines = []
    if status == AlertStatus.EXERCISE:
        lines.append(t("alert_prefix_exercise", lang))
    elif status == AlertStatus.TEST:
        lines.append(t("alert_prefix_test", lang))
    if msg_type == MsgType.CANCEL:
        lines.append(t("alert_cancel_intro", lang, headline=ref_headline or ""))
        if body:
            lines.append(body)
    else:
        if msg_type == MsgType.UPDATE and not lift:
            # A lift (解除) says 【解除】 itself and must never read as a correction of a mistake.
            lines.append(t("alert_update_intro", lang, headline=ref_headline or ""))
        lines.append(headline)
        if body:
            lines.append(body)
    if status == AlertStatus.EXERCISE:
        lines.append(t("alert_suffix_exercise", lang))
    elif status == AlertStatus.TEST:
        lines.append(t("alert_suffix_test", lang))
    return [{"type": "text", "text": clip("\n\n".join(x for x in lines if x))}]


def text_lang_for(resident_lang: str | None, available: Iterable[str]) -> str:
    """Which stored text a resident gets: their language, else やさしい日本語, else Japanese."""
    available = set(available)
    lang = resident_lang or "ja"
    if lang in available:
        return lang
    if lang != "ja" and "easy" in available:
        return "easy"
    return "ja" if "ja" in available else sorted(available)[0]


def kind_of(alert: Mapping[str, Any]) -> str:
    """alert / update (訂正) / lift (解除) / cancel (取消): a lift is an Update with the lift template."""
    if alert["msg_type"] == MsgType.UPDATE and alert.get("template") == AlertKind.LIFT:
        return AlertKind.LIFT
    return alert["msg_type"]


class AlertView(AlertRow):
    """A stored alert with what people read beside it (console pages, CLI): a new dict, so the
    stored row never grows keys on its way to a page."""

    texts: dict[str, list[dict[str, Any]]]  # {lang: LINE messages}; {} in lists
    state_label: str
    status_label: str
    kind: str  # AlertKind
    kind_label: str
    title: str  # the headline, or what a cancel / lift / correction is about
    area_names: list[str]
    lang_names: list[str]
    topic_names: list[str]
    hazard_label: str


def view(
    row: AlertRow,
    ref_headlines: Mapping[int, str],
    area_names: Mapping[str, str],
    texts: dict[str, list[dict[str, Any]]] | None = None,
) -> AlertView:
    """Labels people read (never internal codes): state, status, kind, a title naming the original."""
    kind = kind_of(row)
    kind_label = ALERT_KIND.label(kind)
    ref = row["references_id"]
    if kind in (AlertKind.CANCEL, AlertKind.LIFT) and ref is not None:
        # A cancellation is never listed as another 【警戒レベル4】: it names what it cancels or lifts.
        title = f"{kind_label}：#{ref}「{ref_headlines.get(ref, row['headline'])}」"
    elif kind == AlertKind.UPDATE and ref is not None:
        title = f"訂正：#{ref} {row['headline']}"
    else:
        title = row["headline"]
    hazard = row["hazard"] or ""
    return AlertView(
        **row,
        texts=texts or {},
        state_label=ALERT_STATE.label(row["state"]),
        status_label=ALERT_STATUS.label(row["status"]),
        kind=kind,
        kind_label=kind_label,
        title=title,
        area_names=[area_names.get(code, code) for code in row["areas"]],
        lang_names=[LANGUAGE_NAMES_JA.get(lang, lang) for lang in row["langs"]],
        topic_names=[TOPIC.label(topic) for topic in row["topics"]],
        hazard_label=HAZARDS.get(hazard, hazard),
    )
