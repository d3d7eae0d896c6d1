"""``inbox kb import PATH``: idempotent, an edit is a new version, a bad article imports
nothing; and the service imports ``[kb] path`` at start without being stopped by one."""

from __future__ import annotations

import argparse
import logging
import shutil
from pathlib import Path

import pytest

from inbox.cli.kb_import import add_import_parser
from inbox.config.settings import Settings
from inbox.service.app import InboxService
from tests.support.config import make_settings
from tests.support.paths import ROOT
from tests.support.store import store_of

EXAMPLES = ROOT / "inbox" / "kb" / "examples"
SHIPPED = len(list(EXAMPLES.glob("*.md")))


def _kb_import(settings: Settings, *words: str) -> int:
    """``inbox kb import WORDS`` through a parser of its own (the ``kb`` family's is wired
    in elsewhere)."""
    parser = argparse.ArgumentParser(prog="inbox")
    kb = parser.add_subparsers(dest="command", required=True).add_parser("kb")
    add_import_parser(kb.add_subparsers(dest="kb_cmd", required=True))
    args = parser.parse_args(["kb", "import", *words])
    code: int = args.func_settings(settings, args)
    return code


def _copy_of_examples(tmp_path: Path) -> Path:
    folder = tmp_path / "articles"
    shutil.copytree(EXAMPLES, folder)
    return folder


def test_an_import_twice_changes_nothing_the_second_time(
    settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = _copy_of_examples(tmp_path)
    assert _kb_import(settings, str(folder)) == 0
    assert (
        capsys.readouterr().out
        == f"kb: {SHIPPED} articles: {SHIPPED} new, 0 updated, 0 unchanged\n"
    )
    assert _kb_import(settings, str(folder)) == 0
    assert (
        capsys.readouterr().out
        == f"kb: {SHIPPED} articles: 0 new, 0 updated, {SHIPPED} unchanged\n"
    )
    hours = folder / "opening-hours.md"
    hours.write_text(hours.read_text().replace("8:00 to 18:00", "8:00 to 20:00"))
    assert _kb_import(settings, str(folder)) == 0
    assert capsys.readouterr().out == (
        f"kb: {SHIPPED} articles: 0 new, 1 updated, {SHIPPED - 1} unchanged\n"
    )
    store = store_of(settings)
    assert store.rows(
        "SELECT version, created_by FROM kb_article_versions WHERE article_id = ? ORDER BY version",
        "opening-hours",
    ) == [(1, "import"), (2, "import")]


def test_a_bad_article_imports_nothing(
    settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = _copy_of_examples(tmp_path)
    (folder / "broken.md").write_text("---\ntitle: [unclosed\n---\nSome text.\n")
    assert _kb_import(settings, str(folder)) == 2
    err = capsys.readouterr().err
    assert "nothing imported" in err and "broken.md" in err and "not valid YAML" in err
    assert store_of(settings).count("SELECT count(*) FROM kb_articles") == 0


def test_without_a_path_the_configured_folder_is_imported(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _kb_import(make_settings(tmp_path)) == 0
    assert f"{SHIPPED} new" in capsys.readouterr().out
    unset = make_settings(tmp_path / "other", kb={"path": ""})
    assert _kb_import(unset) == 2
    assert "no PATH given" in capsys.readouterr().err


async def test_the_service_imports_its_folder_at_start_and_a_bad_one_does_not_stop_it(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    folder = _copy_of_examples(tmp_path)
    settings = make_settings(tmp_path, kb={"path": str(folder)})
    store = store_of(settings)
    caplog.set_level(logging.INFO, logger="inbox.service.app")
    for roles in (["sla"], ["sla"]):  # a second start (or process) finds nothing to do
        service = InboxService(settings, roles=roles)
        await service.start()
        await service.stop()
    assert store.count("SELECT count(*) FROM kb_article_versions") == SHIPPED
    assert f"0 new, 0 updated, {SHIPPED} unchanged" in caplog.text
    (folder / "broken.md").write_text("no title, no heading\n")
    (folder / "refunds.md").write_text("# Refunds\n\nChanged, but not imported.\n")
    service = InboxService(settings, roles=["sla"])
    await service.start()  # starts all the same, on the articles stored before
    await service.stop()
    assert "kb: nothing imported from" in caplog.text and "broken.md: no title" in caplog.text
    assert store.count("SELECT count(*) FROM kb_article_versions") == SHIPPED
