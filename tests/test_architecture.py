"""The import graph reads one way: nlp, excelcsv ← faq; store, common ← features ← bot ← admin, commands ← webhook.

Every module is parsed with `ast`, imports placed inside functions included (an import moved into a
function to dodge a cycle is still a dependency). A package may import packages of lower layers;
within a layer only the pairs listed in SIDEWAYS, each with the reason.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FEATURES = ("shelters", "alerts", "reports", "garbage", "surveys", "opinions", "richmenu", "outbox")
LAYERS: dict[str, int] = {
    "wardtime": 0,
    "nlp": 0,
    "excelcsv": 0,
    "store": 1,
    "faq": 1,
    "common": 2,
    **dict.fromkeys(FEATURES, 3),
    "bot": 4,
    "admin": 5,
    "commands": 5,
    "webhook": 6,
}
# Imports within one layer, each with why it is not a lower-layer concern.
SIDEWAYS: dict[tuple[str, str], str] = {
    ("alerts", "shelters"): "an evacuation alert lists the open shelters of each resident's area",
}
# Tools around the product: they may use the product, never the tests.
TOOLS = ("bench", "devtools", "scripts", "eval", "linesim")
APP_PACKAGES = set(LAYERS)


def _modules(top: str) -> list[Path]:
    path = ROOT / top
    if path.is_dir():
        return sorted(p for p in path.rglob("*.py") if ".venv" not in p.parts)
    return [ROOT / f"{top}.py"] if (ROOT / f"{top}.py").exists() else []


def imported_tops(path: Path) -> set[str]:
    """Top-level names this module imports, anywhere in it (relative imports stay in the package)."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            out |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            out.add(node.module.split(".")[0])
    return out


def graph() -> dict[str, dict[str, list[str]]]:
    """package → imported package → the modules that import it."""
    out: dict[str, dict[str, list[str]]] = {}
    for top in LAYERS:
        deps: dict[str, list[str]] = {}
        for path in _modules(top):
            for dep in imported_tops(path) & APP_PACKAGES - {top}:
                deps.setdefault(dep, []).append(str(path.relative_to(ROOT)))
        out[top] = deps
    return out


def test_every_package_has_a_layer():
    """A new top-level package must say where it sits (add it to LAYERS, or TOOLS)."""
    tops = {p.name for p in ROOT.iterdir() if (p / "__init__.py").exists()}
    tops |= {p.stem for p in ROOT.glob("*.py")}
    assert tops - APP_PACKAGES - set(TOOLS) - {"tests"} == set()


def test_imports_point_down_the_layers():
    wrong = []
    for top, deps in graph().items():
        for dep, where in deps.items():
            upward = LAYERS[dep] > LAYERS[top]
            sideways = LAYERS[dep] == LAYERS[top] and (top, dep) not in SIDEWAYS
            if upward or sideways:
                wrong.append(f"{top} → {dep} ({', '.join(sorted(where))})")
    assert wrong == []


def test_no_cycle_between_packages():
    deps = {top: set(d) for top, d in graph().items()}
    cycles = []

    def visit(node: str, path: list[str]) -> None:
        for dep in sorted(deps.get(node, ())):
            if dep == path[0]:
                cycles.append(" → ".join([*path, dep]))
            elif dep not in path and len(path) < len(deps):
                visit(dep, [*path, dep])

    for top in deps:
        visit(top, [top])
    assert cycles == []


@pytest.mark.parametrize("tool", TOOLS)
def test_tools_do_not_import_the_tests(tool):
    offenders = [str(p.relative_to(ROOT)) for p in _modules(tool) if "tests" in imported_tops(p)]
    assert offenders == []


def test_linesim_is_independent_of_the_bot():
    """The emulator stands in for LINE: it knows nothing of the bot it talks to."""
    offenders = [str(p.relative_to(ROOT)) for p in _modules("linesim") if imported_tops(p) & APP_PACKAGES]
    assert offenders == []


def test_the_checker_sees_imports_inside_functions(tmp_path):
    module = tmp_path / "m.py"
    module.write_text("import os\n\ndef f():\n    from bot.context import x\n    import alerts.service\n")
    assert imported_tops(module) == {"os", "bot", "alerts"}


# Where the app keeps its per-process services is known to one module; everything else asks
# the typed accessors (common.runtime.services, bot.runtime.runtime).
RUNTIME_ACCESSOR = "common/runtime.py"
_EXTENSION_LOOKUP = re.compile(r"""extensions\s*(\[|\.get\(|\.setdefault\()\s*["']madoguchi["']""")


def extension_lookups(path: Path) -> list[int]:
    """Line numbers where the module looks the services up on the app by their key."""
    text = path.read_text(encoding="utf-8")
    return [text.count("\n", 0, m.start()) + 1 for m in _EXTENSION_LOOKUP.finditer(text)]


def test_the_runtime_is_reached_only_through_its_accessors():
    offenders = []
    for path in sorted(ROOT.rglob("*.py")):
        rel = path.relative_to(ROOT)
        if ".venv" in rel.parts or rel.as_posix() == RUNTIME_ACCESSOR:
            continue
        offenders += [f"{rel}:{line}" for line in extension_lookups(path)]
    assert offenders == []


def test_the_runtime_check_sees_every_spelling(tmp_path):
    key = "'madoguchi'"  # spelled apart so that this file itself passes the check
    module = tmp_path / "m.py"
    module.write_text(f"a = app.extensions[{key}]\nb = current_app.extensions.get({key})\nc = app.extensions['x']\n")
    assert extension_lookups(module) == [1, 2]


# Settings are read once, by the app factory, and passed in. Two modules touch the environment
# for process setup, not for settings.
ENVIRONMENT_READERS = {
    "webhook.py": "the app factory reads every setting",
    "faq/semantic.py": "sets OpenMP's variables around loading the engine, then restores them",
    "store/pg.py": "gives PostgreSQL sessions the process's TZ",
}
_ENVIRONMENT = re.compile(r"\bos\.(environ|getenv)\b")


def test_only_the_app_factory_reads_settings_from_the_environment():
    offenders = []
    for top in LAYERS:
        for path in _modules(top):
            rel = path.relative_to(ROOT).as_posix()
            if rel not in ENVIRONMENT_READERS and _ENVIRONMENT.search(path.read_text(encoding="utf-8")):
                offenders.append(rel)
    assert offenders == []
