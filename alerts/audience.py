"""Who receives an alert and what each group reads: the recipient groups (per language, and per
area when the shelter guide comes along) and the preview shown before approval."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sqlite_utils import Database

from alerts.areas import ward_areas
from alerts.guide import location_quick_reply, open_shelters_by_area, shelter_guide_message, with_shelter_guide
from alerts.records import get_alert
from alerts.render import text_lang_for
from common.i18n import LANGUAGE_NAMES_JA, t
from store import alerts as alert_store
from store import residents as resident_store
from store.vocab import AlertStatus, MsgType

LIFE_SAFETY_TEMPLATES = ("shelter_open", "earthquake")


def is_life_safety(alert: Mapping[str, Any]) -> bool:
    """Whether an alert also reaches residents who sent 配信停止 (ordinary notices stopped).

    Actual alerts only: 警戒レベル4 以上 (避難指示, 緊急安全確保), 避難所開設 (its areas) and 地震.
    Drills and tests never override a resident's stop. Corrections, cancellations and lifts go to
    exactly the original's recipients, so they follow the original's rule.
    """
    if alert.get("status") != AlertStatus.ACTUAL or alert.get("msg_type", MsgType.ALERT) != MsgType.ALERT:
        return False
    if alert.get("template") in LIFE_SAFETY_TEMPLATES:
        return True
    return alert.get("event") == "evacuation" and (alert.get("level") or 0) >= 4


def _targets(alert: Mapping[str, Any]) -> tuple[list[str], list[str], list[str]]:
    """An alert's areas, languages and topics (empty: everyone)."""
    return alert["areas"], alert["langs"], alert["topics"]


def _rules(alert: Mapping[str, Any]) -> dict[str, bool]:
    """Whom an alert reaches beyond its targets: only the test audience, or also residents who stopped."""
    return {"testers_only": bool(alert.get("test_audience")), "life_safety": is_life_safety(alert)}


def recipient_groups(
    db: Database, alert: Mapping[str, Any], available: Iterable[str]
) -> dict[tuple[str, str | None], list[str]]:
    """(text lang, resident lang) → user ids, ordered; cancels/updates reuse the original's list."""
    available = list(available)
    groups: dict[tuple[str, str | None], list[str]] = {}
    if alert["msg_type"] in (MsgType.UPDATE, MsgType.CANCEL):
        for uid, orig_lang in alert_store.reached_recipients(db, alert["references_id"]):
            key = (text_lang_for(orig_lang, available), orig_lang)
            groups.setdefault(key, []).append(uid)
        return groups
    for uid, lang, _area in resident_store.iter_recipients(db, *_targets(alert), **_rules(alert)):
        groups.setdefault((text_lang_for(lang, available), lang or "ja"), []).append(uid)
    return groups


def shelter_guide_groups(db: Database, alert: Mapping[str, Any]) -> list[tuple[str, list[str], list[dict[str, Any]]]]:
    """Outbox groups per (text language, resident's area): the alert, the open shelters of that
    area (actual alerts only, fixed when delivery starts), and the location quick reply on the
    last message (LINE shows quick replies under the last one). At most 2 of LINE's 5 messages."""
    texts = alert["texts"]
    by_key: dict[tuple[str, str | None], list[str]] = {}
    for uid, lang, area in resident_store.iter_recipients(db, *_targets(alert), **_rules(alert)):
        by_key.setdefault((text_lang_for(lang, texts), area), []).append(uid)
    open_by_area = open_shelters_by_area(db, alert["areas"]) if alert["status"] == AlertStatus.ACTUAL else {}
    # Area names in the resident's script where the areas file gives one (Midori 1-chome, 绿一丁目).
    named = ward_areas().by_code

    def name(code: str, lang: str) -> str:
        return named[code].display(lang) if code in named else code

    out = []
    for (text_lang, area), ids in sorted(by_key.items(), key=lambda kv: (kv[0][0], kv[0][1] or "")):
        messages = [dict(m) for m in texts[text_lang]]
        found = open_by_area.get(area, []) if area is not None else open_by_area.get(None, [])
        if found:
            sep = "、" if text_lang in ("ja", "easy", "zh", "zh-Hant") else ", "
            where = name(area, text_lang) if area else sep.join(name(c, text_lang) for c in alert["areas"])
            messages.append(shelter_guide_message(where or t("area_all_name", text_lang), found, text_lang))
        messages[-1]["quickReply"] = location_quick_reply(text_lang)
        out.append((text_lang, ids, messages))
    return out


