"""An alert to a mixed audience reaches each resident in their language (issue F × issue C).

Checked per recipient in the emulator's record: every resident gets the text of their own
language when the alert has one, else やさしい日本語 (and the preview says so), else Japanese.
"""

from __future__ import annotations

import pytest

from alerts import service
from alerts.worker import run_worker
from bot.i18n import LANGUAGES
from store import residents as resident_store


@pytest.fixture
def rt(app):
    with app.app_context():
        yield app.extensions["madoguchi"]


def test_mixed_audience_gets_each_language(rt, emulator):
    db = rt.store.db
    users = {lang: f"U{lang.replace('-', '')}1" for lang in LANGUAGES}
    resident_store.bulk_add_residents(db, [{"user_id": uid, "lang": lang, "area": "midori-1"} for lang, uid in users.items()])
    alert_id = service.create_alert(
        db, by="tanaka", template="evac_level4", fields={"areas": "みどり一丁目", "hazard": "flood"}, areas=["midori-1"]
    )
    service.approve(db, alert_id, "suzuki")
    preview = service.preview(db, alert_id)
    groups = {g["resident_lang"]: g for g in preview["groups"]}
    assert set(groups) == set(LANGUAGES) and preview["recipient_count"] == len(LANGUAGES)
    available = set(service.get_alert(db, alert_id)["texts"])
    service.start_delivery(db, alert_id, "suzuki")
    run_worker(rt.store, rt.line, once=True, rate_limit_rps=None, alert_id=alert_id, backoff_base=0.01)
    sent_texts = {}
    for lang, uid in users.items():
        received = emulator.texts(uid)
        assert len(received) >= 1, f"{lang} resident got nothing"
        sent_texts[lang] = received[0]
        expected_lang = service.text_lang_for(lang, available)
        group = groups[lang]
        assert group["lang"] == expected_lang
        assert group["fallback_from"] == (lang if expected_lang != lang else None)
        if lang in available:
            assert expected_lang == lang, f"{lang} has its own text but got {expected_lang}"
        else:
            assert expected_lang in ("easy", "ja")
    # Residents with their own text get a text different from the Japanese one.
    for lang in available - {"ja"}:
        assert sent_texts[lang] != sent_texts["ja"], lang
    # Residents without their own text get exactly the やさしい日本語 text.
    for lang in set(LANGUAGES) - available:
        assert sent_texts[lang] == sent_texts["easy" if "easy" in available else "ja"], lang
