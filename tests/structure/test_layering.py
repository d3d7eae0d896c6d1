"""The layering rules of DESIGN.md, read from the source (every import, at any depth).

Each module has a layer; a module imports only from its own layer or the ones below it.
So channels and classifiers never reach the store, the pipeline, the web app, the service
or the CLI; and, as a rule of its own, the store never reaches the channels."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.support.paths import ROOT

# Lowest first. A module's layer is its longest matching prefix; other ``inbox.*`` modules
# at the top level are the shared vocabulary (errors, models, text, signing, ...).
LAYERS: tuple[tuple[str, ...], ...] = (
    ("inbox", "inbox.pages"),
    ("classifiers",),
    # SLA policies and the business-hours calendar are settings and pure arithmetic:
    # the config reads them and the store's SLA clocks compute with them.
    # Knowledge-base articles as files are plain data, like the settings.
    ("inbox.config", "inbox.kb", "inbox.sla.business_hours", "inbox.sla.policy"),
    ("inbox.queue",),
    ("connectors",),
    ("inbox.store", "inbox.migrations"),
    ("inbox.sla",),
    ("inbox.pipeline",),
    ("inbox.web",),
    ("inbox.service",),
    ("inbox.cli",),
)
# Rules besides the order: the store never reaches the channels.
NEVER = {"inbox.store": ("connectors",)}


def _within(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def layer_of(module: str) -> tuple[int, str] | None:
    """(rank, prefix) of the layer ``module`` belongs to; None for a third-party module."""
    matches = [
        (len(prefix), rank, prefix)
        for rank, prefixes in enumerate(LAYERS)
        for prefix in prefixes
        if _within(module, prefix)
    ]
    if not matches:
        return None
    _, rank, prefix = max(matches)
    return rank, prefix


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> list[str]:
    """Every module ``path`` imports, top level or inside functions (``from a import b``
    counts as ``a``: ``b`` is a name in it or a submodule of the same package)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return sorted(found)


def wrong_imports(module: str, imported: list[str]) -> list[str]:
    """The imports of ``module`` that point up the layers or break a rule of NEVER."""
    own = layer_of(module)
    assert own is not None, module
    wrong = []
    for name in imported:
        theirs = layer_of(name)
        banned = any(
            _within(name, b) for key, bans in NEVER.items() for b in bans if _within(module, key)
        )
        if banned or (theirs is not None and theirs[0] > own[0]):
            wrong.append(name)
    return wrong


def _sources() -> list[Path]:
    return sorted(
        p
        for package in ("inbox", "connectors", "classifiers")
        for p in (ROOT / package).rglob("*.py")
        if "versions" not in p.parts
    )


@pytest.mark.parametrize("path", _sources(), ids=lambda p: str(p.relative_to(ROOT)))
def test_imports_point_down(path: Path) -> None:
    module = _module_name(path)
    wrong = wrong_imports(module, _imports(path))
    assert wrong == [], f"{module} (layer {layer_of(module)}) imports {wrong}"


def test_a_violation_is_caught_even_inside_a_function(tmp_path: Path) -> None:
    """The check itself can fail: a channel importing the store, hidden in a function."""
    source = tmp_path / "sneaky.py"
    source.write_text(
        "import json\n"
        "from inbox.models import Envelope\n"
        "def f():\n    from inbox.store.tables import messages\n    return messages\n"
    )
    assert wrong_imports("connectors.sneaky", _imports(source)) == ["inbox.store.tables"]
    assert wrong_imports("inbox.store.sneaky", ["connectors.base"]) == ["connectors.base"]
    assert wrong_imports("inbox.cli.sneaky", _imports(source)) == []
