"""The FAQ entry."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

# Translation languages a FAQ entry may carry ("easy" = やさしい日本語).
LANGS: tuple[str, ...] = ("en", "zh", "ko", "vi", "pt", "easy")


@dataclass(frozen=True)
class FaqEntry:
    """One question and its answer, with other phrasings and translations."""

    id: str
    question: str
    answer: str
    category: str = ""
    alternates: tuple[str, ...] = ()
    url: str = ""
    contact: str = ""
    translations: Mapping[str, Mapping[str, str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.id, str) or not self.id.strip():
            raise ValueError("FaqEntry.id must be a non-empty string")
        if not isinstance(self.question, str) or not self.question.strip():
            raise ValueError(f"FaqEntry {self.id}: question must be a non-empty string")
        if not isinstance(self.answer, str):
            raise ValueError(f"FaqEntry {self.id}: answer must be a string")
        if not isinstance(self.alternates, tuple):
            object.__setattr__(self, "alternates", tuple(self.alternates))
        frozen = {lang: MappingProxyType(dict(fields)) for lang, fields in dict(self.translations).items()}
        object.__setattr__(self, "translations", MappingProxyType(frozen))

    def __hash__(self) -> int:
        return hash(self.id)

    def localized(self, lang: str | None) -> tuple[str, str]:
        """Question and answer in ``lang``, falling back to Japanese for missing parts."""
        tr = self.translations.get(lang or "", {})
        return tr.get("question") or self.question, tr.get("answer") or self.answer

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "id": self.id,
            "question": self.question,
            "answer": self.answer,
            "category": self.category,
            "alternates": list(self.alternates),
            "url": self.url,
            "contact": self.contact,
            "translations": {lang: dict(f) for lang, f in self.translations.items()},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FaqEntry:
        """Inverse of :meth:`to_dict`."""
        return cls(
            id=str(data["id"]),
            question=data["question"],
            answer=data["answer"],
            category=data.get("category", "") or "",
            alternates=tuple(data.get("alternates", ()) or ()),
            url=data.get("url", "") or "",
            contact=data.get("contact", "") or "",
            translations=data.get("translations", {}) or {},
        )
