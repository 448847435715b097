"""`flask --app webhook faq …`: validate, publish, evaluate and query the FAQ."""

from __future__ import annotations

import json
from pathlib import Path

import click
from flask.cli import AppGroup

import wardtime
from bot.runtime import runtime
from commands.actors import actor
from faq.csvio import FaqCsvInvalid, parse_faq_csv
from faq.diff import faq_diff
from faq.eval import evaluate, load_kosodate_json, read_queries
from faq.index import FaqIndex
from faq.model import FaqEntry
from faq.semantic import EmbeddingCache, SemanticUnavailable
from store import audit
from store import core as core_store

faq_cli = AppGroup("faq", help="Validate, publish, evaluate and query the FAQ.")


def _published_entries() -> list[FaqEntry]:
    db = runtime().store.db
    version = core_store.published_faq_version(db)
    return [FaqEntry.from_dict(e) for e in core_store.faq_version_entries(db, version)] if version else []


def _load_or_fail(path: Path, compare: bool = True):
    """Entries of an FAQ file; every error printed and a ClickException when it is refused.

    ``compare``: check translations against the published FAQ (a CP932 re-save that lost them).
    """
    try:
        if path.suffix.lower() == ".json":
            return load_kosodate_json(path)
        return parse_faq_csv(path.read_bytes(), published=_published_entries() if compare else ())
    except FaqCsvInvalid as exc:
        click.echo("(line = the row number Excel shows, the header being row 1; column = the header name)", err=True)
        for err in exc.errors:
            click.echo(str(err), err=True)
        raise click.ClickException(f"{path.name}: {len(exc.errors)} error(s); nothing was changed") from exc
    except OSError as exc:
        raise click.ClickException(f"cannot read {path}: {exc.strerror}") from exc


@faq_cli.command("validate")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
def validate_cmd(file: Path) -> None:
    """Check an FAQ CSV and list every error as `line N, column C: reason`.

    Example: flask --app webhook faq validate faq/data/sample_faq.csv
    """
    entries = _load_or_fail(file)
    click.echo(f"OK: {len(entries)} entries")


@faq_cli.command("publish")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--by", "by", default="cli", show_default=True, help="Who publishes (kept with the version).")
def publish_cmd(file: Path, by: str) -> None:
    """Validate an FAQ CSV and publish it as a new version (running workers swap it in).

    Example: flask --app webhook faq publish faq/data/sample_faq.csv --by tanaka
    """
    by = actor(by, "faq.publish")
    entries = _load_or_fail(file)
    FaqIndex.build(entries)  # an FAQ that cannot be indexed is not published
    version = core_store.create_faq_version(
        runtime().store.db, [e.to_dict() for e in entries], created_by=by, source_name=file.name, publish=True
    )
    click.echo(f"published version {version} ({len(entries)} entries)")


@faq_cli.command("eval")
@click.argument("queries", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--faq",
    "faq_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Evaluate this FAQ file (CSV, or the kosodate JSON) instead of the published one; the database is not touched.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the metrics as one JSON object.")
@click.option(
    "--failures", type=click.Path(dir_okay=False, path_type=Path), help="Write per-query failures to this file."
)
@click.option("--lexical", is_flag=True, help="Without the semantic stage (embeddings).")
def eval_cmd(queries: Path, faq_file: Path | None, as_json: bool, failures: Path | None, lexical: bool) -> None:
    """Measure hit@1/3/5, MRR, answer accuracy and fallback accuracy on a query CSV.

    Example: flask --app webhook faq eval eval/ward_queries_test.csv --faq faq/data/sample_faq.csv --json
    """
    if faq_file is not None:
        # The same synonyms as the running bot (config SYNONYMS_CSV): measure what residents get.
        faq_runtime = runtime().faq
        index = FaqIndex.build(_load_or_fail(faq_file, compare=False), synonyms=faq_runtime.synonyms())
        if not lexical and faq_runtime.semantic:
            # Same embedding cache as the bot (instance/embeddings): only new texts are embedded.
            try:
                index.build_semantic(EmbeddingCache(faq_runtime.embeddings_dir))
            except SemanticUnavailable as exc:
                click.echo(f"semantic stage unavailable ({exc}); lexical only", err=True)
    else:
        faq_runtime = runtime().faq
        index = faq_runtime.current().index
        if not lexical:
            faq_runtime.wait_semantic()
        elif index.semantic is not None:
            raise click.ClickException(
                "--lexical needs --faq FILE (the published index already has its semantic stage)"
            )
    result = evaluate(index, read_queries(queries))
    if failures is not None:
        result.write_failures(failures)
    if as_json:
        click.echo(json.dumps(result.metrics, ensure_ascii=False))
        return
    for key, value in result.metrics.items():
        click.echo(f"{key:20} {value:.3f}" if isinstance(value, float) else f"{key:20} {value}")


