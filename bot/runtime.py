"""The bot's per-process runtime: the shared services plus the FAQ, the webhook signature check
and the answer worker. The bot, the console and the commands reach it through `runtime()`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from flask import Flask
from linebot.v3.webhook import SignatureValidator

from bot.faq_runtime import FaqRuntime
from common.runtime import Services, services

if TYPE_CHECKING:  # the worker reaches the runtime through its app
    from bot.answer_worker import AnswerWorker


@dataclass
class Runtime(Services):
    faq: FaqRuntime
    signatures: SignatureValidator
    answers: AnswerWorker


def runtime(app: Flask | None = None) -> Runtime:
    """The runtime of `app` (default: the app of the current request or CLI command)."""
    found = services(app)
    if not isinstance(found, Runtime):
        raise RuntimeError("the app was built without the bot runtime")
    return found
