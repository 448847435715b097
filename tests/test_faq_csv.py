"""faq.csvio: the FAQ CSV contract (encodings, quoting, every error with line and column)."""

import codecs

import pytest

from faq.csvio import (
    FaqCsvError,
    FaqCsvInvalid,
    dump_faq_csv,
    load_faq_csv,
    parse_faq_csv,
)
from faq.model import FaqEntry

GOOD = (
    "id,question,answer,category,alternates,url,contact,question_en,answer_en,memo\r\n"
    'gomi-1,粗大ごみの出し方,"電話で申し込んでください。\r\n収集日に出してください。",ごみ,'
    '"大型ごみを捨てたい\r\nソファを捨てたい|ベッドの処分",https://example.jp,清掃課,'
    "How do I dispose of bulky waste?,Apply by phone.,staff note\r\n"
    "juminhyo,住民票の写しがほしい,区役所の窓口で取れます。,戸籍・住民票,,,,,,\r\n"
)


def _errors(data: bytes) -> list[str]:
    with pytest.raises(FaqCsvInvalid) as info:
        parse_faq_csv(data)
    assert all(isinstance(e, FaqCsvError) for e in info.value.errors)
    return [str(e) for e in info.value.errors]


@pytest.mark.parametrize(
    "encode",
    [
        lambda s: s.encode("utf-8"),
        lambda s: codecs.BOM_UTF8 + s.encode("utf-8"),
        lambda s: s.encode("cp932"),
    ],
    ids=["utf8", "utf8-bom", "cp932"],
)
def test_parse_encodings_multiline_alternates_translations(encode) -> None:
    entries = parse_faq_csv(encode(GOOD))
    assert [e.id for e in entries] == ["gomi-1", "juminhyo"]
    e = entries[0]
    assert e.answer == "電話で申し込んでください。\n収集日に出してください。"
    assert e.alternates == ("大型ごみを捨てたい", "ソファを捨てたい", "ベッドの処分")
    assert e.category == "ごみ" and e.url == "https://example.jp" and e.contact == "清掃課"
    assert e.translations["en"]["question"] == "How do I dispose of bulky waste?"
    assert entries[1].translations == {}


def test_missing_required_columns() -> None:
    assert _errors(b"id,question\n1,q\n") == ["line 1, column answer: missing required column"]
    assert _errors(b"question,answer\n") == ["line 1, column id: missing required column"]


def test_all_row_errors_collected_with_lines() -> None:
    data = (
        "id,question,answer\n"
        '1,ごみ,"複数行の\n回答"\n'  # Excel row 2 (file lines 2-3: one row in Excel)
        "2,,回答\n"  # row 3
        "3,質問,\n"  # row 4
        ",質問,回答\n"  # row 5
        '1,重複,"回答"\n'  # row 6
        "4,質問,回答,余分\n"  # row 7
        "5,長い,{}\n".format("あ" * 5001)  # row 8
    ).encode("utf-8")
    assert _errors(data) == [
        "line 3, column question: empty question",
        "line 4, column answer: empty answer",
        "line 5, column id: empty id",
        "line 6, column id: duplicate id '1' (first on line 2)",
        "line 7, column -: expected 3 fields, found 4",
        "line 8, column answer: answer too long: 5001 > 5000 UTF-16 code units",
    ]


def test_short_rows_are_padded() -> None:
    entries = parse_faq_csv(b"id,question,answer,alternates\n1,q,a\n2,q,a,,\n")
    assert [(e.id, e.alternates) for e in entries] == [("1", ()), ("2", ())]
    assert _errors(b"id,question,answer\n1,q\n") == ["line 2, column answer: empty answer"]


def test_answer_length_counts_utf16_units() -> None:
    ok = "id,question,answer\n1,q,{}\n".format("あ" * 5000).encode()
    assert len(parse_faq_csv(ok)) == 1
    emoji = "id,question,answer\n1,q,{}\n".format("😀" * 2501).encode()  # 5002 units
    assert _errors(emoji) == ["line 2, column answer: answer too long: 5002 > 5000 UTF-16 code units"]


