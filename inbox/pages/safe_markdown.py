"""A small, safe subset of Markdown for knowledge-base articles shown to customers.

Headings, paragraphs, bulleted and numbered lists, ``**bold**``, ``*italics*``,
`` `code` `` and ``[links](https://…)``. Everything else is text: the article's own HTML
is escaped, never passed on, and the result goes through nh3 with only these tags
allowed, so no article (or a hostile edit of one) can run anything in a customer's page.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import nh3
from markupsafe import Markup, escape

TAGS = frozenset({"h2", "h3", "h4", "p", "ul", "ol", "li", "strong", "em", "code", "a"})
_HEADING = re.compile(r"^(#{1,6})[ \t]+(.+?)[ \t#]*$")
_BULLET = re.compile(r"^[ \t]{0,3}[-*+][ \t]+(.*)$")
_NUMBERED = re.compile(r"^[ \t]{0,3}\d{1,9}[.)][ \t]+(.*)$")
_INLINE = re.compile(
    r"`(?P<code>[^`\n]+)`"
    r"|\*\*(?P<strong>[^*\n]+)\*\*"
    r"|(?<![\w*])\*(?P<em>[^*\n]+)\*(?![\w*])"
    r"|\[(?P<label>[^\]\n]+)\]\((?P<href>(?:https?://|/(?!/))[^)\s]*)\)"
)


@dataclass
class _Block:
    kind: str  # p | ul | ol
    lines: list[str] = field(default_factory=list)


def render_markdown(text: str, *, title: str = "") -> Markup:
    """The article's body as safe HTML; a first heading repeating ``title`` is left out
    (the page shows the title itself)."""
    lines = text.replace("\r\n", "\n").split("\n")
    first = next((line for line in lines if line.strip()), "")
    heading = _HEADING.match(first)
    if heading and title and heading.group(2).strip() == title.strip():
        lines.remove(first)
    html = "".join(_blocks(lines))
    # Built from escaped text, then cleaned to the subset's tags: safe to mark as such.
    return Markup(  # noqa: S704
        nh3.clean(
            html,
            tags=set(TAGS),
            attributes={"a": {"href"}},
            url_schemes={"http", "https"},
            link_rel="nofollow noopener noreferrer",
        )
    )


def _blocks(lines: list[str]) -> list[str]:
    out: list[str] = []
    block: _Block | None = None
    for line in lines:
        heading, bullet, numbered = _HEADING.match(line), _BULLET.match(line), _NUMBERED.match(line)
        if not line.strip() or heading:
            out.extend(_close(block))
            block = None
            if heading:
                level = min(max(len(heading.group(1)), 2), 4)  # the page's title is the h1
                out.append(f"<h{level}>{inline(heading.group(2))}</h{level}>")
        elif item := bullet or numbered:
            kind = "ul" if bullet else "ol"
            if block is None or block.kind != kind:
                out.extend(_close(block))
                block = _Block(kind)
            block.lines.append(item.group(1))
        elif block is None:
            block = _Block("p", [line.strip()])
        else:  # a paragraph goes on, or a list item wraps onto the next line
            block.lines[-1] += " " + line.strip()
    out.extend(_close(block))
    return out


def _close(block: _Block | None) -> list[str]:
    if block is None:
        return []
    if block.kind == "p":
        return [f"<p>{inline(' '.join(block.lines))}</p>"]
    items = "".join(f"<li>{inline(item)}</li>" for item in block.lines)
    return [f"<{block.kind}>{items}</{block.kind}>"]


def inline(text: str) -> str:
    """``text`` escaped, with the inline marks of the subset turned into tags."""
    out, last = [], 0
    for found in _INLINE.finditer(text):
        out.append(str(escape(text[last : found.start()])))
        kind = found.lastgroup
        if kind == "href":
            label, href = escape(found.group("label")), escape(found.group("href"))
            out.append(f'<a href="{href}">{label}</a>')
        else:
            tag = {"code": "code", "strong": "strong", "em": "em"}[str(kind)]
            out.append(f"<{tag}>{escape(found.group(str(kind)))}</{tag}>")
        last = found.end()
    out.append(str(escape(text[last:])))
    return "".join(out)
