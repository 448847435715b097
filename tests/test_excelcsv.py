"""The one Excel-CSV reader every staff-edited list goes through: encodings, rows, one error shape."""

from __future__ import annotations

import codecs

import pytest

from bot.urgent import UrgentCsvError, parse_urgent_csv
from excelcsv import CsvError, CsvInvalid, Sheet, decode, records
from faq.csvio import FaqCsvInvalid, decode_csv_bytes, parse_faq_csv
from faq.eval import read_queries
from faq.synonyms import Synonyms
from garbage.bulky import FeeListInvalid, parse_fee_list
from reports.kinds import parse_kinds
from richmenu.spec import MenuFileInvalid, parse_menu_csv
from shelters.importer import ShelterFileInvalid, parse_bytes

TEXT = "code,name\nroad,道路\npark,公園\n"
# A lost byte at the start of 窓口 leaves this file valid CP932 from start to end.
DESK = "code,name\nroad,道路\ndesk,窓口\n"


def _invalid(data: bytes) -> list[CsvError]:
    with pytest.raises(CsvInvalid) as info:
        Sheet(data)
    return info.value.errors


def _broken_utf8(text: str, word: str) -> bytes:
    """``text`` in UTF-8 with the first byte of ``word`` replaced by 0x80 (a byte lost in transfer)."""
    data = text.encode()
    i = data.index(word.encode())
    return data[:i] + b"\x80" + data[i + 1 :]


@pytest.mark.parametrize(
    ("data", "encoding"),
    [
        (TEXT.encode(), "utf-8"),
        (codecs.BOM_UTF8 + TEXT.encode(), "utf-8"),
        (TEXT.encode("cp932"), "cp932"),
    ],
    ids=["utf-8", "utf-8 with BOM (Excel's CSV UTF-8)", "cp932 (Excel's CSV)"],
)
def test_excel_encodings_read_the_same(data, encoding):
    assert decode(data) == (TEXT, encoding)
    sheet = Sheet(data)
    assert sheet.header == ["code", "name"]
    assert [(r.line, r.cells) for r in sheet.rows()] == [(2, ["road", "道路"]), (3, ["park", "公園"])]


def test_utf16_is_refused_with_how_to_save():
    (error,) = _invalid(TEXT.encode("utf-16"))
    assert error.whole_file and "UTF-16" in error.reason and "CSV UTF-8" in error.ja


def test_undecodable_byte_is_located_by_row_and_column():
    data = "id,question,answer\n1,質問,回答\n".encode() + b'2,"two\nlines",\xff\xfe\n'
    (error,) = _invalid(data)
    assert str(error).startswith("line 3, column answer: undecodable byte 0xff at byte ")
    assert "UTF-8 でも Shift_JIS" in error.ja


def test_bad_byte_in_the_header_has_a_column_number():
    (error,) = _invalid(b"ID,\x82\n1,x\n")
    assert (error.line, error.column) == (1, "#2")


def test_bad_byte_after_a_bom_is_utf8():
    (error,) = _invalid(codecs.BOM_UTF8 + "code,name\nroad,道路\n".encode() + b"park,\xff\n")
    assert str(error) == "line 3, column name: invalid UTF-8 byte 0xff at byte 30"


def test_a_broken_utf8_file_is_not_read_as_cp932_mojibake():
    data = _broken_utf8(DESK, "窓口")
    assert data.decode("cp932")  # the trap: the damaged file is valid CP932 from start to end
    (error,) = _invalid(data)
    assert (error.line, error.column) == (3, "name")
    assert "read as UTF-8 up to there" in error.reason


def test_cp932_whose_first_bytes_look_like_utf8_is_still_cp932():
    # Half-width ﾏｲ in CP932 (CF B2) is valid UTF-8 (one Greek letter); the rest is not.
    text = "名前,ｶﾅ\nマイナンバー,ﾏｲﾅﾝﾊﾞｰ\n"
    assert decode(text.encode("cp932")) == (text, "cp932")
    assert decode(("ﾏｲﾅﾝﾊﾞｰ," + text).encode("cp932"))[1] == "cp932"


def test_quoted_line_breaks_count_as_one_excel_row():
    text = 'id,answer\n1,"first\r\nsecond"\n2,"a\rb"\n3,x\n'
    got = [(r.line, r.file_line, r.cells) for r in records(text)]
    assert got == [
        (1, 1, ["id", "answer"]),
        (2, 2, ["1", "first\nsecond"]),
        (3, 4, ["2", "a\nb"]),
        (4, 6, ["3", "x"]),  # a lone CR ends a line of the file, as the csv module and editors count
    ]


def test_blank_rows_are_skipped_and_short_rows_padded():
    sheet = Sheet(b"\n,,\nid,a,b\n\n1\n2,x,y\n")
    assert (sheet.header_line, sheet.header) == (3, ["id", "a", "b"])
    assert [(r.line, r.cells) for r in sheet.rows()] == [(5, ["1", "", ""]), (6, ["2", "x", "y"])]
    assert sheet.errors == []


