"""FAQ: upload → validation report → diff → publish; history with rollback; CSV download; new entry."""

from __future__ import annotations

from typing import Any

from flask import Response, abort, current_app, flash, g, redirect, render_template, request, url_for

from admin import bp
from admin.guard import audit, db, roles
from faq.csvio import FaqCsvError, FaqCsvInvalid, dump_faq_csv, parse_faq_csv
from faq.index import FaqIndex
from faq.model import FaqEntry
from store import core as core_store

MAX_UPLOAD_BYTES = 5 * 1024 * 1024
FIELD_LABELS = {
    "question": "質問",
    "answer": "回答",
    "category": "分類",
    "alternates": "言い換え",
    "url": "URL",
    "contact": "問い合わせ先",
    "translations": "翻訳",
}


def faq_diff(old: list[dict[str, Any]], new: list[dict[str, Any]]) -> dict[str, list]:
    """Added / changed (with the changed fields) / removed entries between two versions."""
    old_by_id = {e["id"]: e for e in old}
    new_by_id = {e["id"]: e for e in new}
    added = [e for e in new if e["id"] not in old_by_id]
    removed = [e for e in old if e["id"] not in new_by_id]
    changed = []
    for e in new:
        before = old_by_id.get(e["id"])
        if before is None:
            continue
        fields = [
            {"name": f, "label": FIELD_LABELS[f], "old": _show(before.get(f)), "new": _show(e.get(f))}
            for f in FIELD_LABELS
            if _norm(before.get(f)) != _norm(e.get(f))
        ]
        if fields:
            changed.append({"id": e["id"], "question": e["question"], "fields": fields})
    return {"added": added, "changed": changed, "removed": removed}


def _norm(value: Any) -> Any:
    if value in (None, "", [], {}):
        return None
    return value


def _show(value: Any) -> str:
    if isinstance(value, list):
        return "\n".join(value)
    if isinstance(value, dict):
        return "\n".join(f"[{lang}] {f.get('question', '')} / {f.get('answer', '')}" for lang, f in value.items())
    return value or ""


def _published() -> tuple[int | None, list[dict[str, Any]]]:
    version = core_store.published_faq_version(db())
    if version is None:
        current_app.extensions["madoguchi"].faq.current()  # seeds the sample FAQ on a fresh database
        version = core_store.published_faq_version(db())
    return version, core_store.faq_version_entries(db(), version) if version else []


def _stage(entries: list[FaqEntry], source_name: str) -> int:
    """Store a validated FAQ as an unpublished version (refused if it cannot be indexed)."""
    FaqIndex.build(entries)
    return core_store.create_faq_version(
        db(), [e.to_dict() for e in entries], created_by=g.admin_user, source_name=source_name, publish=False
    )


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
    )


@bp.route("/faq/upload", methods=["POST"])
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
        errors = [FaqCsvError(1, "-", "file is larger than 5 MB")]
    else:
        try:
            entries = parse_faq_csv(data)
        except FaqCsvInvalid as exc:
            errors = exc.errors
    if errors:
        audit("faq.upload_rejected", name, {"errors": len(errors)})
        version, published = _published()
        return render_template("admin/faq_errors.html", filename=name, errors=errors, version=version), 422
    try:
        version = _stage(entries, name)
    except ValueError as exc:
        errors = [FaqCsvError(1, "-", f"cannot build the search index: {exc}")]
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
    flash(f"FAQ バージョン {version} を{label}しました。数秒で全サーバーに反映されます。")
    return redirect(url_for("admin.faq"))


@bp.route("/faq/versions/<int:version>/publish", methods=["POST"])
@roles("staff")
def faq_publish(version: int):
    return _publish(version, "faq.publish")


@bp.route("/faq/versions/<int:version>/rollback", methods=["POST"])
@roles("staff")
def faq_rollback(version: int):
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
            # Round-trip through the CSV validator so the console applies the same rules as uploads.
            all_entries = [FaqEntry.from_dict(e) for e in entries] + [entry]
            try:
                checked = parse_faq_csv(dump_faq_csv(all_entries))
            except FaqCsvInvalid as exc:
                errors += [f"{err.column}: {err.reason}" for err in exc.errors]
            else:
                version = _stage(checked, f"console:{entry.id}")
                audit("faq.draft_entry", f"faq:v{version}", {"id": entry.id})
                return redirect(url_for("admin.faq_version", version=version))
    existing = sorted({e.get("category", "") for e in entries if e.get("category")})
    return render_template("admin/faq_new.html", form=form, errors=errors, categories=existing), 400 if errors else 200
