"""Staff-editable synonyms: every variant is rewritten to its term before matching.

CSV columns ``term,synonyms`` with synonyms separated by ``|``; applied to FAQ text at
index time and to the resident's message at query time, so both sides meet.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

from excelcsv import CsvInvalid, Sheet, decode_text
from nlp.normalize import normalize

DEFAULT_PATH = Path(__file__).resolve().parent.parent / "data" / "synonyms.csv"


class Synonyms:
    """A variant → term rewriter."""

    def __init__(self, groups: Iterable[tuple[str, Iterable[str]]] = ()) -> None:
        mapping: dict[str, str] = {}
        for term, variants in groups:
            canon = normalize(term)
            if not canon:
                raise ValueError(f"empty synonym term: {term!r}")
            for v in variants:
                nv = normalize(v)
                if nv and nv != canon:
                    mapping[nv] = canon
        # Terms map to themselves so that a longer term wins over a variant inside it
        # (国民年金 must not become 国民 + 国民年金 because 年金 is a variant).
        for canon in set(mapping.values()):
            mapping.setdefault(canon, canon)
        self.mapping = mapping
        if mapping:
            alts = sorted(mapping, key=len, reverse=True)
            self._re: re.Pattern[str] | None = re.compile("|".join(re.escape(a) for a in alts))
        else:
            self._re = None

    def __len__(self) -> int:
        return sum(1 for k, v in self.mapping.items() if k != v)

    def apply(self, normalized_text: str) -> str:
        """Rewrite variants in already-normalized text to their terms."""
        if self._re is None:
            return normalized_text
        return self._re.sub(lambda m: self.mapping[m.group(0)], normalized_text)

    @classmethod
    def parse(cls, text: str) -> Synonyms:
        """Parse CSV text with header ``term,synonyms``."""
        sheet = Sheet(text)
        if not {"term", "synonyms"} <= set(sheet.header):
            raise ValueError("synonyms CSV needs the columns term,synonyms")
        groups = []
        for row in map(sheet.as_dict, sheet.rows()):
            term = row["term"]
            if term and not term.startswith("#"):
                groups.append((term, [s.strip() for s in re.split(r"[|｜]", row["synonyms"]) if s.strip()]))
        if sheet.errors:
            raise CsvInvalid(sheet.errors)
        return cls(groups)

    @classmethod
    def load(cls, path: str | Path = DEFAULT_PATH) -> Synonyms:
        """Load a synonyms CSV (UTF-8 with or without BOM, or CP932 as Excel saves it)."""
        return cls.parse(decode_text(Path(path).read_bytes()))
