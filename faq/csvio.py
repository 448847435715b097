"""The FAQ CSV that staff edit in Excel: parse with every error reported, and dump.

Contract (DESIGN.md "FAQ CSV"): UTF-8 with or without BOM or CP932, RFC 4180, required
columns ``id``, ``question``, ``answer``; optional ``category``, ``alternates``, ``url``,
``contact`` and ``question_<lang>`` / ``answer_<lang>``.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
import unicodedata
from collections.abc import Iterable, Iterator
from pathlib import Path

from excelcsv import SAVE_AS_UTF8, CsvError, CsvInvalid, Sheet, decode_text, records
from faq.model import LANGS, FaqEntry
from nlp.language import utf16_len

REQUIRED = ("id", "question", "answer")
OPTIONAL = ("category", "alternates", "url", "contact")
TRANSLATION_COLUMNS = tuple(f"{kind}_{lang}" for lang in LANGS for kind in ("question", "answer"))
MAX_ANSWER_UTF16 = 5000  # LINE text message limit, in UTF-16 code units
# An FAQ bigger than this is a mistake (a data dump, a wrong file), not a ward's FAQ: ward FAQ
# sites list hundreds to ~2,000 questions, and every row costs index memory and ~0.1 s of
# embedding CPU per phrasing. Checked while reading, so a 200,000-row file is refused at once.
MAX_FAQ_ROWS = 3000
_TRANSLATION_RE = re.compile(r"^(question|answer)_(.+)$")
_ALTERNATE_SPLIT_RE = re.compile(r"[|｜\n]")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# The product's own formula escape (dump_faq_csv): one apostrophe before a formula start.
_ESCAPED_FORMULA_RE = re.compile(r"^'(?=[=+\-@\t\r])")
_URL_RE = re.compile(r"^https?://[^\s/?#]+\.[^\s/?#]+(?:[/?#]\S*)?$", re.IGNORECASE)
# Translations whose script CP932 cannot hold: an Excel "CSV (コンマ区切り)" save turns
# their letters into "?". A "?" inside a word, or two in a row, is that damage (a real
# question mark ends a sentence), and so is a "?" standing alone as a word (Portuguese "é").
_LOSSY_LANGS = ("zh", "ko", "vi", "pt")
_LOSSY_RE = re.compile(r"\?\?|(?<=\w)\?(?=\w)|(?:^|(?<=\s))\?(?=\s)")


# The FAQ's errors are the shared CSV errors; FaqCsvInvalid stays its own type because the CLI
# and the console catch an FAQ upload's rejection by that name.
FaqCsvError = CsvError


class FaqCsvInvalid(CsvInvalid):
    """The FAQ file was rejected; ``errors`` lists every problem found."""


def unescape_formula(value: str) -> str:
    """Undo dump_faq_csv's formula escape ("'=…" → "=…"); any other apostrophe is kept."""
    return _ESCAPED_FORMULA_RE.sub("", value, count=1)


def check_url(url: str) -> bool:
    """True for one absolute http(s) URL without spaces (what LINE can open from an answer)."""
    return not url or bool(_URL_RE.match(url))


def _too_long(line: int, column: str, text: str) -> FaqCsvError | None:
    n = utf16_len(text)
    if n <= MAX_ANSWER_UTF16:
        return None
    return FaqCsvError(
        line,
        column,
        f"answer too long: {n} > {MAX_ANSWER_UTF16} UTF-16 code units",
        f"回答が長すぎます（{n}文字、LINEの上限は{MAX_ANSWER_UTF16}文字）。",
    )


def entry_errors(entry: FaqEntry, line: int = 0) -> list[FaqCsvError]:
    """The rules every FAQ entry follows, whether it comes from a CSV row or the console's form."""
    errors: list[FaqCsvError] = []
    texts = [("id", entry.id), ("question", entry.question), ("answer", entry.answer), ("url", entry.url)]
    texts += [("alternates", a) for a in entry.alternates]
    texts += [(f"{k}_{lang}", v) for lang, fields in entry.translations.items() for k, v in fields.items()]
    for column, text in texts:
        if "\x00" in text:
            errors.append(
                FaqCsvError(
                    line,
                    column,
                    "contains a NUL character (0x00)",
                    "見えない制御文字（NUL, 0x00）が入っています。その文字を消してください。",
                )
            )
    err = _too_long(line, "answer", entry.answer)
    if err:
        errors.append(err)
    for lang, fields in entry.translations.items():
        err = _too_long(line, f"answer_{lang}", fields.get("answer", ""))
        if err:
            errors.append(err)
    if not check_url(entry.url):
        errors.append(
            FaqCsvError(
                line,
                "url",
                f"not a web address: {entry.url[:60]!r} (one URL starting with http:// or https://, no spaces)",
                f"URLが正しくありません（{entry.url[:60]}）。http:// か https:// で始まるURLを1つ、空白なしで書いてください。",
            )
        )
    return errors


