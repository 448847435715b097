"""Answer workers: take acknowledged webhook events from the inbox and answer them.

The web process only verifies, dedups and records events (`bot/routes.py`). An answer
worker (`flask --app webhook answer-worker`, the Procfile's `answer:` line, as many as
needed on any host) registers an owner id with a heartbeat and loops:

- put back the events of owners whose heartbeat stopped `ANSWER_LEASE_SECONDS` ago
  (a process killed mid-work) — never those of a live owner, however slow;
- claim as many queued events as it has free threads (one atomic UPDATE … RETURNING;
  a resident with an event in progress anywhere waits, so their events stay in order);
- answer each: reply while the reply token is fresh, else push with a retry key derived
  from the event id and a 「お待たせしました」 note; past `ANSWER_MAX_AGE_SECONDS` a
  question gets a short apology push instead (counted and logged, never silence);
- close it only while still its owner.

The same loop is the crash recovery, so it runs from the first second at full speed,
traffic or not. Idle, a worker polls every `ANSWER_POLL_SECONDS` (a cheap read).
"""

from __future__ import annotations

import collections
import hashlib
import hmac
import json
import logging
import os
import random
import socket
import threading
import time
import uuid
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from flask import Flask
from linebot.v3.messaging import TextMessage
from linebot.v3.webhook import UnknownEvent
from linebot.v3.webhooks import Event

from bot import events
from bot.context import Ctx
from bot.language import ProfileLanguageCache, language_for_event, resident_languages
from bot.runtime import Runtime, runtime
from common.i18n import t
from nlp.language import clip_utf16
from store import core as core_store
from store.core import InboxEvent
from store.vocab import InboxState

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 5  # an event whose handling killed its process this often is given up
# Kinds that are a resident's request: past the maximum age they get an apology instead.
EXPIRING_KINDS = ("message", "postback")


def user_key(user_id: str | None, secret: str) -> str | None:
    """A keyed hash of a LINE user id: orders one resident's events, marks an unfollow."""
    if not user_id:
        return None
    return hmac.new(secret.encode(), user_id.encode(), hashlib.sha256).hexdigest()[:32]


def parse_event(raw: dict[str, Any]) -> Any:
    """One raw event → the SDK model (UnknownEvent when the SDK cannot parse it)."""
    try:
        return Event.from_dict(raw)
    except Exception:  # noqa: BLE001 - whatever the SDK raises, the event is "unknown"
        return UnknownEvent.new_from_json_dict(raw)


def _raw_user_id(raw: dict[str, Any]) -> str | None:
    source = raw.get("source")
    uid = source.get("userId") if isinstance(source, dict) else None
    return uid if isinstance(uid, str) and uid else None


def _group_by_user(claimed: Iterable[InboxEvent]) -> list[list[InboxEvent]]:
    groups: dict[str, list[InboxEvent]] = collections.OrderedDict()
    for ev in claimed:
        groups.setdefault(ev.user_key or ev.event_id, []).append(ev)
    return list(groups.values())