def test_translation_answer_too_long_and_unknown_language() -> None:
    data = "id,question,answer,answer_en,question_xx\n1,q,a,{},\n".format("a" * 5001).encode()
    assert _errors(data) == [
        "line 1, column question_xx: unknown translation language 'xx' (known: en, zh, ko, vi, pt, easy)",
        "line 2, column answer_en: answer too long: 5001 > 5000 UTF-16 code units",
    ]


def test_undecodable_bytes_give_line_and_column() -> None:
    data = "id,question,answer\n1,質問,回答\n".encode() + b"2,q,\xff\xfe\x80\n"
    errors = _errors(data)
    assert len(errors) == 1
    assert errors[0].startswith("line 3, column answer: undecodable byte")


def test_bad_byte_after_bom() -> None:
    data = codecs.BOM_UTF8 + b"id,question,answer\n1,q,\xff\n"
    assert _errors(data)[0].startswith("line 2, column answer: invalid UTF-8 byte 0xff")


@pytest.mark.parametrize("data", [b"", b"   \r\n", codecs.BOM_UTF8])
def test_empty_file(data: bytes) -> None:
    assert _errors(data) == ["line 1, column -: empty file"]


def test_header_only_is_rejected() -> None:
    assert _errors(b"id,question,answer\r\n") == ["line 1, column -: no FAQ rows"]


def test_unterminated_quote_is_reported() -> None:
    errors = _errors(b'id,question,answer\n1,q,"never closed\n2,q,a\n')
    assert errors[0].startswith("line 2, column -: CSV syntax error")


def test_error_str_and_attributes() -> None:
    e = FaqCsvError(5, "answer", "empty answer")
    assert (e.line, e.column, e.reason) == (5, "answer", "empty answer")
    assert str(e) == "line 5, column answer: empty answer"
    assert str(FaqCsvInvalid([e, FaqCsvError(6, "id", "empty id")])) == (
        "line 5, column answer: empty answer\nline 6, column id: empty id"
    )


def test_dump_round_trip_bom_crlf_and_formula_escape(tmp_path) -> None:
    entries = [
        FaqEntry(
            "1",
            "=HYPERLINK()",
            "-危険\n2行目",
            alternates=("別の言い方", "@x"),
            translations={"en": {"question": "Q", "answer": "+A"}},
        ),
        FaqEntry("2", "質問", "回答", category="戸籍"),
    ]
    data = dump_faq_csv(entries)
    assert data.startswith(codecs.BOM_UTF8)
    assert data.split(b"\r\n")[0].endswith(b"answer_en") and data.endswith(b"\r\n")
    path = tmp_path / "faq.csv"
    path.write_bytes(data)
    # In the file (what Excel opens) formula cells are text: a leading apostrophe ...
    assert b"'=HYPERLINK()" in data and b"\"'-\xe5\x8d\xb1" in data and b"'+A" in data
    assert b"'@x" not in data  # the cell starts with 別: not a formula
    # ... and reading the product's own export back gives the stored text, not "'-…".
    back = load_faq_csv(path)
    assert back == entries
    assert back[0].question == "=HYPERLINK()" and back[0].answer == "-危険\n2行目"
    assert back[0].translations["en"]["answer"] == "+A"


def test_model_dict_round_trip() -> None:
    e = FaqEntry("x", "q", "a", alternates=("b",), translations={"ko": {"question": "질문"}})
    assert FaqEntry.from_dict(e.to_dict()) == e
    with pytest.raises(ValueError):
        FaqEntry("", "q", "a")


@pytest.mark.parametrize("eol", ["\r\n", "\r", "\n"])
def test_newlines_inside_cells_become_lf(eol: str) -> None:
    data = (
        "id,question,answer,alternates\r\n"
        f'a1,粗大ごみ,"電話で申し込みます。{eol}収集日に出します。{eol}",'
        f'"大型ごみ{eol}ソファを捨てたい"\r\n'
    ).encode()
    (entry,) = parse_faq_csv(data)
    assert entry.answer == "電話で申し込みます。\n収集日に出します。"
    assert "\r" not in entry.answer
    assert entry.alternates == ("大型ごみ", "ソファを捨てたい")
