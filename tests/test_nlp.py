"""nlp/: normalization, Sudachi tokens, content words, script detection."""

import threading

import pytest

from nlp import content_words, normalize, tokens
from nlp.tokenize import word_features


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("ＡＢＣ１２３", "abc123"),
        ("ｺﾞﾐ", "ゴミ"),
        ("  住民票\u3000の\t写し \n", "住民票 の 写し"),
        ("コーヒ～", "コーヒー"),
        ("コンピュータ－", "コンピューター"),
        ("9時〜17時", "9時〜17時"),
        ("9時～17時", "9時〜17時"),
        ("児童手当🎉✨について★", "児童手当 について"),
        ("👍🏻", ""),
        ("Ｍａｉｌ", "mail"),
    ],
)
def test_normalize(raw: str, expected: str) -> None:
    assert normalize(raw) == expected


def test_normalize_rejects_non_str() -> None:
    with pytest.raises(TypeError):
        normalize(None)  # type: ignore[arg-type]


def test_tokens_have_forms_and_pos() -> None:
    toks = tokens("引越しの手続き")
    assert [t.surface for t in toks] == ["引越し", "の", "手続き"]
    assert toks[0].normalized_form == "引っ越し"
    assert toks[1].pos[0] == "助詞"
    assert tokens("") == []


def test_hikkoshi_spellings_meet() -> None:
    assert content_words("引越しをしたい")[0] == content_words("引っ越しの手続き")[0] == "引っ越し"


def test_content_words_drop_filler() -> None:
    words = content_words("母子手帳を受け取りたいのですが、どうすればいいですか？教えてください。")
    assert words == ["母子手帳", "受け取る"]
    assert content_words("について教えてください") == []


def test_kana_variants_meet_through_readings() -> None:
    kanji = set(word_features("粗大ごみの出し方"))
    kana = set(word_features("そだいごみのだしかた"))
    assert "~ゴミ" in kanji & kana
    assert "~ソダイ" in kanji & kana
    assert "~ゴミ" in set(word_features("ゴミ"))


def test_tokenizer_is_per_thread() -> None:
    results: list[list[str]] = []
    errors: list[BaseException] = []

    def work() -> None:
        try:
            for _ in range(50):
                results.append(content_words("児童手当はいつ振り込まれますか"))
        except BaseException as exc:  # noqa: BLE001 - any failure in a thread is reported by the test
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert all(r == ["児童手当", "いつ", "振り込む"] for r in results)


@pytest.mark.parametrize(
    "filler",
    [
        "すみません、質問なんですが",
        "よろしくお願いします",
        "ありがとうございました",
        "お世話になっております。",
        "こんにちは！",
    ],
)
def test_greetings_and_politeness_are_not_content(filler: str) -> None:
    assert content_words(filler) == []
    assert content_words(filler + "児童手当の振込日") == ["児童手当", "振込日"]
