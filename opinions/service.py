"""Opinions (ご意見・ご提案): the resident's dialogue, and what staff do with an opinion.

Dialogue: topic → text → photo (optional) → whether a reply is wanted → confirmation → number.
The state is in the database (any process answers the next message) and kept a day, so a
resident who stops halfway finds their text again when they come back.
Staff: assign a department, internal notes, status 受付/対応中/回答済み/対応なし, and a reply pushed
to the resident through the shared outbox — approved by a second person first when the
department's topic says so.
"""

from __future__ import annotations

import time
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlite_utils import Database

from excelcsv import CsvError, CsvInvalid, Sheet
from store import audit, transaction
from store import opinions as store
from store import outbox as outbox_store
from store.residents import Resident
from store.vocab import DELIVERY_STATE, OPINION_STATUS, DeliveryState, OpinionStatus, ReplyState

KIND = "opinion_reply"
DRAFT_MAX_AGE = 86400.0  # a day: come back tomorrow morning and your text is still there
TEXT_MAX = 5000  # LINE's own limit for one message
REPLY_MAX = 4000
PER_DAY = 10  # opinions one resident can send a day (abuse limit)
LANG_COLUMNS = ("ja", "easy", "en", "zh", "zh-Hant", "ko", "vi", "pt")


class OpinionError(Exception):
    """Base of opinion errors; str() is a Japanese sentence for staff."""


class TopicFileError(CsvInvalid, OpinionError):
    """The topics file was refused; ``errors`` (in Japanese) lists every problem."""


@dataclass(frozen=True)
class Topic:
    code: str
    names: dict[str, str]
    department: str
    reply_approval: bool

    def name(self, lang: str) -> str:
        return self.names.get(lang) or self.names["ja"]


def load_topics(path: str | Path) -> dict[str, Topic]:
    """The ward's topic list: code, ja (name), other languages, department, reply_approval (0/1)."""
    try:
        sheet = Sheet(Path(path).read_bytes())
    except CsvInvalid as exc:
        raise TopicFileError([e.in_japanese() for e in exc.errors]) from None
    top = sheet.header_line
    missing = [c for c in ("code", "ja", "department") if c not in sheet.header]
    if missing:
        raise TopicFileError([CsvError(top, c, "必須の列がありません") for c in missing])
    problems: list[CsvError] = []
    topics: dict[str, Topic] = {}
    for record in sheet.rows():
        line, row = record.line, sheet.as_dict(record)
        code = (row.get("code") or "").strip()
        if not code or not code.replace("_", "").replace("-", "").isalnum() or not code.isascii():
            problems.append(CsvError(line, "code", f"英数字のコードを書いてください（{code!r}）"))
            continue
        if code in topics:
            problems.append(CsvError(line, "code", f"{code} が2回あります"))
        name = (row.get("ja") or "").strip()
        if not name or len(name) > 20:
            problems.append(CsvError(line, "ja", "1〜20文字の名前を書いてください（ボタンに入る長さ）"))
        names = {c: (row.get(c) or "").strip()[:20] for c in LANG_COLUMNS if (row.get(c) or "").strip()}
        flag = (row.get("reply_approval") or "0").strip()
        if flag not in ("0", "1", ""):
            problems.append(CsvError(line, "reply_approval", f"0 か 1 です（{flag!r}）"))
        topics[code] = Topic(code, names, (row.get("department") or "").strip(), flag == "1")
    problems.extend(e.in_japanese() for e in sheet.errors)
    if problems:
        raise TopicFileError(sorted(problems, key=lambda e: e.line))
    if not topics:
        raise TopicFileError([CsvError(top + 1, "code", "分野が1つもありません")])
    return topics


def receipt(opinion_id: int) -> str:
    return f"O-{opinion_id:06d}"


def has_words(text: str) -> bool:
    """At least one letter or digit (an emoji-only message is not an opinion yet)."""
    return any(unicodedata.category(ch)[0] in ("L", "N") for ch in text)


# --- the dialogue -------------------------------------------------------------------------------------


