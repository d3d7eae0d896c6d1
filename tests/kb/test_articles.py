"""Knowledge-base articles read from Markdown files: defaults, versions, clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from inbox.errors import ArticleError
from inbox.kb.articles import parse_article, read_folder

ARTICLE = """---
team: accounts
tags: [password, sign-in]
questions:
  - I forgot my password
  - the reset link never arrives
---
# Resetting your password

Open the sign-in page and choose "Forgot password".
"""


def test_an_article_takes_its_id_from_the_file_and_its_title_from_the_heading() -> None:
    article = parse_article(ARTICLE, "Reset-Password.md")
    assert article.id == "reset-password"
    assert article.title == "Resetting your password"
    assert article.team == "accounts"
    assert article.language == "en"
    assert article.tags == ("password", "sign-in")
    assert article.questions == ("I forgot my password", "the reset link never arrives")
    assert article.body.startswith("# Resetting your password\n\nOpen the sign-in page")


def test_the_content_hash_changes_with_the_content_only() -> None:
    first = parse_article(ARTICLE, "reset-password.md")
    assert parse_article(ARTICLE, "reset-password.md").content_hash == first.content_hash
    edited = parse_article(ARTICLE.replace("Open", "Go to"), "reset-password.md")
    assert edited.content_hash != first.content_hash


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("---\nteam: [a\n---\n# T\nx", "a.md: the front matter is not valid YAML"),
        ("---\ncolour: red\n---\n# T\nx", "a.md: unknown front matter key(s): colour"),
        ("---\nid: Not An Id\n---\n# T\nx", "a.md: id 'Not An Id' must be lower-case"),
        ("no heading here", "a.md: no title"),
        ("---\ntitle: T\n---\n", "a.md: the article has no text"),
        ("---\nquestions: one\n---\n# T\nx", "a.md: 'questions' must be a list of texts"),
        ("---\nlanguage: english\n---\n# T\nx", "a.md: language 'english' must be a two-letter"),
        ("---\n- a\n---\n# T\nx", "a.md: the front matter must be a table of keys"),
    ],
)
def test_a_bad_article_is_a_clear_error(text: str, message: str) -> None:
    with pytest.raises(ArticleError) as caught:
        parse_article(text, "a.md")
    assert str(caught.value).startswith(message)


def test_yaml_cannot_build_objects() -> None:
    """safe_load: a front matter tag that would run code is an error, not a call."""
    with pytest.raises(ArticleError, match="not valid YAML"):
        parse_article("---\nid: !!python/object/apply:os.system ['true']\n---\n# T\nx", "a.md")


def test_a_folder_is_read_in_id_order_and_a_repeated_id_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "b.md").write_text("# B\nbee")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "a.md").write_text("# A\nay")
    assert [a.id for a in read_folder(tmp_path)] == ["a", "b"]
    (tmp_path / "c.md").write_text("---\nid: a\n---\n# C\nsee")
    with pytest.raises(ArticleError, match=r"sub/a\.md: id 'a' is also c\.md"):
        read_folder(tmp_path)
