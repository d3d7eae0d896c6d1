"""A knowledge-base article: a Markdown file with YAML front matter.

```
---
id: reset-password          # default: the file name without .md
title: Resetting a password # default: the first "# " heading
team: accounts              # optional: the team whose customers it answers
language: en                # optional: ISO 639-1; default "en"
tags: [password, sign-in]   # optional
questions:                  # optional: ways customers ask it
  - I forgot my password
---
# Resetting a password
...
```

Pure: no store, no model. The store keeps versions of what this reads; the answer
retrieval splits its body into passages.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from inbox.errors import ArticleError

ARTICLE_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,79}$")
LANGUAGE = re.compile(r"^[a-z]{2}$")
KEYS = frozenset({"id", "title", "team", "language", "tags", "questions"})
MAX_ARTICLE_BYTES = 200_000
_FRONT_MATTER = re.compile(r"\A---[ \t]*\r?\n(.*?)\r?\n---[ \t]*(?:\r?\n|\Z)", re.S)
_HEADING = re.compile(r"^#[ \t]+(.+?)[ \t#]*$", re.M)


@dataclass(frozen=True)
class Article:
    """One article as written: what it says and whom it is for."""

    id: str
    title: str
    body: str
    team: str | None = None
    language: str = "en"
    tags: tuple[str, ...] = ()
    questions: tuple[str, ...] = ()

    @property
    def content_hash(self) -> str:
        """Changes exactly when the article's content does (a new version is due)."""
        fields = [self.id, self.title, self.body, self.team, self.language]
        text = json.dumps([*fields, list(self.tags), list(self.questions)], ensure_ascii=False)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()


def parse_article(text: str, name: str) -> Article:
    """The article in ``text``; ``name`` (a file name) gives the default id and the
    errors' wording. Raises ArticleError naming the fault."""
    front, body = _split(text, name)
    unknown = sorted(set(front) - KEYS)
    if unknown:
        raise ArticleError(f"{name}: unknown front matter key(s): {', '.join(unknown)}")
    article_id = _text(front, "id", name) or Path(name).stem.lower()
    if not ARTICLE_ID.match(article_id):
        raise ArticleError(
            f"{name}: id '{article_id}' must be lower-case letters, digits, '-' or '_'"
        )
    title = _text(front, "title", name) or _first_heading(body)
    if not title:
        raise ArticleError(f"{name}: no title (set 'title' or start with a '# ' heading)")
    if not body.strip():
        raise ArticleError(f"{name}: the article has no text")
    language = _text(front, "language", name) or "en"
    if not LANGUAGE.match(language):
        raise ArticleError(f"{name}: language '{language}' must be a two-letter code")
    return Article(
        id=article_id,
        title=title,
        body=body.strip(),
        team=_text(front, "team", name) or None,
        language=language,
        tags=_strings(front, "tags", name),
        questions=_strings(front, "questions", name),
    )


def read_article(path: Path) -> Article:
    """The article in the file at ``path``."""
    try:
        raw = path.read_bytes()
    except OSError as err:
        raise ArticleError(f"{path.name}: cannot be read: {err.strerror or err}") from err
    if len(raw) > MAX_ARTICLE_BYTES:
        raise ArticleError(f"{path.name}: larger than {MAX_ARTICLE_BYTES} bytes")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise ArticleError(f"{path.name}: not UTF-8 text") from err
    return parse_article(text, path.name)


def read_folder(folder: Path) -> list[Article]:
    """Every ``*.md`` article in ``folder`` and below, sorted by id. Two files with one
    id are an error, so an import never depends on the order files are listed in."""
    if not folder.is_dir():
        raise ArticleError(f"{folder}: not a folder")
    articles: dict[str, tuple[Article, Path]] = {}
    for path in sorted(folder.rglob("*.md")):
        article = read_article(path)
        if article.id in articles:
            other = articles[article.id][1].relative_to(folder)
            raise ArticleError(f"{path.relative_to(folder)}: id '{article.id}' is also {other}")
        articles[article.id] = (article, path)
    return [article for article, _path in sorted(articles.values(), key=lambda a: a[0].id)]


def _split(text: str, name: str) -> tuple[dict[str, Any], str]:
    found = _FRONT_MATTER.match(text.lstrip("\ufeff"))
    if found is None:
        return {}, text
    try:
        front = yaml.safe_load(found.group(1))
    except yaml.YAMLError as err:
        raise ArticleError(f"{name}: the front matter is not valid YAML: {err}") from err
    if front is None:
        front = {}
    if not isinstance(front, dict):
        raise ArticleError(f"{name}: the front matter must be a table of keys")
    return front, text[found.end() :]


def _text(front: dict[str, Any], key: str, name: str) -> str:
    value = front.get(key)
    if value is None:
        return ""
    if not isinstance(value, str | int) or isinstance(value, bool):
        raise ArticleError(f"{name}: '{key}' must be text")
    return str(value).strip()


def _strings(front: dict[str, Any], key: str, name: str) -> tuple[str, ...]:
    value = front.get(key)
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ArticleError(f"{name}: '{key}' must be a list of texts")
    return tuple(v.strip() for v in value if v.strip())


def _first_heading(body: str) -> str:
    found = _HEADING.search(body)
    return found.group(1).strip() if found else ""