@dataclass
class Step:
    """What to say next: a catalog key with fields, and the draft (None once finished or cancelled)."""

    key: str
    draft: dict[str, Any] | None = None
    fields: dict[str, Any] = field(default_factory=dict)


def start(db: Database, user_id: str) -> Step:
    draft = store.get_draft(db, user_id, DRAFT_MAX_AGE)
    if draft and draft.get("text"):
        return Step("opinion_resume", draft)
    draft = {"step": "topic"}
    store.save_draft(db, user_id, draft)
    return Step("opinion_ask_topic", draft)


def restart(db: Database, user_id: str) -> Step:
    old = store.delete_draft(db, user_id)
    if old and old.get("photo"):
        store.trash_media(db, [old["photo"].get("full"), old["photo"].get("thumb")])
    return start(db, user_id)


def resume(db: Database, user_id: str) -> Step:
    draft = store.get_draft(db, user_id, DRAFT_MAX_AGE)
    if draft is None:
        return start(db, user_id)
    return Step(_ask_for(draft["step"]), draft)


def _ask_for(step: str) -> str:
    return {
        "topic": "opinion_ask_topic",
        "text": "opinion_ask_text",
        "photo": "opinion_ask_photo",
        "reply": "opinion_ask_reply",
        "confirm": "opinion_confirm",
    }.get(step, "opinion_ask_topic")


def choose_topic(db: Database, user_id: str, topics: Mapping[str, Topic], code: str) -> Step:
    draft = store.get_draft(db, user_id, DRAFT_MAX_AGE)
    if draft is None:
        return Step("opinion_expired")
    if code not in topics:
        return Step("opinion_ask_topic", draft)
    draft["topic"] = code
    draft["step"] = "text" if not draft.get("text") else "confirm"
    store.save_draft(db, user_id, draft)
    return Step(_ask_for(draft["step"]), draft)


def text(db: Database, user_id: str, topics: Mapping[str, Topic], body: str) -> Step | None:
    """Free text while a dialogue is open; None when this resident has no dialogue at that step."""
    draft = store.get_draft(db, user_id, DRAFT_MAX_AGE)
    if draft is None:
        return None
    step = draft.get("step")
    if step == "topic":
        for topic in topics.values():
            if body.strip() in topic.names.values():
                return choose_topic(db, user_id, topics, topic.code)
        return None
    if step == "text":
        body = body.strip()
        if not has_words(body):
            return Step("opinion_need_words", draft)
        draft["text"] = body[:TEXT_MAX]
        draft["step"] = "photo"
        store.save_draft(db, user_id, draft)
        return Step("opinion_ask_photo", draft)
    return None


def photo(db: Database, user_id: str, full: str, thumb: str) -> Step | None:
    draft = store.get_draft(db, user_id, DRAFT_MAX_AGE)
    if draft is None or draft.get("step") != "photo":
        return None
    if draft.get("photo"):
        store.trash_media(db, [draft["photo"].get("full"), draft["photo"].get("thumb")])
    draft["photo"] = {"full": full, "thumb": thumb}
    draft["step"] = "reply"
    store.save_draft(db, user_id, draft)
    return Step("opinion_ask_reply", draft)


def expecting_photo(db: Database, user_id: str) -> bool:
    draft = store.get_draft(db, user_id, DRAFT_MAX_AGE)
    return bool(draft and draft.get("step") == "photo")


def skip_photo(db: Database, user_id: str) -> Step:
    draft = store.get_draft(db, user_id, DRAFT_MAX_AGE)
    if draft is None:
        return Step("opinion_expired")
    draft["step"] = "reply"
    store.save_draft(db, user_id, draft)
    return Step("opinion_ask_reply", draft)


def wants_reply(db: Database, user_id: str, wanted: bool) -> Step:
    draft = store.get_draft(db, user_id, DRAFT_MAX_AGE)
    if draft is None or not draft.get("text"):
        return Step("opinion_expired")
    draft["wants_reply"] = wanted
    draft["step"] = "confirm"
    store.save_draft(db, user_id, draft)
    return Step("opinion_confirm", draft)


