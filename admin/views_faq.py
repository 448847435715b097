"""FAQ: upload → validation report → diff → publish; history with rollback; CSV download; new entry."""

from __future__ import annotations

from typing import Any

from flask import Response, abort, flash, g, redirect, render_template, request, url_for

from admin import bp
from admin.guard import audit, db, roles
from bot.bodylimit import body_limit
from bot.runtime import runtime
from faq.csvio import MAX_FAQ_ROWS, FaqCsvError, FaqCsvInvalid, dump_faq_csv, entry_errors, parse_faq_csv
from faq.diff import FIELD_LABELS, faq_diff
from faq.index import FaqIndex
from faq.model import FaqEntry
from store import core as core_store

MAX_UPLOAD_BYTES = 5 * 1024 * 1024
COLUMN_LABELS = {"id": "ID", **FIELD_LABELS}


def _published() -> tuple[int | None, list[dict[str, Any]]]:
    version = core_store.published_faq_version(db())
    if version is None:
        runtime().faq.current()  # seeds the sample FAQ on a fresh database
        version = core_store.published_faq_version(db())
    return version, core_store.faq_version_entries(db(), version) if version else []


def _stage(entries: list[FaqEntry], source_name: str) -> int:
    """Store a validated FAQ as an unpublished version (refused if it cannot be indexed)."""
    FaqIndex.build(entries)
    return core_store.create_faq_version(
        db(), [e.to_dict() for e in entries], created_by=g.admin_user, source_name=source_name, publish=False
    )


def source_label(name: str) -> str:
    """Where a version came from, as staff say it (「画面で1件追加（pet-001）」, not 「console:pet-001」)."""
    if not name.startswith("console:"):
        return name
    what = name.removeprefix("console:")
    if what.endswith("+alternates"):
        return f"画面で言い換えを追加（{what.removesuffix('+alternates')}）"
    return f"画面で1件追加（{what}）"


@bp.route("/faq")
@roles("staff")
def faq():
    version, entries = _published()
    return render_template(
        "admin/faq.html",
        version=version,
        n_entries=len(entries),
        versions=core_store.list_faq_versions(db()),
        entries=entries,
        source_label=source_label,
    )


@bp.route("/faq/upload", methods=["POST"])
@body_limit(MAX_UPLOAD_BYTES + 64 * 1024)  # the file plus the multipart envelope
@roles("staff")
def faq_upload():
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        flash("CSVファイルを選んでください。")
        return redirect(url_for("admin.faq"))
    data = upload.read(MAX_UPLOAD_BYTES + 1)
    name = upload.filename[-120:]
    errors: list[FaqCsvError] = []
    if len(data) > MAX_UPLOAD_BYTES:
        errors = [FaqCsvError(1, "-", "file is larger than 5 MB", "ファイルが5MBを超えています。", whole_file=True)]
    else:
        _version, published = _published()
        try:
            # Compared with the published FAQ: a CP932 re-save that lost translations is refused.
            entries = parse_faq_csv(data, published=[FaqEntry.from_dict(e) for e in published])
        except FaqCsvInvalid as exc:
            errors = exc.errors
    if errors:
        audit("faq.upload_rejected", name, {"errors": len(errors)})
        version, published = _published()
        return render_template("admin/faq_errors.html", filename=name, errors=errors, version=version), 422
    try:
        version = _stage(entries, name)
    except ValueError as exc:
        errors = [FaqCsvError(1, "-", f"cannot build the search index: {exc}", f"検索用の索引を作れません: {exc}")]
        return render_template("admin/faq_errors.html", filename=name, errors=errors, version=None), 422
    audit("faq.upload", f"faq:v{version}", {"file": name, "entries": len(entries)})
    return redirect(url_for("admin.faq_version", version=version))


@bp.route("/faq/versions/<int:version>")
@roles("staff")
def faq_version(version: int):
    try:
        entries = core_store.faq_version_entries(db(), version)
    except LookupError:
        abort(404)
    published, current = _published()
    meta = next((v for v in core_store.list_faq_versions(db(), limit=100000) if v.version == version), None)
    return render_template(
        "admin/faq_diff.html",
        version=version,
        meta=meta,
        published=published,
        diff=faq_diff(current, entries),
        n_entries=len(entries),
    )


def _publish(version: int, action: str) -> Response:
    before = core_store.published_faq_version(db())
    try:
        core_store.publish_faq_version(db(), version)
    except LookupError:
        abort(404)
    audit(action, f"faq:v{version}", {"previous": before})
    label = "公開" if action == "faq.publish" else "ロールバック"
    # Every process checks the published version before it answers (bot.faq_runtime), so
    # the next question anywhere gets this version.
    flash(f"FAQ バージョン {version} を{label}しました。次の質問から、すべてのサーバーがこの版で答えます。")
    return redirect(url_for("admin.faq"))


@bp.route("/faq/versions/<int:version>/publish", methods=["POST"])
@roles("staff")
def faq_publish(version: int):
    return _publish(version, "faq.publish")


