"""The audit log in words: action codes, targets and JSON details as the Japanese a clerk reads.

The log itself stays as recorded (append-only, machine-readable); this only renders it. An
action or key nobody has described yet is still shown (its code), never hidden.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from admin.guard import ROLE_LABELS
from bot.runtime import runtime
from shelters import hazards
from store.vocab import ALERT_STATUS, MSG_TYPE, SHELTER_STATUS

ACTIONS: dict[str, str] = {
    "login": "ログイン",
    "logout": "ログアウト",
    "login.failed": "ログイン失敗",
    "user.create": "ユーザー追加",
    "user.update": "ユーザー変更",
    "user.password": "パスワード変更",
    "faq.upload": "FAQ CSV 取り込み（未公開）",
    "faq.upload_rejected": "FAQ CSV 取り込み失敗",
    "faq.publish": "FAQ 公開",
    "faq.rollback": "FAQ を前の版に戻す",
    "faq.draft_entry": "FAQ 1件追加（未公開）",
    "faq.draft_alternate": "FAQ 言い換え追加（未公開）",
    "unanswered.ignore": "未回答の質問を無視",
    "shelter.import": "避難所ファイル取り込み",
    "shelter.status": "避難所の状態変更",
    "alert.create": "緊急配信の作成",
    "alert.approve": "緊急配信の承認",
    "alert.approve_refused": "緊急配信の承認を拒否",
    "alert.send": "緊急配信の配信開始",
    "alert.resume": "緊急配信の再開",
    "alert.resume_refused": "緊急配信の再開を拒否",
    "alert.withdraw": "緊急配信の取り下げ",
    "alert.withdraw_unsent": "未送信分の取り下げ",
    "alert.cancel": "緊急配信の取消",
    "alert.cancel_draft": "取消の下書き作成",
    "alert.lift_draft": "解除の下書き作成",
    "alert.tester_add": "テスト対象者の追加",
    "alert.tester_update": "テスト対象者の変更",
    "alert.tester_remove": "テスト対象者の削除",
    "survey.create": "アンケート作成",
    "survey.approve": "アンケート承認",
    "survey.approve_refused": "アンケート承認を拒否",
    "survey.send": "アンケート配信",
    "survey.close": "アンケート締め切り",
    "garbage.capacity": "粗大ごみ受付枠の変更",
    "garbage.cancel": "粗大ごみ申込の取消",
    "report.status": "通報の状態変更",
}
# Filter choices on the page: a label and the action prefix it selects.
GROUPS: tuple[tuple[str, str], ...] = (
    ("FAQ", "faq."),
    ("未回答の質問", "unanswered."),
    ("緊急配信", "alert."),
    ("避難所", "shelter."),
    ("アンケート", "survey."),
    ("粗大ごみ", "garbage."),
    ("通報", "report."),
    ("ユーザー", "user."),
    ("ログイン", "login"),
)
KEYS: dict[str, str] = {
    "status": "状態",
    "previous": "変更前",
    "head_count": "避難者数",
    "recipients": "配信人数",
    "role": "役割",
    "disabled": "無効",
    "errors": "エラー",
    "file": "ファイル",
    "entries": "件数",
    "id": "FAQ ID",
    "queries": "質問",
    "rows": "記録",
    "reason": "理由",
    "format": "形式",
    "total": "件数",
    "msg_type": "種類",
    "template": "テンプレート",
    "areas": "地域",
    "langs": "言語",
    "topics": "分野",
    "hazards": "災害種別",
    "day": "日",
    "capacity": "受付枠",
    "from": "変更前",
    "to": "変更後",
    "note": "メモ",
    "title": "題名",
    "questions": "設問数",
    "cancel_alert": "取消の配信",
    "lift_alert": "解除の配信",
    "withdrawn_batches": "取り下げた配信",
    "alternates": "言い換え",
}
_REASONS = {"self": "作成者本人は承認できません", "expired": "有効期限切れ", "already cancelled": "取消済み"}
_FORMATS = {"standard": "自治体標準", "gsi_csv": "国土地理院 CSV", "gsi_geojson": "国土地理院 GeoJSON"}


def _areas() -> dict[str, str]:
    return runtime().areas.names()


def _hazards() -> dict[str, str]:
    return dict(hazards.LABELS)


class AuditText:
    """Renders rows of one page (area names and labels loaded once per page)."""

    def __init__(self) -> None:
        self.areas = _areas()
        self.hazards = _hazards()
        self.values: dict[str, Callable[[Any], str]] = {
            "status": lambda v: ALERT_STATUS.staff.get(v) or SHELTER_STATUS.staff.get(v) or str(v),
            "previous": lambda v: SHELTER_STATUS.staff.get(v) or (f"v{v}" if isinstance(v, int) else str(v)),
            "role": lambda v: ROLE_LABELS.get(v, str(v)),
            "disabled": lambda v: "はい" if v else "いいえ",
            "msg_type": lambda v: MSG_TYPE.label(str(v)),
            "reason": lambda v: _REASONS.get(v, str(v)),
            "format": lambda v: _FORMATS.get(v, str(v)),
            "areas": lambda v: self._names(v, self.areas) or "区内すべて",
            "hazards": lambda v: self._names(v, self.hazards),
            "head_count": lambda v: f"{v}人",
            "recipients": lambda v: f"{v}人",
            "entries": lambda v: f"{v}件",
            "errors": lambda v: f"{v}件",
            "cancel_alert": lambda v: f"#{v}",
            "lift_alert": lambda v: f"#{v}",
        }

    @staticmethod
    def _names(value: Any, labels: Mapping[str, str]) -> str:
        items = value if isinstance(value, list | tuple) else [value]
        return "、".join(labels.get(str(i), str(i)) for i in items if i not in (None, ""))

    def action(self, code: str) -> str:
        return ACTIONS.get(code, code)

    def target(self, target: str | None) -> str:
        """「faq:v3」 → 「FAQ v3」, 「alert:12」 → 「緊急配信 #12」, 「area:midori-1」 → the area's name."""
        if not target:
            return ""
        kind, sep, rest = target.partition(":")
        if not sep:
            return target
        if kind == "faq":
            return f"FAQ {rest}"
        if kind == "area":
            return self.areas.get(rest, rest)
        names = {
            "alert": "緊急配信",
            "survey": "アンケート",
            "report": "通報",
            "bulky": "粗大ごみ 受付番号",
            "tester": "テスト対象者",
        }
        return f"{names[kind]} #{rest}" if kind in names else target

    def detail(self, raw: str | None) -> str:
        """The JSON detail as 「状態: 開設 → 満員、避難者数: 120人」-style Japanese."""
        if not raw:
            return ""
        try:
            data = json.loads(raw)
        except (TypeError, ValueError):
            return str(raw)
        if not isinstance(data, dict):
            return str(data)
        parts = []
        if "status" in data and "previous" in data and data["previous"] in SHELTER_STATUS:
            parts.append(
                f"状態: {SHELTER_STATUS.label(data.pop('previous'))} → {self.values['status'](data.pop('status'))}"
            )
        if "from" in data and "to" in data:
            parts.append(f"状態: {data.pop('from')} → {data.pop('to')}")
        if isinstance(data.get("previous"), int):
            parts.append(f"それまで公開していた版: v{data.pop('previous')}")
        for key, value in data.items():
            if value is None or value == "" or value == [] or value == {}:
                continue
            show = self.values.get(key)
            if isinstance(value, dict):
                text = "、".join(f"{KEYS.get(k, k)} {v}" for k, v in value.items())
            elif show is not None:
                text = show(value)
            elif isinstance(value, bool):
                text = "はい" if value else "いいえ"
            elif isinstance(value, list | tuple):
                text = "、".join(str(v) for v in value)
            else:
                text = str(value)
            parts.append(f"{KEYS.get(key, key)}: {text}")
        return "、".join(parts)

    def source(self, source: str | None) -> str:
        if not source:
            return ""
        if source == "cli":
            return "コマンド"
        if source.startswith("web "):
            return f"管理画面（{source[4:]}）"
        return source