def _lossy_of(new: str, old: str) -> bool:
    """True when ``new`` is ``old`` after a CP932 save replaced what CP932 cannot hold."""
    if new == old or len(new) != len(old):
        return False
    for n, o in zip(new, old, strict=True):
        if n == o:
            continue
        try:
            o.encode("cp932")
        except UnicodeEncodeError:
            if n == "?" or n == unicodedata.normalize("NFKD", o)[:1]:
                continue  # "?" or Windows' best-fit letter (é → e)
        return False
    return True


def _lossy_cells(
    fid: str, translations: dict[str, dict[str, str]], published: dict[str, FaqEntry], pattern: bool
) -> list[tuple[str, str]]:
    """Translation cells (column, text) that lost characters to a CP932 save.

    Compared with the published text when there is one; by the "?"-inside-a-word pattern
    (``pattern``) when the file itself was CP932.
    """
    out = []
    old = published.get(fid)
    for lang in _LOSSY_LANGS:
        for kind, text in translations.get(lang, {}).items():
            before = old.translations.get(lang, {}).get(kind, "") if old else ""
            if _lossy_of(text, before) or (pattern and _LOSSY_RE.search(text)):
                out.append((f"{kind}_{lang}", text))
    return out


def parse_faq_csv(data: bytes, published: Iterable[FaqEntry] = ()) -> list[FaqEntry]:
    """Parse and validate a FAQ CSV; raise :class:`FaqCsvInvalid` listing every error.

    ``published`` (the FAQ being served) lets a CP932 file be compared with it: translations
    that came back with "?" where the published text had letters CP932 cannot hold are refused.
    """
    if not isinstance(data, (bytes, bytearray)):
        raise TypeError("parse_faq_csv() expects bytes")
    try:
        sheet = Sheet(data)
    except CsvInvalid as exc:
        raise FaqCsvInvalid(exc.errors) from None
    errors: list[FaqCsvError] = []
    entries: list[FaqEntry] = []
    header_line = sheet.header_line
    header = [h.lower() for h in sheet.header]
    seen_cols: dict[str, int] = {}
    for i, name in enumerate(header):
        if not name:
            continue
        if name in seen_cols:
            errors.append(
                FaqCsvError(
                    header_line,
                    name,
                    f"duplicate column (also column {seen_cols[name] + 1})",
                    f"同じ名前の列が2つあります（{seen_cols[name] + 1}列目にもあります）。",
                )
            )
        else:
            seen_cols[name] = i
        m = _TRANSLATION_RE.match(name)
        if m and m.group(2) not in LANGS:
            errors.append(
                FaqCsvError(
                    header_line,
                    name,
                    f"unknown translation language {m.group(2)!r} (known: {', '.join(LANGS)})",
                    f"翻訳の言語「{m.group(2)}」は使えません（使えるのは {', '.join(LANGS)}）。",
                )
            )
    for name in REQUIRED:
        if name not in seen_cols:
            errors.append(
                FaqCsvError(header_line, name, "missing required column", f"必須の列「{name}」が見出し行にありません。")
            )
    if any(name not in seen_cols for name in REQUIRED):
        raise FaqCsvInvalid(errors)

    col = seen_cols
    first_line_of_id: dict[str, int] = {}
    published_by_id = {e.id: e for e in published}
    lossy: list[FaqCsvError] = []
    n_rows = 0
    for line, row, _ in sheet.rows():
        n_rows += 1
        if n_rows > MAX_FAQ_ROWS:
            errors.append(
                FaqCsvError(
                    line,
                    "-",
                    f"too many FAQ rows: more than {MAX_FAQ_ROWS} (this is row {MAX_FAQ_ROWS + 1}); "
                    "split or trim the file",
                    f"FAQは{MAX_FAQ_ROWS:,}件までです（この行が{MAX_FAQ_ROWS + 1:,}件目）。"
                    "別の表が混ざっていないか確かめ、件数を減らしてください。",
                )
            )
            break
        # Rows cut short (hand-edited files, some exporters) come padded with empty cells;
        # a missing id/question/answer is then reported as empty.
        row = [unescape_formula(c) for c in row]

        def cell(name: str, row: list[str] = row) -> str:
            i = col.get(name)
            return row[i].strip() if i is not None else ""

        row_errors: list[FaqCsvError] = []
        fid, question, answer = cell("id"), cell("question"), cell("answer")
        labels = {"id": "ID", "question": "質問", "answer": "回答"}
        for name, value in (("id", fid), ("question", question), ("answer", answer)):
            if not value:
                row_errors.append(FaqCsvError(line, name, f"empty {name}", f"{labels[name]}が空です。"))
        if fid:
            if fid in first_line_of_id:
                row_errors.append(
                    FaqCsvError(
                        line,
                        "id",
                        f"duplicate id {fid!r} (first on line {first_line_of_id[fid]})",
                        f"ID「{fid}」が重複しています（最初は{first_line_of_id[fid]}行目）。",
                    )
                )
            else:
                first_line_of_id[fid] = line
        translations: dict[str, dict[str, str]] = {}
        for lang in LANGS:
            q_t, a_t = cell(f"question_{lang}"), cell(f"answer_{lang}")
            fields = {k: v for k, v in (("question", q_t), ("answer", a_t)) if v}
            if fields:
                translations[lang] = fields
        for column, value in _lossy_cells(fid, translations, published_by_id, sheet.encoding == "cp932"):
            lossy.append(
                FaqCsvError(
                    line,
                    column,
                    f"characters replaced by '?' (saved as CP932/Shift_JIS): {value[:40]!r}",
                    f"文字が「?」に置き換わっています（Shift_JIS で保存されたため）: {value[:40]}",
                )
            )
        if fid and question and answer:
            entry = FaqEntry(
                id=fid,
                question=question,
                answer=row[col["answer"]].strip("\r\n").strip(),
                category=cell("category"),
                alternates=tuple(a.strip() for a in _ALTERNATE_SPLIT_RE.split(cell("alternates")) if a.strip()),
                url=cell("url"),
                contact=cell("contact"),
                translations=translations,
            )
            row_errors += entry_errors(entry, line)
        if row_errors:
            errors.extend(row_errors)
            continue
        entries.append(entry)
    errors.extend(sheet.errors)  # rows wider than the header, a broken quote
    if lossy:
        langs = sorted({e.column.split("_", 1)[1] for e in lossy}, key=_LOSSY_LANGS.index)
        errors.insert(
            0,
            FaqCsvError(
                header_line,
                "-",
                f"{len(lossy)} translation cell(s) ({', '.join(langs)}) lost their letters to '?': the file was "
                "saved by Excel as 'CSV (Comma delimited)' (CP932); save it as 'CSV UTF-8 (Comma delimited)'",
                f"中国語・韓国語・ベトナム語・ポルトガル語の訳 {len(lossy)} か所で、文字が「?」に置き換わっています。"
                "Excel で「CSV (コンマ区切り)」として保存すると、日本語以外の文字が失われます。" + SAVE_AS_UTF8,
                whole_file=True,
            ),
        )
        errors.extend(lossy)
    errors.sort(key=lambda e: e.line)
    if errors:
        raise FaqCsvInvalid(errors)
    if not entries:
        raise FaqCsvInvalid([FaqCsvError(header_line, "-", "no FAQ rows", "FAQの行がありません（見出し行だけです）。")])
    return entries


