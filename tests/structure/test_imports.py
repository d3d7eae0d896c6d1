"""No import cycles: every module of the project imports alone, in a fresh interpreter.

Within one test run a cycle hides, because whichever module of the cycle was imported
first decides the order; alone, each module shows whether it can be the first."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("inbox", "connectors", "classifiers")
# Scripts that Alembic runs inside a migration, not modules to import.
NOT_MODULES = ("inbox.migrations.versions", "inbox.migrations.env")
WORKERS = 2  # the cores are shared
IMPORT_TIMEOUT = 120.0


@dataclass(frozen=True)
class FailedImport:
    """A module that did not import alone, and what the interpreter said."""

    module: str
    stderr: str


def modules_of(root: Path, packages: Sequence[str]) -> list[str]:
    """The dotted names of the modules of ``packages`` under ``root``, except the scripts
    of NOT_MODULES and ``__main__`` modules (they run a command when imported)."""
    found = []
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            parts = path.relative_to(root).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            skipped = any(name == n or name.startswith(n + ".") for n in NOT_MODULES)
            if not skipped and parts[-1] != "__main__":
                found.append(name)
    return found


def failed_imports(root: Path, modules: Sequence[str]) -> list[FailedImport]:
    """The modules that fail ``import <module>`` alone in a fresh interpreter started in
    ``root`` (first on its path), WORKERS at a time."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}

    def check(module: str) -> FailedImport | None:
        result = subprocess.run(
            [sys.executable, "-c", f"import {module}"],
            cwd=root,
            env=env,
            capture_output=True,
            text=True,
            timeout=IMPORT_TIMEOUT,
            check=False,
        )
        return None if result.returncode == 0 else FailedImport(module, result.stderr.strip())

    with ThreadPoolExecutor(WORKERS) as pool:
        return [failed for failed in pool.map(check, modules) if failed is not None]


def _report(failures: list[FailedImport]) -> str:
    return "\n\n".join(f"{f.module} does not import alone:\n{f.stderr}" for f in failures)


def test_every_module_imports_alone() -> None:
    modules = modules_of(ROOT, PACKAGES)
    assert len(modules) > 100, modules  # the walk found the project
    started = time.monotonic()
    failures = failed_imports(ROOT, modules)
    print(f"{len(modules)} modules imported alone in {time.monotonic() - started:.1f} s")
    assert not failures, _report(failures)


def test_a_cycle_is_reported_with_the_modules_and_the_error(tmp_path: Path) -> None:
    package = tmp_path / "cyclic"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "first.py").write_text("from cyclic.second import SECOND\n\nFIRST = 1\n")
    (package / "second.py").write_text("from cyclic.first import FIRST\n\nSECOND = 2\n")
    (package / "alone.py").write_text("ALONE = 3\n")
    modules = modules_of(tmp_path, ["cyclic"])
    assert modules == ["cyclic", "cyclic.alone", "cyclic.first", "cyclic.second"]
    failures = failed_imports(tmp_path, modules)
    assert [f.module for f in failures] == ["cyclic.first", "cyclic.second"]
    for failure in failures:
        assert "circular import" in failure.stderr, failure.stderr
    report = _report(failures)
    assert "cyclic.first does not import alone:" in report
    assert "ImportError: cannot import name" in report
