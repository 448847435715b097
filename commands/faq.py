"""`flask --app webhook faq …`: validate, publish, evaluate and query the FAQ."""

from __future__ import annotations

import json
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup

from faq.csvio import FaqCsvInvalid, load_faq_csv
from faq.decide import decide
from faq.eval import evaluate, load_kosodate_json, read_queries
from faq.index import FaqIndex
from faq.semantic import EmbeddingCache, SemanticUnavailable
from store import core as core_store

faq_cli = AppGroup("faq", help="Validate, publish, evaluate and query the FAQ.")


def _runtime():
    return current_app.extensions["madoguchi"]


def _load_or_fail(path: Path):
    try:
        if path.suffix.lower() == ".json":
            return load_kosodate_json(path)
        return load_faq_csv(path)
    except FaqCsvInvalid as exc:
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
    entries = _load_or_fail(file)
    FaqIndex.build(entries)  # an FAQ that cannot be indexed is not published
    version = core_store.create_faq_version(
        _runtime().store.db, [e.to_dict() for e in entries], created_by=by, source_name=file.name, publish=True
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
        faq_runtime = _runtime().faq
        index = FaqIndex.build(_load_or_fail(faq_file), synonyms=faq_runtime.synonyms())
        if not lexical and faq_runtime.semantic:
            # Same embedding cache as the bot (instance/embeddings): only new texts are embedded.
            try:
                index.build_semantic(EmbeddingCache(faq_runtime.embeddings_dir))
            except SemanticUnavailable as exc:
                click.echo(f"semantic stage unavailable ({exc}); lexical only", err=True)
    else:
        faq_runtime = _runtime().faq
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
def ask_cmd(question: str, k: int) -> None:
    """Show the ranked candidates, their scores and the reply the bot would choose.

    Example: flask --app webhook faq ask "粗大ごみを出したい"
    """
    published = _runtime().faq.current()
    hits = published.index.search(question, k=k)
    decision = decide(hits)
    click.echo(f"FAQ version {published.version}: decision = {decision.kind}")
    for rank, hit in enumerate(hits, start=1):
        click.echo(f"{rank}. {hit.score:.3f}  {hit.entry.id}  {hit.entry.question}")


@faq_cli.command("versions")
def versions_cmd() -> None:
    """List FAQ versions (the published one is marked with *).

    Example: flask --app webhook faq versions
    """
    db = _runtime().store.db
    current = core_store.published_faq_version(db)
    for v in core_store.list_faq_versions(db):
        mark = "*" if v.version == current else " "
        click.echo(f"{mark} v{v.version}  {v.n_entries:5d} entries  {v.source_name}  by {v.created_by}")


@faq_cli.command("rollback")
@click.argument("version", type=int)
def rollback_cmd(version: int) -> None:
    """Publish an earlier version again.

    Example: flask --app webhook faq rollback 3
    """
    try:
        core_store.publish_faq_version(_runtime().store.db, version)
    except LookupError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"published version {version}")


COMMANDS = [faq_cli]
