"""Alert templates: the shape of each (event, severity, level, the fields an operator fills in) and
its words per language, read once from `templates.toml` — the file translators edit."""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from alerts.vocab import HAZARDS, INTENSITIES

TEMPLATES_TOML = Path(__file__).with_name("templates.toml")


@dataclass(frozen=True)
class Field:
    label: str
    required: bool = True
    choices: Mapping[str, str] | None = None  # accepted value → stored value


@dataclass(frozen=True)
class Template:
    name: str
    title: str
    event: str
    severity: str
    level: int | None
    texts: Mapping[str, tuple[str, str]]  # lang → (headline, body) format strings
    fields: Mapping[str, Field] = field(default_factory=dict)
    hazard: str | None = None  # fixed hazard; otherwise the `hazard` field
    status: str | None = None  # forced status (the drill template is never actual)


# Named choice lists a template field may use: a hazard is given by key or by its label (洪水).
CHOICES: dict[str, dict[str, str]] = {
    "hazard": {**{k: k for k in HAZARDS}, **{v: k for k, v in HAZARDS.items()}},
    "intensity": {i: i for i in INTENSITIES},
}


def _field(spec: Mapping[str, Any]) -> Field:
    choices = spec.get("choices")
    if isinstance(choices, str):
        choices = CHOICES[choices]
    elif choices is not None:
        choices = {c: c for c in choices}
    return Field(spec["label"], spec.get("required", True), choices)


def load_templates(path: Path = TEMPLATES_TOML) -> tuple[dict[str, Template], dict[str, dict[str, str]]]:
    """(templates by name, JMA intensity class names per language) from the TOML file."""
    with path.open("rb") as fh:
        data = tomllib.load(fh)
    templates = {
        name: Template(
            name,
            spec["title"],
            spec["event"],
            spec["severity"],
            spec.get("level"),
            {lang: (text["headline"], text["body"]) for lang, text in spec["texts"].items()},
            {key: _field(f) for key, f in spec.get("fields", {}).items()},
            hazard=spec.get("hazard"),
            status=spec.get("status"),
        )
        for name, spec in data["templates"].items()
    }
    return templates, data.get("intensity_names", {})


TEMPLATES, INTENSITY_NAMES = load_templates()