def test_rows_wider_than_the_header_are_errors():
    sheet = Sheet(b"id,name\n1,a,\n2,b,c\n3,d\n")
    assert [r.line for r in sheet.rows()] == [2, 4]  # an empty extra cell (a trailing comma) is harmless
    assert [str(e) for e in sheet.errors] == ["line 3, column -: expected 2 fields, found 3"]
    assert "見出し行（2列）" in sheet.errors[0].ja


def test_a_broken_quote_is_a_located_error():
    sheet = Sheet(b'id,name\n1,"never closed\n2,b\n')
    assert list(sheet.rows()) == []
    assert [str(e) for e in sheet.errors] == ["line 2, column -: CSV syntax error: unexpected end of data"]


@pytest.mark.parametrize("data", [b"", b" \r\n\r\n", codecs.BOM_UTF8])
def test_empty_file(data):
    (error,) = _invalid(data)
    assert str(error) == "line 1, column -: empty file" and error.whole_file


def test_error_shape():
    error = CsvError(4, "", "empty", "空です")
    assert str(error) == "line 4, column -: empty" and error.ja == "空です"
    assert str(error.in_japanese()) == "line 4, column -: 空です"
    assert str(CsvInvalid([error, CsvError(5, "id", "x")])) == "line 4, column -: empty\nline 5, column id: x"


def test_the_faq_module_still_offers_its_decoder():
    assert decode_csv_bytes(TEXT.encode("cp932")) == TEXT
    with pytest.raises(FaqCsvInvalid):
        decode_csv_bytes(_broken_utf8(DESK, "窓口"))


# --- every reader gets the shared decoder's detection -----------------------------------------


def test_report_kinds_with_a_broken_byte_are_refused_instead_of_read_as_mojibake():
    with pytest.raises(CsvInvalid) as info:
        parse_kinds(_broken_utf8(DESK, "窓口"))
    assert [(e.line, e.column) for e in info.value.errors] == [(3, "name")]


def test_faq_with_a_broken_byte_is_refused_instead_of_read_as_mojibake():
    data = _broken_utf8("id,question,answer\n1,道路の穴,道路課へ\n2,粗大ごみ,窓口へ\n", "窓口")
    assert data.decode("cp932")  # what the FAQ's decoder used to accept
    with pytest.raises(FaqCsvInvalid) as info:
        parse_faq_csv(data)
    assert [(e.line, e.column) for e in info.value.errors] == [(3, "answer")]


def test_urgent_topics_bad_byte_names_its_line_and_column():
    data = "id,triggers,answer_ja\nnight,熱,#8000へ\n".encode() + b"kid,\xff\xfe,x\n"
    with pytest.raises(UrgentCsvError) as info:
        parse_urgent_csv(data)
    assert str(info.value).startswith("line 3, column triggers: undecodable byte 0xff")


def test_urgent_topics_in_utf16_say_how_to_save():
    with pytest.raises(UrgentCsvError, match="UTF-16"):
        parse_urgent_csv("id,triggers,answer_ja\na,熱,x\n".encode("utf-16"))


def test_shelter_file_bad_byte_column_ignores_quoted_commas():
    header = "ID,名称,備考,緯度,経度\n"
    data = (header + 'S1,"みどり小学校","体育館, 校庭",35.7,139.6\n').encode() + b'S2,x,"a, b",\xff\xfe,139.6\n'
    with pytest.raises(ShelterFileInvalid) as info:
        parse_bytes(data)
    assert [(e.line, e.column) for e in info.value.errors] == [(3, "緯度")]


def test_fee_list_row_with_a_stray_comma_is_refused():
    with pytest.raises(FeeListInvalid) as info:
        parse_fee_list("品目,手数料\nいす,400\n机,1,200円\n".encode())
    assert [str(e) for e in info.value.errors] == ["line 3, column -: expected 2 fields, found 3"]


def test_menu_file_decoding_errors_are_in_japanese():
    with pytest.raises(MenuFileInvalid) as info:
        parse_menu_csv("menu,ja\n".encode("utf-16"))
    assert "UTF-16" in str(info.value) and "保存し直してください" in str(info.value)


def test_eval_queries_and_synonyms_saved_by_excel_as_cp932_are_read(tmp_path):
    queries = tmp_path / "q.csv"
    queries.write_bytes('query,expected\n粗大ごみを出したい,"g1|g2"\n\n住民票,\n'.encode("cp932"))
    assert [(q.query, q.expected, q.line) for q in read_queries(queries)] == [
        ("粗大ごみを出したい", ("g1", "g2"), 2),
        ("住民票", (), 4),
    ]
    synonyms = tmp_path / "s.csv"
    synonyms.write_bytes("term,synonyms\n粗大ごみ,大型ごみ|粗大ゴミ\n".encode("cp932"))
    assert len(Synonyms.load(synonyms)) == 2


def test_an_eval_query_with_a_stray_comma_is_refused(tmp_path):
    queries = tmp_path / "q.csv"
    queries.write_text("query,expected\nごみ, 粗大,g1\n", encoding="utf-8")
    with pytest.raises(CsvInvalid, match="line 2, column -: expected 2 fields, found 3"):
        read_queries(queries)