def edit(db: Database, user_id: str) -> Step:
    draft = store.get_draft(db, user_id, DRAFT_MAX_AGE)
    if draft is None:
        return Step("opinion_expired")
    draft["step"] = "text"
    draft.pop("text", None)
    store.save_draft(db, user_id, draft)
    return Step("opinion_ask_text", draft)


def cancel(db: Database, user_id: str) -> Step | None:
    old = store.delete_draft(db, user_id)
    if old is None:
        return None
    if old.get("photo"):
        store.trash_media(db, [old["photo"].get("full"), old["photo"].get("thumb")])
    return Step("opinion_cancelled")


def submit(
    db: Database,
    user_id: str,
    author: str,
    topics: Mapping[str, Topic],
    resident: Resident | None,
    lang: str,
) -> Step:
    """Turn the confirmed draft into an opinion; the draft goes in the same transaction."""
    draft = store.get_draft(db, user_id, DRAFT_MAX_AGE)
    if draft is None or draft.get("step") != "confirm" or not draft.get("text") or draft.get("topic") not in topics:
        return Step("opinion_expired")
    if store.count_today(db, user_id, time.time() - 86400) >= PER_DAY:
        return Step("opinion_limit", draft, {"n": PER_DAY})
    topic = topics[draft["topic"]]
    photo = draft.get("photo") or {}
    with transaction(db):
        opinion_id = store.insert_opinion(
            db,
            {
                "user_id": user_id,
                "author": author,
                "area": (resident.area if resident else None),
                "lang": lang,
                "topic": topic.code,
                "department": topic.department,
                "body": draft["text"],
                "photo_full": photo.get("full"),
                "photo_thumb": photo.get("thumb"),
                "wants_reply": bool(draft.get("wants_reply")),
            },
        )
        store.delete_draft(db, user_id)
    key = "opinion_received_reply" if draft.get("wants_reply") else "opinion_received"
    return Step(key, None, {"number": receipt(opinion_id)})


def expire_drafts(db: Database) -> int:
    """Drafts older than a day: photos to the trash, draft deleted (nothing is sent)."""
    n = 0
    for draft in store.stale_drafts(db, time.time() - DRAFT_MAX_AGE):
        photo = draft.get("photo") or {}
        store.trash_media(db, [photo.get("full"), photo.get("thumb")])
        store.delete_draft(db, draft["user_id"])
        n += 1
    return n


# --- staff -------------------------------------------------------------------------------------------


class OpinionView(store.Opinion):
    """An opinion with what staff read beside it (a new dict: the stored record gains no keys)."""

    number: str  # the receipt number the resident was given
    status_label: str


def get(db: Database, opinion_id: int) -> OpinionView:
    row = store.get_opinion(db, opinion_id)
    if row is None:
        raise OpinionError(f"ご意見 {opinion_id} は見つかりません。")
    return OpinionView(**row, number=receipt(opinion_id), status_label=OPINION_STATUS.label(row["status"]))


def set_status(db: Database, opinion_id: int, status: str, by: str, source: str = "console") -> None:
    if status not in OPINION_STATUS:
        raise OpinionError("状態の指定が正しくありません。")
    get(db, opinion_id)
    with transaction(db):
        fields: dict[str, Any] = {"status": status}
        if status == OpinionStatus.ANSWERED:
            fields["answered_at"] = time.time()
        store.update_opinion(db, opinion_id, **fields)
        audit.record(
            db, by, "opinion.status", f"opinion:{opinion_id}", {"status": OPINION_STATUS.label(status)}, source
        )


def assign(db: Database, opinion_id: int, department: str, by: str, source: str = "console") -> None:
    department = department.strip()[:50]
    get(db, opinion_id)
    with transaction(db):
        store.update_opinion(db, opinion_id, department=department)
        audit.record(db, by, "opinion.assign", f"opinion:{opinion_id}", {"department": department}, source)


def add_note(db: Database, opinion_id: int, body: str, by: str) -> None:
    body = body.strip()
    if not body:
        raise OpinionError("メモが空です。")
    get(db, opinion_id)
    store.add_note(db, opinion_id, by, body[:2000])