@faq_cli.command("ask")
@click.argument("question")
@click.option("-k", default=5, show_default=True, help="How many candidates to show.")
@click.option("--lang", default=None, help="The language the question is written in (default: detected).")
def ask_cmd(question: str, k: int, lang: str | None) -> None:
    """Show the ranked candidates, their scores and the reply the bot would choose.

    The ranking is the live bot's own (Published.rank), semantic stage included: the
    command waits for the embeddings of the published FAQ first.

    Example: flask --app webhook faq ask "粗大ごみを出したい"
    """
    faq_runtime = runtime().faq
    published = faq_runtime.current()
    if faq_runtime.semantic and not faq_runtime.wait_semantic(timeout=600):
        click.echo("(the semantic stage is still being built; lexical scores only)", err=True)
    ranking = published.rank(question, k=k, lang=lang)
    stage = "semantic+lexical" if published.index.semantic is not None else "lexical only"
    click.echo(
        f"FAQ version {published.version} ({stage}, language {ranking.lang}): decision = {ranking.decision.kind}"
    )
    for rank, hit in enumerate(ranking.hits, start=1):
        click.echo(f"{rank}. {hit.score:.3f}  {hit.entry.id}  {hit.entry.question}")


@faq_cli.command("versions")
def versions_cmd() -> None:
    """List FAQ versions (the published one is marked with *).

    Example: flask --app webhook faq versions
    """
    db = runtime().store.db
    current = core_store.published_faq_version(db)
    for v in core_store.list_faq_versions(db):
        mark = "*" if v.version == current else " "
        when = wardtime.format_time(v.created_at)
        click.echo(f"{mark} v{v.version}  {when}  {v.n_entries:5d} entries  {v.source_name}  by {v.created_by}")


@faq_cli.command("rollback")
@click.argument("version", type=int)
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.option("--by", "by", default="cli", show_default=True, help="Who rolls back (kept in the audit log).")
def rollback_cmd(version: int, yes: bool, by: str) -> None:
    """Publish an earlier version again, after showing what changes and asking.

    Example: flask --app webhook faq rollback 3
    """
    by = actor(by, "faq.publish")  # a rollback publishes: the same people may do it
    db = runtime().store.db
    current = core_store.published_faq_version(db)
    try:
        target = core_store.faq_version_entries(db, version)
    except LookupError as exc:
        raise click.ClickException(str(exc)) from exc
    if version == current:
        click.echo(f"version {version} is already published")
        return
    diff = faq_diff(core_store.faq_version_entries(db, current) if current else [], target)
    click.echo(f"v{current} -> v{version}:")
    for label, items in (("added", diff["added"]), ("changed", diff["changed"]), ("removed", diff["removed"])):
        ids = ", ".join(e["id"] for e in items[:20]) + (" …" if len(items) > 20 else "")
        click.echo(f"  {label:8} {len(items):4d}  {ids}")
    if not yes:
        click.confirm(f"Publish version {version} again?", abort=True)
    core_store.publish_faq_version(db, version)
    audit.record(db, by, "faq.rollback", f"faq:v{version}", {"previous": current})
    click.echo(f"published version {version}")


COMMANDS = [faq_cli]
