"""A photo whose report vanished between the two reads of a photo batch: a clear answer, no file left."""

from __future__ import annotations

from bot.runtime import runtime
from reports import service
from store import reports as report_store
from tests.reports_helpers import jpeg_with_gps

USER = "U" + "4" * 32


def test_a_photo_whose_draft_is_gone_after_a_lost_race_is_refused_and_its_files_deleted(app, monkeypatch, tmp_path):
    s = service.Settings.from_config({**app.config, "MEDIA_DIR": str(tmp_path / "media")}, runtime(app).areas)
    db = runtime(app).store.db
    # Another photo of the same batch created the draft first (create_draft lost) and the
    # resident cancelled it before this one was added: get_draft finds nothing.
    monkeypatch.setattr(report_store, "create_draft", lambda *a, **k: False)
    out = service.photo(db, s, USER, "ja", jpeg_with_gps())
    assert [key for key, _ in out.notes] == ["report_expired_postback"]
    assert report_store.get_draft(db, USER) is None
    media = tmp_path / "media"
    assert not media.exists() or not any(p.is_file() for p in media.rglob("*"))
