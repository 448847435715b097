"""One table per vocabulary (store/vocab.py): complete for every audience, and the only place its codes are spelt.

The literal check parses product code with `ast` and fails where a state code is written as a
string instead of its constant: compared with a row's `status` / `state` / `msg_type` / `kind` /
`template`, passed as `status=` / `state=` / `expect_state=` / `msg_type=`, or used as the keys of
a dict literal that maps one vocabulary's codes (a label or colour table defined again). SQL text in
store/ is a string, not a comparison, so it keeps its codes.
"""

from __future__ import annotations

import ast
import importlib

import pytest

from common.i18n import CATALOG, LANGUAGE_NAMES, LANGUAGE_NAMES_JA, LANGUAGES, t
from store import vocab
from store.vocab import SHELTER_STATUS, ShelterStatus
from tests.test_architecture import LAYERS, ROOT, _modules

VOCABS = sorted(vocab.ALL.items())
FIELDS = {"status", "state", "previous_status", "msg_type", "kind", "template"}
KEYWORDS = {"status", "state", "expect_state", "new_status", "msg_type"}
# Codes that are also ordinary words in these positions: a LINE message's `"type": "text"` is not a
# question kind. Each vocabulary's codes are still checked in the positions named above.
IGNORED_CODES: set[str] = set()


def _codes() -> dict[str, set[str]]:
    return {name: {c.value for c in v.codes} for name, v in vocab.ALL.items()}


@pytest.mark.parametrize(("name", "table"), VOCABS, ids=[n for n, _ in VOCABS])
def test_every_code_has_a_word_for_every_audience(name, table):
    assert set(table.staff) == set(table.codes), f"{name}: staff words and codes differ"
    assert all(isinstance(word, str) for word in table.staff.values())
    # Only an ordinary alert carries no mark of its own (its headline says what it is).
    blank = {c for c, word in table.staff.items() if not word.strip()}
    assert blank <= {vocab.AlertKind.ALERT}, f"{name}: no staff word for {sorted(blank)}"
    if table.residents is not None:
        for code in table.codes:
            key = table.resident_key(code)
            missing = [lang for lang in LANGUAGES if key not in CATALOG[lang]]
            assert not missing, f"{name}: catalog key {key} missing in {missing}"


@pytest.mark.parametrize(("name", "table"), VOCABS, ids=[n for n, _ in VOCABS])
def test_registers_are_explained_where_the_audiences_read_different_words(name, table):
    if table.residents is None:
        return
    differ = [c for c in table.codes if t(table.resident_key(c), "ja") != table.staff[c]]
    assert bool(differ) == bool(table.registers), (
        f"{name}: staff and residents read different words for {differ}: say why in `registers`"
        if differ
        else f"{name}: `registers` explains a difference that no longer exists"
    )


def test_every_language_has_a_name_for_residents_and_for_staff():
    """Residents pick from names in each language itself; staff read Japanese names."""
    assert list(LANGUAGE_NAMES) == list(LANGUAGES) == list(LANGUAGE_NAMES_JA)
    assert LANGUAGE_NAMES["ko"] == "한국어" and LANGUAGE_NAMES_JA["ko"] == "韓国語"


def test_codes_are_the_stored_strings():
    """Members are their strings: rows, JSON and CSV keep the values they had (no migration)."""
    assert ShelterStatus("full") is ShelterStatus.FULL
    assert {ShelterStatus.OPEN: 1}["open"] == 1
    assert f"{ShelterStatus.CLOSED}" == "closed"
    assert SHELTER_STATUS.label("closed") == "閉鎖"
    assert SHELTER_STATUS.label("legacy") == "legacy"  # an unknown code is shown, never hidden
    assert list(SHELTER_STATUS.labels()) == ["open", "crowded", "full", "closed"]


def test_shelter_status_words():
    """Staff open and close (開設・閉鎖) a shelter; residents read 未開設 for one that is not open."""
    assert SHELTER_STATUS.labels() == {"open": "開設", "crowded": "混雑", "full": "満員", "closed": "閉鎖"}
    assert [t(SHELTER_STATUS.resident_key(c), "ja") for c in ShelterStatus] == ["開設", "混雑", "満員", "未開設"]


