"""``inbox bench`` runs the service on a copy of the user's configuration elsewhere."""

from __future__ import annotations

import tomllib
from pathlib import Path

from inbox.cli.bench import bench_config


def test_the_benchmark_copy_still_finds_the_articles_beside_the_users_config(
    tmp_path: Path,
) -> None:
    home, scratch = tmp_path / "home", tmp_path / "scratch"
    (home / "articles").mkdir(parents=True)
    scratch.mkdir()
    (home / "config.toml").write_text('[kb]\npath = "articles"\n', encoding="utf-8")
    copy = tomllib.loads(bench_config(home / "config.toml", scratch).read_text())
    assert Path(copy["kb"]["path"]) == (home / "articles").resolve()
    assert copy["store"]["url"].endswith(f"{scratch}/inbox.db")
