"""English and Portuguese stems: remembered per word, the same from many threads as from one."""

from __future__ import annotations

import threading

import snowballstemmer

from faq.multilang import ANALYZERS, _strip_accents

WORDS = {
    "en": "disposal disposing oversized furniture relocation renewing expired insurance".split(),
    "pt": "descartar descartando mudança renovação crianças documentos vacinação".split(),
}


def test_stems_match_snowball_and_threads_do_not_mix_words():
    for lang, algorithm in (("en", "english"), ("pt", "portuguese")):
        analyze = ANALYZERS[lang]
        expected = analyze(" ".join(WORDS[lang]))
        # The analyzer's stems are Snowball's, then its synonyms (and, in Portuguese, no accents).
        plain = [analyze.synonyms.get(s, s) for s in snowballstemmer.stemmer(algorithm).stemWords(WORDS[lang])]
        assert expected == (plain if lang == "en" else [_strip_accents(s) for s in plain])
        analyze._stem.cache_clear()  # type: ignore[attr-defined]
        results: list[list[str]] = []

        def work(text: str, analyze=analyze, results=results) -> None:
            for _ in range(50):
                results.append(analyze(text))

        threads = [threading.Thread(target=work, args=(" ".join(WORDS[lang]),)) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert results and all(r == expected for r in results)