def needs_approval(opinion: Mapping[str, Any], topics: Mapping[str, Topic]) -> bool:
    topic = topics.get(opinion["topic"])
    return bool(topic and topic.reply_approval)


def write_reply(
    db: Database,
    opinion_id: int,
    body: str,
    by: str,
    topics: Mapping[str, Topic],
    render: Any,
    source: str = "console",
) -> tuple[int, bool]:
    """A reply: queued at once, or a draft for a second person when the topic asks for approval.

    Returns (reply id, sent now). `render(opinion, body)` makes the LINE messages in the
    resident's language (bot.handlers.opinions).
    """
    opinion = get(db, opinion_id)
    body = body.strip()
    if not body:
        raise OpinionError("返信の文面が空です。")
    if len(body) > REPLY_MAX:
        raise OpinionError(f"返信は {REPLY_MAX} 文字までです。")
    if not opinion["reachable"]:
        raise OpinionError("この方はもう友だちではないため、返信できません。")
    reply_id = store.add_reply(db, opinion_id, body, by)
    audit.record(db, by, "opinion.reply_draft", f"opinion:{opinion_id}", {"reply": reply_id}, source)
    if needs_approval(opinion, topics):
        return reply_id, False
    _send_reply(db, reply_id, by, render, source, approved_by=None)
    return reply_id, True


def approve_reply(db: Database, reply_id: int, by: str, render: Any, source: str = "console") -> None:
    reply = store.get_reply(db, reply_id)
    if reply is None or reply["state"] != ReplyState.DRAFT:
        raise OpinionError("承認待ちの返信が見つかりません。")
    if reply["created_by"].casefold() == by.casefold():
        raise OpinionError("返信を書いた本人は承認できません。別の職員が承認してください。")
    _send_reply(db, reply_id, by, render, source, approved_by=by)


def _send_reply(db: Database, reply_id: int, by: str, render: Any, source: str, approved_by: str | None) -> None:
    reply = store.get_reply(db, reply_id)
    opinion = get(db, reply["opinion_id"])
    user_id = store.opinion_user(db, reply["opinion_id"])
    if user_id is None:
        raise OpinionError("この方はもう友だちではないため、返信できません。")
    with transaction(db):
        if not store.set_reply_state(
            db, reply_id, (ReplyState.DRAFT,), state=ReplyState.SENT, approved_by=approved_by, approved_at=time.time()
        ):
            raise OpinionError("この返信はすでに送られています。")
        outbox_store.enqueue_push(db, KIND, reply_id, user_id, render(opinion, reply["body"]), opinion["lang"])
        store.update_opinion(db, opinion["id"], status=OpinionStatus.ANSWERED, answered_at=time.time())
        audit.record(db, by, "opinion.reply", f"opinion:{opinion['id']}", {"reply": reply_id}, source)


def reply_delivery(db: Database, reply_id: int) -> str:
    counts = outbox_store.counts(db, KIND, reply_id)
    if counts[DeliveryState.SENT]:
        return DELIVERY_STATE.label(DeliveryState.SENT)
    if counts[DeliveryState.PENDING]:
        return DELIVERY_STATE.label(DeliveryState.PENDING)
    if counts[DeliveryState.FAILED] or counts[DeliveryState.STOPPED]:
        return "送信できませんでした"
    return "—"


def monthly_report(db: Database, start: float, end: float, topics: Mapping[str, Topic]) -> dict[str, Any]:
    by_topic: Counter[str] = Counter()
    by_area: Counter[str] = Counter()
    by_status: Counter[str] = Counter()
    table: dict[str, Counter[str]] = defaultdict(Counter)
    for topic, area, status, n in store.monthly_counts(db, start, end):
        name = topics[topic].names["ja"] if topic in topics else topic
        by_topic[name] += n
        by_area[area or "-"] += n
        by_status[OPINION_STATUS.label(status)] += n
        table[name][area or "-"] += n
    return {
        "total": sum(by_topic.values()),
        "by_topic": by_topic.most_common(),
        "by_area": by_area.most_common(),
        "by_status": by_status.most_common(),
        "table": {k: dict(v) for k, v in table.items()},
    }
