"""What changes between two FAQ versions (entry dicts as stored): added, changed fields, removed."""

from __future__ import annotations

from typing import Any

FIELD_LABELS = {
    "question": "質問",
    "answer": "回答",
    "category": "分類",
    "alternates": "言い換え",
    "url": "URL",
    "contact": "問い合わせ先",
    "translations": "翻訳",
}


def faq_diff(old: list[dict[str, Any]], new: list[dict[str, Any]]) -> dict[str, list]:
    """Added / changed (with the changed fields) / removed entries between two versions."""
    old_by_id = {e["id"]: e for e in old}
    new_by_id = {e["id"]: e for e in new}
    added = [e for e in new if e["id"] not in old_by_id]
    removed = [e for e in old if e["id"] not in new_by_id]
    changed = []
    for e in new:
        before = old_by_id.get(e["id"])
        if before is None:
            continue
        fields = [
            {"name": f, "label": FIELD_LABELS[f], "old": _show(before.get(f)), "new": _show(e.get(f))}
            for f in FIELD_LABELS
            if _norm(before.get(f)) != _norm(e.get(f))
        ]
        if fields:
            changed.append({"id": e["id"], "question": e["question"], "fields": fields})
    return {"added": added, "changed": changed, "removed": removed}


def _norm(value: Any) -> Any:
    if value in (None, "", [], {}):
        return None
    return value


def _show(value: Any) -> str:
    if isinstance(value, list):
        return "\n".join(value)
    if isinstance(value, dict):
        return "\n".join(f"[{lang}] {f.get('question', '')} / {f.get('answer', '')}" for lang, f in value.items())
    return value or ""