def load_faq_csv(path: str | Path) -> list[FaqEntry]:
    """Read and parse the FAQ CSV at ``path``."""
    return parse_faq_csv(Path(path).read_bytes())


def _escape_formula(value: str) -> str:
    # OWASP ASVS 1.2.10: a cell starting like a formula is shown as text in Excel.
    return "'" + value if value.startswith(_FORMULA_START) else value


def dump_faq_csv(entries: Iterable[FaqEntry]) -> bytes:
    """Serialize entries as UTF-8-with-BOM, CRLF CSV that Excel opens, formula cells escaped."""
    entries = list(entries)
    langs = [lang for lang in LANGS if any(lang in e.translations for e in entries)]
    header = ["id", "question", "answer", *OPTIONAL]
    for lang in langs:
        header += [f"question_{lang}", f"answer_{lang}"]
    buf = io.StringIO(newline="")
    writer = csv.writer(buf, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow(header)
    for e in entries:
        row = [e.id, e.question, e.answer, e.category, "\n".join(e.alternates), e.url, e.contact]
        for lang in langs:
            tr = e.translations.get(lang, {})
            row += [tr.get("question", ""), tr.get("answer", "")]
        writer.writerow([_escape_formula(v) for v in row])
    return codecs.BOM_UTF8 + buf.getvalue().encode("utf-8")


# Kept for readers written against the FAQ module: the decoder and record reader are excelcsv's.
def decode_csv_bytes(data: bytes) -> str:
    """UTF-8 (BOM optional) or CP932 text; FaqCsvInvalid locating an undecodable byte."""
    try:
        return decode_text(data)
    except CsvInvalid as exc:
        raise FaqCsvInvalid(exc.errors) from None


def csv_records(text: str) -> Iterator[tuple[int, list[str]]]:
    """(Excel row, cells) of every record, as ``excelcsv.records`` gives them."""
    for line, cells, _ in records(text):
        yield line, cells