class AnswerWorker:
    """One answering process: an owner id, a heartbeat thread and a pool of answer threads."""

    def __init__(self, app: Flask, threads: int | None = None, owner: str | None = None):
        cfg = app.config
        self.app = app
        self.threads = max(1, int(threads or cfg["ANSWER_THREADS"]))
        self.lease = float(cfg["ANSWER_LEASE_SECONDS"])
        self.poll = float(cfg["ANSWER_POLL_SECONDS"])
        self.max_age = float(cfg["ANSWER_MAX_AGE_SECONDS"])
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.counts: collections.Counter[str] = collections.Counter()
        self._inflight = 0
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._languages = ProfileLanguageCache()

    @property
    def rt(self) -> Runtime:
        return runtime(self.app)

    def status(self) -> dict[str, Any]:
        faq = self.rt.faq
        return {
            "owner": self.owner,
            "threads": self.threads,
            "in_progress": self._inflight,
            "semantic": faq.semantic_state(),
            "faq_version": faq.serving_version(),
            "counts": dict(self.counts),
        }

    def stop(self) -> None:
        self._stop.set()
        with self._cond:
            self._cond.notify_all()

    # --- the loop -------------------------------------------------------------------------

    def run(self, until_idle: bool = False) -> None:
        """Answer until stop() (or, with until_idle, until the inbox is empty and nothing is in flight)."""
        db = self.rt.store.db
        core_store.register_worker(db, self.owner, self.status())
        beat = threading.Thread(target=self._heartbeat_loop, name="answer-heartbeat", daemon=True)
        beat.start()
        with self.app.app_context():
            # Build the FAQ index before taking work: the first answers must not pay for it.
            self.rt.faq.current()
        log.info("answer worker %s started with %d threads", self.owner, self.threads)
        pool = ThreadPoolExecutor(self.threads, thread_name_prefix="answer")
        self._next_release = 0.0
        self._next_prune = time.monotonic() + 60 * random.random()
        try:
            while not self._stop.is_set():
                try:
                    if not self._turn(db, pool, until_idle):
                        break
                except Exception:  # e.g. the database restarting: wait, then go on
                    log.exception("answer loop failed; retrying in a second")
                    self._stop.wait(1.0)
        finally:
            pool.shutdown(wait=True)
            self._stop.set()
            beat.join(timeout=5)
            put_back = core_store.deregister_worker(db, self.owner)
            log.info("answer worker %s stopped (%d put back) %s", self.owner, put_back, dict(self.counts))

    def _turn(self, db: Any, pool: ThreadPoolExecutor, until_idle: bool) -> bool:
        """One pass of the loop; False when an until_idle run is done."""
        now = time.monotonic()
        if now >= self._next_release:
            self._release_dead(db)
            self._next_release = now + max(0.2, self.lease / 4)
        if now >= self._next_prune:
            self._prune(db)
            self._next_prune = now + 600
        free = self.threads - self._inflight
        if free <= 0:
            with self._cond:
                self._cond.wait(self.poll)
            return True
        claimed = core_store.claim_events(db, self.owner, free) if core_store.inbox_has_work(db) else []
        if not claimed:
            if until_idle and self._inflight == 0 and not core_store.inbox_has_work(db):
                return False
            self._stop.wait(self.poll)
            return True
        busy = len(claimed) >= free and free < self.threads
        for group in _group_by_user(claimed):
            with self._cond:
                self._inflight += len(group)
            pool.submit(self._run_group, group, busy)
        return True

    def _heartbeat_loop(self) -> None:
        interval = max(0.1, self.lease / 5)
        while not self._stop.wait(interval):
            try:
                db = self.rt.store.db
                if not core_store.heartbeat(db, self.owner, self.status()):
                    # Presumed dead (paused longer than the lease): what it held was put back,
                    # and finish/send checks ownership, so rejoin as a fresh owner.
                    log.warning("answer worker %s was presumed dead; registering again", self.owner)
                    core_store.register_worker(db, self.owner, self.status())
            except Exception:  # the next beat tries again
                log.exception("heartbeat failed")

    def _release_dead(self, db: Any) -> None:
        try:
            n = core_store.release_dead_owners(db, self.lease)
        except Exception:  # retried on the next turn
            log.exception("releasing events of dead workers failed")
            return
        if n:
            self.counts["taken_over"] += n
            log.warning("%d events of a stopped answer worker queued again", n)

    def _prune(self, db: Any) -> None:
        cfg = self.app.config
        try:
            core_store.prune_events(db, cfg["EVENT_ID_RETENTION_DAYS"] * 86400)
            core_store.prune_query_log(db, cfg["QUERY_LOG_RETENTION_DAYS"] * 86400)
        except Exception:  # retention runs again later
            log.exception("pruning failed")

    def _run_group(self, group: list[InboxEvent], busy: bool) -> None:
        try:
            with self.app.app_context():
                for i, ev in enumerate(group):
                    try:
                        self.answer(ev, busy=busy)
                    except Exception:  # e.g. the database went away mid-answer
                        log.exception("answering an event failed; it goes back to the queue")
                        # This one and the resident's later ones are answered again (in order);
                        # what was already sent is recorded (send_via) and not sent twice.
                        self._put_back(group[i:])
                        return
        finally:
            with self._cond:
                self._inflight -= len(group)
                self._cond.notify_all()

    def _put_back(self, events_left: list[InboxEvent]) -> None:
        for ev in events_left:
            for _ in range(120):  # a database restart takes seconds
                try:
                    core_store.release_event(self.rt.store.db, ev.event_id, self.owner)
                    break
                except Exception:  # noqa: BLE001
                    if self._stop.wait(0.5):
                        return  # stopping: deregistering puts it back
        self.counts["retried"] += len(events_left)

    # --- one event ------------------------------------------------------------------------

    def answer(self, ev: InboxEvent, busy: bool = False) -> str:
        """Answer one claimed event and close it; returns the state it was closed with."""
        rt = self.rt
        db = rt.store.db
        cfg = self.app.config
        age = time.time() - ev.received_at
        try:
            raw = json.loads(ev.payload or "null")
        except ValueError:
            raw = None
        if not isinstance(raw, dict):
            return self._close(ev, InboxState.FAILED, "event payload is not an object")
        message = raw.get("message")
        if isinstance(message, dict) and isinstance(message.get("text"), str):
            message["text"] = clip_utf16(message["text"])
        event = parse_event(raw)
        kind = events.event_kind(event)
        uid = _raw_user_id(raw)
        ctx = Ctx(config=cfg, store=rt.store, line=rt.line, faq=rt.faq, areas=rt.areas, user_id=uid)
        ctx.extra.update(
            event_id=ev.event_id,
            age=age,
            busy=busy,
            send_via=ev.send_via,
            recovered=ev.attempts > 1,
            mark_sending=lambda via: core_store.mark_sending(db, ev.event_id, self.owner, via),
        )
        key = ev.user_key or user_key(uid, str(cfg["SECRET_KEY"]))
        reply_token = raw.get("replyToken") if isinstance(raw.get("replyToken"), str) else None
        mode = raw.get("mode", "active")

        if key and kind != "follow" and core_store.is_departed(db, key):
            # A late or redelivered event of someone who unfollowed: it must not bring them back.
            return self._close(ev, InboxState.DONE, "event after an unfollow ignored", count="after_unfollow")
        if key and kind == "follow":
            core_store.clear_departed(db, key)
        if ev.attempts > MAX_ATTEMPTS:
            self._apologise(ctx, mode)
            return self._close(ev, InboxState.FAILED, f"event given up after {ev.attempts} attempts")
        if age > self.max_age and kind.split(":")[0] in EXPIRING_KINDS:
            ctx.lang = self._stored_language(ctx)
            self._apologise(ctx, mode)
            return self._close(ev, InboxState.EXPIRED, f"event expired unanswered after {age:.0f} s", count="expired")

        started = time.perf_counter()
        if isinstance(event, UnknownEvent):
            # The SDK could not read it (a new message type, a malformed field): say so where
            # a reply is possible, and close it, so it is never retried.
            ctx.lang = self._stored_language(ctx)
            messages = [TextMessage(text=t("unsupported", ctx.lang))] if raw.get("type") == "message" else None
        else:
            ctx.lang = self._language(ctx, event)
            messages = events.answer(ctx, event)
        how = events.deliver(ctx, reply_token, mode if isinstance(mode, str) else "active", messages)
        if kind == "unfollow" and key:
            core_store.mark_departed(db, key)
            # Other workers' caches need no message: the mark above stops every later event of
            # this resident before the cache is read, and their entries expire within the TTL.
            self._languages.forget(uid or "")
        self.counts[how] += 1
        if age > float(cfg["ANSWER_LATE_SECONDS"]):
            self.counts["late"] += 1
        log.info(
            "event %s user=%s answered (%s) in %.0f ms, %.1f s after the webhook",
            kind,
            ctx.user_hash,
            how,
            (time.perf_counter() - started) * 1000,
            age,
        )
        return self._close(ev, InboxState.DONE, None)

    def _close(self, ev: InboxEvent, state: str, why: str | None, count: str | None = None) -> str:
        if why:
            (log.warning if state != InboxState.DONE else log.info)("%s", why)
        if count:
            self.counts[count] += 1
        if not core_store.finish_event(self.rt.store.db, ev.event_id, self.owner, state=state):
            log.warning("event was taken over by another worker meanwhile; left to it")
            self.counts["lost"] += 1
        return state

    def _apologise(self, ctx: Ctx, mode: Any) -> None:
        if mode != "active" or not ctx.user_id:
            return
        # Old enough that the reply token is gone: this goes by push, keyed by the event.
        ctx.extra["age"] = float("inf")
        ctx.extra["late_note"] = False
        events.deliver(ctx, None, "active", [TextMessage(text=t("expired_apology", ctx.lang))])

    def _stored_language(self, ctx: Ctx) -> str:
        try:
            choice, profile = resident_languages(ctx, None)
        except Exception:  # noqa: BLE001 - Japanese, then
            return "ja"
        return choice or profile or "ja"

    def _language(self, ctx: Ctx, event: Any) -> str:
        if events.event_kind(event) == "unfollow" or not ctx.user_id:
            return ctx.lang
        try:
            return language_for_event(ctx, event, self._languages)
        except Exception:  # the resident still gets an answer, in Japanese
            log.exception("resolving the language failed (user %s)", ctx.user_hash)
            return ctx.lang

    # --- answering inside the request (tests and dev only) ------------------------------------

    def answer_now(self, event_ids: list[str]) -> None:
        """Claim and answer these just-recorded events in the calling thread."""
        db = self.rt.store.db
        core_store.register_worker(db, self.owner, {"owner": self.owner, "inline": True})
        for ev in core_store.claim_events_by_id(db, self.owner, event_ids):
            try:
                self.answer(ev)
            except Exception:
                log.exception("answering an event crashed")
                core_store.finish_event(db, ev.event_id, self.owner, state=InboxState.FAILED)