def _is_field(node: ast.AST) -> bool:
    if isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant):
        return node.slice.value in FIELDS
    if isinstance(node, ast.Attribute):
        return node.attr in FIELDS
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "get":
        return bool(node.args) and isinstance(node.args[0], ast.Constant) and node.args[0].value in FIELDS
    return isinstance(node, ast.Name) and node.id in FIELDS


def _strings(node: ast.AST) -> list[str]:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.Tuple | ast.List | ast.Set):
        return [s for elt in node.elts for s in _strings(elt)]
    return []


def literals(tree: ast.AST) -> list[tuple[int, str]]:
    """(line, code) for each state code spelt as a string in a position where a constant belongs."""
    every = set().union(*_codes().values()) - IGNORED_CODES
    out: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare):
            sides = [node.left, *node.comparators]
            if any(_is_field(s) for s in sides):
                out += [(node.lineno, s) for side in sides for s in _strings(side) if s in every]
        elif isinstance(node, ast.keyword) and node.arg in KEYWORDS:
            out += [(node.value.lineno, s) for s in _strings(node.value) if s in every]
        elif isinstance(node, ast.arg) and node.arg in KEYWORDS:
            pass  # defaults are checked through their FunctionDef below
        elif isinstance(node, ast.FunctionDef):
            args = node.args.args[-len(node.args.defaults) :] if node.args.defaults else []
            pairs = [
                *zip(args, node.args.defaults, strict=True),
                *zip(node.args.kwonlyargs, node.args.kw_defaults, strict=True),
            ]
            out += [
                (d.lineno, s)
                for a, d in pairs
                if d is not None and a.arg in KEYWORDS
                for s in _strings(d)
                if s in every
            ]
        elif isinstance(node, ast.Dict) and len(node.keys) >= 2:
            keys = [k.value for k in node.keys if isinstance(k, ast.Constant) and isinstance(k.value, str)]
            if len(keys) == len(node.keys) and any(set(keys) <= codes for codes in _codes().values()):
                out += [(node.lineno, "{" + ", ".join(keys) + "}")]
    return out


def test_the_literal_check_finds_what_it_should():
    src = """
if row["status"] == "open": pass
if alert.state in ("draft", "approved"): pass
store.update(db, 1, state="withdrawn")
LABELS = {"received": "受付", "done": "完了"}
def create(status: str = "actual"): pass
msg = {"type": "text", "text": "open"}
if part == "open": pass
"""
    found = sorted(literals(ast.parse(src)))
    assert found == [
        (2, "open"),
        (3, "approved"),
        (3, "draft"),
        (4, "withdrawn"),
        (5, "{received, done}"),
        (6, "actual"),
    ]


def test_no_state_literal_outside_its_table():
    found = []
    for top in LAYERS:
        for path in _modules(top):
            if path == ROOT / "store" / "vocab.py":
                continue
            for line, code in literals(ast.parse(path.read_text(encoding="utf-8"))):
                found.append(f"{path.relative_to(ROOT)}:{line}: {code}")
    assert found == [], "use the constants of store/vocab.py:\n" + "\n".join(found)


def test_no_module_constant_read_that_no_longer_exists():
    """The per-module tables (KINDS, STATUS_LABELS, …) moved here: a `module.NAME` left behind is a
    500 at run time that no linter sees (one was: the console's survey form)."""
    missing = []
    for top in LAYERS:
        for path in _modules(top):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            modules: dict[str, object] = {}
            for node in ast.walk(tree):
                if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                    for alias in node.names:
                        try:
                            modules[alias.asname or alias.name] = importlib.import_module(f"{node.module}.{alias.name}")
                        except ImportError:
                            pass  # a name, not a module
                elif isinstance(node, ast.Import):
                    for alias in node.names:
                        if alias.asname:
                            modules[alias.asname] = importlib.import_module(alias.name)
            for node in ast.walk(tree):
                if (
                    isinstance(node, ast.Attribute)
                    and isinstance(node.value, ast.Name)
                    and node.value.id in modules
                    and node.attr.isupper()
                    and not hasattr(modules[node.value.id], node.attr)
                ):
                    missing.append(f"{path.relative_to(ROOT)}:{node.lineno}: {node.value.id}.{node.attr}")
    assert missing == []
