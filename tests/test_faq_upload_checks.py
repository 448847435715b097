"""What a ward's real FAQ files do to an upload: Excel rows, bad URLs, CP932 re-saves, NUL, size."""

from __future__ import annotations

import codecs
import time

import pytest

from faq.csvio import MAX_FAQ_ROWS, FaqCsvInvalid, dump_faq_csv, parse_faq_csv
from faq.model import FaqEntry

TRANSLATED = [
    FaqEntry(
        "juminhyo-001",
        "住民票の写しはどこで取れますか？",
        "区民課の窓口で取れます。",
        translations={
            "en": {"question": "Where can I get a resident record?", "answer": "At the ward office."},
            "zh": {"question": "在哪里可以办理住民票？", "answer": "请到区政府窗口办理。"},
            "ko": {"question": "주민표는 어디에서 받을 수 있나요?", "answer": "구청 창구에서 받을 수 있습니다."},
            "vi": {"question": "Tôi có thể lấy phiếu cư trú ở đâu?", "answer": "Tại quầy của văn phòng quận."},
            "pt": {"question": "Onde posso obter o atestado de residência?", "answer": "No balcão da prefeitura."},
        },
    ),
    FaqEntry(
        "gomi-001",
        "粗大ごみの出し方",
        "電話で申し込んでください。",
        translations={"pt": {"question": "Onde é a coleta de lixo grande?", "answer": "Ligue para a central."}},
    ),
]


def _invalid(data: bytes, published=()) -> FaqCsvInvalid:
    with pytest.raises(FaqCsvInvalid) as info:
        parse_faq_csv(data, published=published)
    return info.value


def _excel_cp932_save(entries) -> bytes:
    """What Excel's 「CSV (コンマ区切り)」 writes on Japanese Windows: CP932, '?' for the rest."""
    text = dump_faq_csv(entries).decode("utf-8-sig")
    return text.encode("cp932", errors="replace")


def test_errors_name_the_excel_row_not_the_file_line() -> None:
    rows = ["id,question,answer"]
    for i in range(1, 40):
        rows.append(f'q{i},質問{i},"1行目\n2行目\n3行目\n4行目\n5行目"')  # one Excel row, five file lines
    rows.append("q40,,回答")  # the 41st row in Excel, file line 197
    data = "\n".join(rows).encode("utf-8")
    assert data.decode().splitlines().index("q40,,回答") + 1 == 197
    (err,) = _invalid(data).errors
    assert str(err) == "line 41, column question: empty question"
    assert err.ja == "質問が空です。"


def test_malformed_url_is_an_error() -> None:
    data = "id,question,answer,url\n1,質問,回答,htp//broken url\n2,質問,回答,https://www.city.example.jp/a?b=1\n"
    (err,) = _invalid(data.encode()).errors
    assert (err.line, err.column) == (2, "url")
    assert "http://" in err.reason and "URLが正しくありません" in err.ja


@pytest.mark.parametrize("with_published", [True, False], ids=["compared-with-published", "by-pattern"])
def test_excel_cp932_resave_that_lost_translations_is_refused(with_published: bool) -> None:
    data = _excel_cp932_save(TRANSLATED)
    assert b"?" in data
    errors = _invalid(data, TRANSLATED if with_published else ()).errors
    summary = errors[0]
    assert summary.line == 1 and "CSV UTF-8" in summary.ja and "CSV UTF-8" in summary.reason
    cells = {(e.line, e.column) for e in errors[1:]}
    # zh/ko/vi lost letters; pt lost ç/ã; English and やさしい日本語 survive a CP932 save.
    assert (2, "question_ko") in cells and (2, "answer_zh") in cells and (2, "question_vi") in cells
    assert (3, "question_pt") in cells
    assert not any(c.endswith("_en") for _, c in cells)


def test_best_fit_letters_are_caught_against_the_published_text() -> None:
    # Some Windows saves write the nearest letter (ô → o) instead of "?".
    damaged = dump_faq_csv(TRANSLATED).decode("utf-8-sig").replace("Tôi có thể", "Toi co the")
    damaged = damaged.replace("在哪里可以办理住民票？", "").replace("请到区政府窗口办理。", "")
    damaged = damaged.replace("주민표는 어디에서 받을 수 있나요?", "").replace("구청 창구에서 받을 수 있습니다.", "")
    errors = _invalid(damaged.encode("utf-8"), TRANSLATED).errors
    assert {e.column for e in errors[1:]} == {"question_vi"}


def test_cp932_files_with_japanese_english_and_real_question_marks_pass() -> None:
    entries = [
        FaqEntry(
            "a",
            "ごみの日は？",
            "月曜です。",
            translations={"en": {"question": "Which day?", "answer": "Monday."}, "pt": {"question": "Qual dia?"}},
        )
    ]
    data = dump_faq_csv(entries).decode("utf-8-sig").encode("cp932")
    assert parse_faq_csv(data, published=entries) == entries


def test_product_escape_is_stripped_only_where_it_is_the_products() -> None:
    data = (
        "id,question,answer,contact\na,質問,'- 平日 8:30〜17:15,'+81-3-0000-0000\nb,'それ' とは,'本当' です,'@desk\n"
    ).encode()
    a, b = parse_faq_csv(data)
    assert a.answer == "- 平日 8:30〜17:15" and a.contact == "+81-3-0000-0000"
    assert b.question == "'それ' とは" and b.answer == "'本当' です" and b.contact == "@desk"


def test_nul_bytes_are_a_clear_error() -> None:
    data = "id,question,answer\n1,質問,回答\n2,質問,回\x00答\n".encode()
    (err,) = _invalid(data).errors
    assert (err.line, err.column) == (3, "answer") and "NUL" in err.reason and "NUL" in err.ja


def test_utf16_file_is_named_as_such() -> None:
    data = codecs.BOM_UTF16_LE + "id,question,answer\n1,質問,回答\n".encode("utf-16-le")
    (err,) = _invalid(data).errors
    assert "UTF-16" in err.reason and "CSV UTF-8" in err.ja


def test_row_cap_refuses_a_huge_file_at_once() -> None:
    rows = ["id,question,answer"] + [f"q{i},質問{i},回答{i}" for i in range(200_000)]
    data = "\n".join(rows).encode()
    started = time.perf_counter()
    errors = _invalid(data).errors
    elapsed = time.perf_counter() - started
    assert [str(e).split(":")[0] for e in errors] == [f"line {MAX_FAQ_ROWS + 2}, column -"]
    assert "3,000" in errors[0].ja
    assert elapsed < 5  # stops reading at the cap (generous bound for a shared 2-core machine)
    exact = "\n".join(rows[: MAX_FAQ_ROWS + 1]).encode()
    assert len(parse_faq_csv(exact)) == MAX_FAQ_ROWS