def preview(db: Database, alert_id: int) -> dict[str, Any]:
    """What each language group will receive and how many people: shown before approval."""
    alert = get_alert(db, alert_id)
    texts = alert["texts"]
    if alert["msg_type"] == MsgType.ALERT:
        counts: dict[tuple[str, str], int] = {}
        for lang, n in resident_store.count_recipients_by_lang(db, *_targets(alert), **_rules(alert)).items():
            key = (text_lang_for(lang, texts), lang or "ja")
            counts[key] = counts.get(key, 0) + n
    else:
        counts = {k: len(v) for k, v in recipient_groups(db, alert, texts).items()}
    groups = [
        {
            "lang": text_lang,
            "resident_lang": resident_lang,
            "count": n,
            "messages": texts[text_lang],
            "fallback_from": resident_lang if resident_lang != text_lang else None,
        }
        for (text_lang, resident_lang), n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0][1] or ""))
    ]
    test_audience = bool(alert.get("test_audience"))
    return {
        "alert_id": alert_id,
        "status": alert["status"],
        "status_label": alert["status_label"],
        "msg_type": alert["msg_type"],
        "state": alert["state"],
        "test_audience": test_audience,
        "recipient_count": sum(g["count"] for g in groups),
        "groups": groups,
        "fallbacks": [
            {"resident_lang": g["fallback_from"], "lang": g["lang"], "count": g["count"]}
            for g in groups
            if g["fallback_from"]
        ],
        "notes": _preview_notes(db, alert, groups),
    }


def _preview_notes(db: Database, alert: Mapping[str, Any], groups: list[dict[str, Any]]) -> list[str]:
    """What the approver should know: fallbacks (each group gets its `note`), stopped residents reached,
    the shelter guide, the test audience."""
    texts = alert["texts"]
    notes = []
    for g in groups:
        if g["fallback_from"]:
            g["note"] = (
                f"{LANGUAGE_NAMES_JA.get(g['fallback_from'], g['fallback_from'])}の文面がないため、"
                f"{g['count']}人には{LANGUAGE_NAMES_JA.get(g['lang'], g['lang'])}の文面が届きます"
            )
            notes.append(g["note"])
    if "easy" not in texts and any(g["fallback_from"] for g in groups):
        notes.append("やさしい日本語の文面がありません。外国語の人にも日本語（ふつう）の文面が届きます")
    if alert["msg_type"] == MsgType.ALERT and is_life_safety(alert):
        ordinary = sum(
            resident_store.count_recipients_by_lang(
                db, *_targets(alert), testers_only=bool(alert.get("test_audience"))
            ).values()
        )
        stopped = sum(g["count"] for g in groups) - ordinary
        if stopped:
            notes.insert(
                0,
                f"命を守る緊急情報のため、「配信停止」中の人（{stopped}人）にも届きます"
                "（緊急情報も止めた人には届きません）",
            )
    if with_shelter_guide(alert):
        notes.append(
            "「近くの避難所」（位置情報を送るボタン）が付きます"
            + (
                "。本番では、配信開始の時点で開設している避難所の一覧を、受け取る人の地区ごとに添えます"
                if alert["status"] == AlertStatus.ACTUAL
                else ""
            )
        )
    if alert.get("test_audience"):
        n_testers = alert_store.count_testers(db)
        notes.insert(0, f"テスト対象者（登録 {n_testers} 人）のうち、対象の条件に合う人だけに送ります")
    return notes
