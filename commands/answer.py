"""`flask --app webhook answer-worker`: answer the events the webhook acknowledged."""

from __future__ import annotations

import os
import signal

import click
from flask import current_app

from bot.answer_worker import AnswerWorker


@click.command("answer-worker")
@click.option("--threads", type=int, help="Events answered at once (default ANSWER_THREADS).")
@click.option(
    "--lease-seconds", type=float, help="Take over a silent worker's events after this (ANSWER_LEASE_SECONDS)."
)
@click.option("--until-idle", is_flag=True, help="Exit once the inbox is empty (catch up, then stop).")
@click.option("--nice", "niceness", type=int, help="Lower the CPU priority by this much (default ANSWER_NICE).")
def answer_worker_cmd(threads: int | None, lease_seconds: float | None, until_idle: bool, niceness: int | None) -> None:
    """Answer residents' messages from the inbox (the Procfile's answer: line; run as many as needed).

    Each worker claims events under its own id and heartbeat; events of a worker that
    stopped beating are taken over, those of a live one never. SIGTERM finishes the
    events in progress, then stops.

    Example: flask --app webhook answer-worker --threads 8
    """
    if lease_seconds is not None:
        current_app.config["ANSWER_LEASE_SECONDS"] = lease_seconds
    niceness = current_app.config["ANSWER_NICE"] if niceness is None else niceness
    if niceness:
        # On a host shared with web processes, acknowledging LINE comes first: an answer may
        # wait a few milliseconds, a webhook that is not acknowledged in time is redelivered.
        os.nice(niceness)
    worker = AnswerWorker(current_app._get_current_object(), threads=threads)
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: worker.stop())
    worker.run(until_idle=until_idle)


COMMANDS = [answer_worker_cmd]
