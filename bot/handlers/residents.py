"""Follow / unfollow and resident settings (issue C fills in registration)."""

from __future__ import annotations

from typing import Any, Sequence

from linebot.v3.messaging import Message, TextMessage

from bot.i18n import t
from bot.context import Ctx
from bot.events import on


@on("follow")
def follow(ctx: Ctx, event: Any) -> Sequence[Message]:
    return [TextMessage(text=t("greeting", ctx.lang))]
