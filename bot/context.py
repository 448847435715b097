"""What an event handler gets: configuration, storage, the LINE client, the FAQ, the user."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlite_utils import Database

from bot.faq_runtime import FaqRuntime
from common.areas import Areas
from common.i18n import t
from common.line_api import LineApi
from common.pseudonym import hash_user
from store import Store


@dataclass
class Ctx:
    config: Mapping[str, Any]
    store: Store
    line: LineApi
    faq: FaqRuntime
    areas: Areas
    user_id: str | None = None
    lang: str = "ja"
    # Filled by handlers that learn more about the resident.
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def db(self) -> Database:
        return self.store.db

    @property
    def user_hash(self) -> str:
        """A pseudonymous id for logs (never log the LINE user id itself)."""
        return hash_user(self.user_id, str(self.config.get("SECRET_KEY", "")))

    def contact(self) -> str:
        return t(
            "contact_line",
            self.lang,
            phone=self.config["CONTACT_PHONE"],
            hours=self.config["CONTACT_HOURS"],
            url=self.config["CONTACT_URL"],
        )
