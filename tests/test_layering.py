"""The layering rules of DESIGN.md, read from the source (every import, at any depth):
channels and classifiers never reach the store, the pipeline, the web app, the service
or the CLI; the store never reaches the channels or the web app."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# What a module of each layer may not import (module name prefixes).
PIPELINE_AND_ABOVE = (
    "inbox.store",
    "inbox.ingest",
    "inbox.commands",
    "inbox.worker",
    "inbox.worker_pool",
    "inbox.outbox",
    "inbox.form_confirmation",
    "inbox.app",
    "inbox.web",
    "inbox.web_auth",
    "inbox.agent_api",
    "inbox.desk_pages",
    "inbox.supervisor_pages",
    "inbox.live",
    "inbox.cli",
)
FORBIDDEN = {
    "connectors": PIPELINE_AND_ABOVE,
    "classifiers": (*PIPELINE_AND_ABOVE, "connectors"),
    "inbox.store": (
        "connectors",
        "inbox.app",
        "inbox.web",
        "inbox.web_auth",
        "inbox.agent_api",
        "inbox.desk_pages",
        "inbox.supervisor_pages",
        "inbox.live",
        "inbox.cli",
    ),
}


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """Every module ``path`` imports, top level or inside functions."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def _within(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def _sources() -> list[Path]:
    return sorted(
        p
        for package in ("connectors", "classifiers", "inbox/store")
        for p in (ROOT / package).rglob("*.py")
    )


@pytest.mark.parametrize("path", _sources(), ids=lambda p: str(p.relative_to(ROOT)))
def test_imports_point_down(path: Path) -> None:
    module = _module_name(path)
    layer = next(layer for layer in FORBIDDEN if _within(module, layer))
    wrong = sorted(
        name for name in _imports(path) for banned in FORBIDDEN[layer] if _within(name, banned)
    )
    assert wrong == [], f"{module} ({layer}) imports {wrong}"


def test_a_violation_is_caught_even_inside_a_function(tmp_path: Path) -> None:
    """The check itself can fail: a channel importing the store, hidden in a function."""
    source = tmp_path / "sneaky.py"
    source.write_text(
        "def f():\n    from inbox.store.tables import messages\n    return messages\n"
    )
    caught = sorted(
        name
        for name in _imports(source)
        for banned in FORBIDDEN["connectors"]
        if _within(name, banned)
    )
    assert caught == ["inbox.store.tables", "inbox.store.tables.messages"]