@bp.route("/faq/versions/<int:version>/rollback", methods=["POST"])
@roles("staff")
def faq_rollback(version: int):
    """Going back is only done from the diff page, after the operator has seen what changes."""
    if request.form.get("confirm") != str(version):
        flash("戻す前に、変更点を確認して「確認しました」にチェックを入れてください。")
        return redirect(url_for("admin.faq_version", version=version))
    return _publish(version, "faq.rollback")


@bp.route("/faq/download.csv")
@roles("staff")
def faq_download():
    version, entries = _published()
    body = dump_faq_csv(FaqEntry.from_dict(e) for e in entries)
    return Response(
        body,
        mimetype="text/csv",
        headers={
            "Content-Type": "text/csv; charset=utf-8",
            "Content-Disposition": f'attachment; filename="faq_v{version}.csv"',
        },
    )


@bp.route("/faq/new", methods=["GET", "POST"])
@roles("staff")
def faq_new():
    """A new entry (pre-filled from the unanswered queue) staged as a version on top of the published one."""
    _version, entries = _published()
    form = {
        "id": request.values.get("id", ""),
        "category": request.values.get("category", ""),
        "question": request.values.get("question", ""),
        "alternates": request.values.get("alternates", ""),
        "answer": request.values.get("answer", ""),
        "url": request.values.get("url", ""),
        "contact": request.values.get("contact", ""),
    }
    errors: list[str] = []
    if request.method == "POST":
        ids = {e["id"] for e in entries}
        if form["id"].strip() in ids:
            errors.append(f"ID {form['id']} はすでに使われています。")
        try:
            entry = FaqEntry(
                id=form["id"].strip(),
                question=form["question"].strip(),
                answer=form["answer"].strip(),
                category=form["category"].strip(),
                alternates=tuple(a.strip() for a in form["alternates"].replace("|", "\n").splitlines() if a.strip()),
                url=form["url"].strip(),
                contact=form["contact"].strip(),
            )
        except ValueError:
            errors.append("ID・質問・回答は必須です。")
            entry = None
        if entry is not None and not errors:
            # The same rules as an upload, applied to the entry itself; the other entries are
            # taken as stored (a CSV round trip would add the export's formula escape to them).
            errors += [f"{COLUMN_LABELS.get(err.column, err.column)}: {err.ja}" for err in entry_errors(entry)]
            if len(entries) >= MAX_FAQ_ROWS:
                errors.append(f"FAQは{MAX_FAQ_ROWS:,}件までです。")
        if entry is not None and not errors:
            version = _stage([FaqEntry.from_dict(e) for e in entries] + [entry], f"console:{entry.id}")
            audit("faq.draft_entry", f"faq:v{version}", {"id": entry.id})
            return redirect(url_for("admin.faq_version", version=version))
    existing = sorted({e.get("category", "") for e in entries if e.get("category")})
    return render_template("admin/faq_new.html", form=form, errors=errors, categories=existing), 400 if errors else 200


MAX_PHRASES = 20


@bp.route("/faq/alternate", methods=["GET", "POST"])
@roles("staff")
def faq_alternate():
    """Unanswered questions added as other phrasings (alternates) of an existing entry, staged as a version."""
    _version, entries = _published()
    by_id = {e["id"]: e for e in entries}
    phrases = [p.strip() for p in request.values.getlist("q") if p.strip()][:MAX_PHRASES]
    chosen = request.values.get("faq_id", "").strip()
    other = request.values.get("faq_other", "").strip()
    errors: list[str] = []
    if request.method == "POST":
        target = other if chosen == "other" else chosen
        entry = by_id.get(target)
        if entry is None:
            errors.append("言い換えを追加するFAQを選んでください。")
        if not phrases:
            errors.append("追加する言い換えを1つ以上選んでください。")
        if entry is not None and phrases:
            known = {entry["question"], *entry.get("alternates", [])}
            new = [p for p in dict.fromkeys(phrases) if p not in known]
            if not new:
                errors.append("選んだ言い換えは、このFAQにすでに入っています。")
            else:
                updated = FaqEntry.from_dict({**entry, "alternates": [*entry.get("alternates", []), *new]})
                errors += [f"{COLUMN_LABELS.get(e.column, e.column)}: {e.ja}" for e in entry_errors(updated)]
                if not errors:
                    staged = [updated if e["id"] == target else FaqEntry.from_dict(e) for e in entries]
                    version = _stage(staged, f"console:{target}+alternates")
                    audit("faq.draft_alternate", f"faq:v{version}", {"id": target, "alternates": new})
                    return redirect(url_for("admin.faq_version", version=version))
    # Suggestions: what the bot itself ranks highest for these questions (the same ranking).
    published = runtime().faq.current()
    scores: dict[str, float] = {}
    for phrase in phrases[:5]:
        for hit in published.rank(phrase, k=5).hits:
            scores[hit.entry.id] = max(scores.get(hit.entry.id, 0.0), hit.score)
    suggestions = [by_id[i] for i, _ in sorted(scores.items(), key=lambda x: -x[1]) if i in by_id][:5]
    if not chosen and suggestions:
        chosen = suggestions[0]["id"]
    return render_template(
        "admin/faq_alternate.html",
        phrases=phrases,
        chosen=chosen,
        other=other,
        suggestions=suggestions,
        entries=sorted(entries, key=lambda e: e["id"]),
        errors=errors,
    ), 400 if errors else 200
