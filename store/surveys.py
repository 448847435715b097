"""SQL for surveys (アンケート): the survey, who it was sent to, and the answers.

Answers are stored under a pseudonym (a keyed hash of the LINE id, made by the caller), with
the area and language the resident had when answering — enough for results by area and
language, nothing that names them. `survey_recipients` (who may answer) and `survey_pending`
(a free-text or multiple-choice answer in progress) hold LINE ids and go on unfollow.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Sequence
from typing import Any, TypedDict

from sqlite_utils import Database, Migrations

from store import transaction
from store.records import record
from store.vocab import SurveyState

migrations = Migrations("madoguchi.surveys")


@migrations(name="0001_surveys")
def _m0001(db: Database) -> None:
    db.execute(
        """CREATE TABLE surveys (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            title TEXT NOT NULL,
            questions_json TEXT NOT NULL,
            areas_json TEXT NOT NULL DEFAULT '[]',
            langs_json TEXT NOT NULL DEFAULT '[]',
            topics_json TEXT NOT NULL DEFAULT '[]',
            state TEXT NOT NULL DEFAULT 'draft',
            created_by TEXT NOT NULL,
            created_at REAL NOT NULL,
            approved_by TEXT,
            approved_at REAL,
            sent_by TEXT,
            sent_at REAL,
            closes_at REAL,
            closed_by TEXT,
            closed_at REAL
        )"""
    )
    db.execute(
        """CREATE TABLE survey_recipients (
            survey_id INTEGER NOT NULL REFERENCES surveys(id),
            user_id TEXT NOT NULL,
            PRIMARY KEY (survey_id, user_id)
        )"""
    )
    db.execute("CREATE INDEX survey_recipients_user ON survey_recipients(user_id)")
    db.execute(
        """CREATE TABLE survey_answers (
            survey_id INTEGER NOT NULL REFERENCES surveys(id),
            respondent TEXT NOT NULL,
            question INTEGER NOT NULL,
            answer_json TEXT NOT NULL,
            area TEXT,
            lang TEXT,
            answered_at REAL NOT NULL,
            PRIMARY KEY (survey_id, respondent, question)
        )"""
    )
    db.execute(
        """CREATE TABLE survey_pending (
            user_id TEXT PRIMARY KEY,
            survey_id INTEGER NOT NULL REFERENCES surveys(id),
            question INTEGER NOT NULL,
            selected_json TEXT NOT NULL DEFAULT '[]',
            updated_at REAL NOT NULL
        )"""
    )


class Survey(TypedDict):
    """A survey as stored (a TypedDict: console templates and the CLI read it by key)."""

    id: int
    title: str
    questions: list[Any]  # the questions' JSON; surveys.service.get gives Question objects
    areas: list[str]
    langs: list[str]
    topics: list[str]
    state: SurveyState
    created_by: str
    created_at: float
    approved_by: str | None
    approved_at: float | None
    sent_by: str | None
    sent_at: float | None
    closes_at: float | None
    closed_by: str | None
    closed_at: float | None


def _row(row: dict[str, Any]) -> Survey:
    return record(Survey, row)


def insert_survey(db: Database, row: dict[str, Any]) -> int:
    cur = db.execute(
        "INSERT INTO surveys (title, questions_json, areas_json, langs_json, topics_json, created_by, created_at,"
        " closes_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
        [
            row["title"],
            json.dumps(row["questions"], ensure_ascii=False),
            json.dumps(row.get("areas", []), ensure_ascii=False),
            json.dumps(row.get("langs", []), ensure_ascii=False),
            json.dumps(row.get("topics", []), ensure_ascii=False),
            row["created_by"],
            time.time(),
            row.get("closes_at"),
        ],
    )
    return int(cur.fetchone()[0])


def get_survey(db: Database, survey_id: int) -> Survey | None:
    rows = list(db.query("SELECT * FROM surveys WHERE id = ?", [survey_id]))
    return _row(rows[0]) if rows else None


def list_surveys(db: Database, limit: int = 100) -> list[Survey]:
    return [_row(r) for r in db.query("SELECT * FROM surveys ORDER BY id DESC LIMIT ?", [limit])]


def update_survey(db: Database, survey_id: int, expect_state: Sequence[str], **fields: Any) -> bool:
    """Change fields only if the survey is still in one of `expect_state` (no double approval/send)."""
    sets = ", ".join(f"{k} = ?" for k in fields)
    marks = ", ".join("?" for _ in expect_state)
    cur = db.execute(
        f"UPDATE surveys SET {sets} WHERE id = ? AND state IN ({marks})",
        [*fields.values(), survey_id, *expect_state],
    )
    return cur.rowcount == 1


def add_recipients(db: Database, survey_id: int, user_ids: Iterable[str]) -> int:
    n = 0
    for uid in user_ids:
        n += db.execute(
            "INSERT INTO survey_recipients (survey_id, user_id) VALUES (?, ?) ON CONFLICT DO NOTHING", [survey_id, uid]
        ).rowcount
    return n


def is_recipient(db: Database, survey_id: int, user_id: str) -> bool:
    return (
        db.execute(
            "SELECT 1 FROM survey_recipients WHERE survey_id = ? AND user_id = ?", [survey_id, user_id]
        ).fetchone()
        is not None
    )


def count_recipients(db: Database, survey_id: int) -> int:
    return int(db.execute("SELECT COUNT(*) FROM survey_recipients WHERE survey_id = ?", [survey_id]).fetchone()[0])


def record_answer(
    db: Database, survey_id: int, respondent: str, question: int, answer: Any, area: str | None, lang: str | None
) -> bool:
    """Store or replace one answer; True when it replaced an earlier one (a later tap wins)."""
    with transaction(db):
        existed = (
            db.execute(
                "SELECT 1 FROM survey_answers WHERE survey_id = ? AND respondent = ? AND question = ?",
                [survey_id, respondent, question],
            ).fetchone()
            is not None
        )
        db.execute(
            "INSERT INTO survey_answers (survey_id, respondent, question, answer_json, area, lang, answered_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (survey_id, respondent, question) DO UPDATE SET"
            " answer_json = excluded.answer_json, area = excluded.area, lang = excluded.lang,"
            " answered_at = excluded.answered_at",
            [survey_id, respondent, question, json.dumps(answer, ensure_ascii=False), area, lang, time.time()],
        )
    return existed


def answers(db: Database, survey_id: int) -> list[dict[str, Any]]:
    rows = db.query(
        "SELECT respondent, question, answer_json, area, lang, answered_at FROM survey_answers WHERE survey_id = ?"
        " ORDER BY respondent, question",
        [survey_id],
    )
    return [
        {**{k: v for k, v in r.items() if k != "answer_json"}, "answer": json.loads(r["answer_json"])} for r in rows
    ]


def count_respondents(db: Database, survey_id: int) -> int:
    row = db.execute(
        "SELECT COUNT(DISTINCT respondent) FROM survey_answers WHERE survey_id = ?", [survey_id]
    ).fetchone()
    return int(row[0])


def answered_questions(db: Database, survey_id: int, respondent: str) -> set[int]:
    return {
        r[0]
        for r in db.execute(
            "SELECT question FROM survey_answers WHERE survey_id = ? AND respondent = ?", [survey_id, respondent]
        )
    }


def set_pending(db: Database, user_id: str, survey_id: int, question: int, selected: Sequence[int] = ()) -> None:
    db.execute(
        "INSERT INTO survey_pending (user_id, survey_id, question, selected_json, updated_at) VALUES (?, ?, ?, ?, ?)"
        " ON CONFLICT (user_id) DO UPDATE SET survey_id = excluded.survey_id, question = excluded.question,"
        " selected_json = excluded.selected_json, updated_at = excluded.updated_at",
        [user_id, survey_id, question, json.dumps(sorted(set(selected))), time.time()],
    )


def get_pending(db: Database, user_id: str, max_age: float) -> dict[str, Any] | None:
    row = db.execute(
        "SELECT survey_id, question, selected_json, updated_at FROM survey_pending WHERE user_id = ?", [user_id]
    ).fetchone()
    if row is None or row[3] < time.time() - max_age:
        return None
    return {"survey_id": row[0], "question": row[1], "selected": json.loads(row[2])}


def clear_pending(db: Database, user_id: str) -> None:
    db.execute("DELETE FROM survey_pending WHERE user_id = ?", [user_id])


def due_to_close(db: Database, now: float | None = None) -> list[int]:
    now = time.time() if now is None else now
    return [
        r[0]
        for r in db.execute(
            "SELECT id FROM surveys WHERE state IN ('approved', 'sending') AND closes_at IS NOT NULL AND closes_at <= ?",
            [now],
        )
    ]


def forget_user(db: Database, user_id: str) -> None:
    """Unfollow: who was asked and what they were typing go; pseudonymous answers stay."""
    db.execute("DELETE FROM survey_recipients WHERE user_id = ?", [user_id])
    db.execute("DELETE FROM survey_pending WHERE user_id = ?", [user_id])
