"""HTML from mail: sanitised for a page with nh3, or reduced to readable plain text."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import nh3

from connectors.mail.charsets import RECOVERABLE, fix_surrogates
from inbox.text import clean_text

_BLANK_RUNS = re.compile(r"\n{3,}")

# nh3's defaults minus images (tracking pixels, data: URLs); no style attribute is allowed.
_HTML_TAGS = frozenset(nh3.ALLOWED_TAGS - {"img", "map", "area"})
_HTML_ATTRIBUTES = {
    tag: set(attrs) for tag, attrs in nh3.ALLOWED_ATTRIBUTES.items() if tag in _HTML_TAGS
}
# Removed together with their content: what is inside them is code, not something to read.
_HTML_DROPPED = frozenset(
    {"script", "style", "title", "noscript", "template", "iframe", "object", "embed", "applet"}
    | {"frame", "frameset", "svg", "math", "head"}
)
_CLEANER = nh3.Cleaner(
    tags=_HTML_TAGS,
    clean_content_tags=_HTML_DROPPED,
    attributes=_HTML_ATTRIBUTES,
    link_rel="noopener noreferrer nofollow",
    url_schemes={"http", "https", "mailto"},
    url_relative="deny",
    strip_comments=True,
)


def sanitize_html(html: str) -> str:
    """HTML that is safe to put in a page: no script, handlers, styles, images or odd links."""
    return _CLEANER.clean(fix_surrogates(html))


_BLOCK_TAGS = frozenset(
    {"address", "article", "aside", "body", "caption", "center", "dd", "details", "div", "dl"}
    | {"dt", "fieldset", "figcaption", "figure", "footer", "form", "header", "hr", "html", "li"}
    | {"main", "nav", "section", "summary", "tbody", "td", "tfoot", "th", "thead", "tr"}
)
# Blocks that read as paragraphs: a blank line around them.
_PARAGRAPH_TAGS = frozenset(
    {"blockquote", "h1", "h2", "h3", "h4", "h5", "h6", "ol", "p", "pre", "table", "ul"}
)
_SKIPPED_TAGS = frozenset({"script", "style", "title", "noscript", "template", "head"})


class _TextExtractor(HTMLParser):
    """Collects the readable text of an HTML document, one line per block."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.chunks: list[str] = []
        self._skipping: list[str] = []
        self._pre = 0
        self._newlines = 1  # at the start of a line, as if one had just been written

    def _append(self, chunk: str) -> None:
        self.chunks.append(chunk)
        stripped = chunk.rstrip("\n")
        if stripped:
            self._newlines = len(chunk) - len(stripped)
        else:
            self._newlines += len(chunk)

    def _break(self, newlines: int) -> None:
        """Ends the line (1) or the paragraph (2), unless that is already done."""
        if self._newlines < newlines:
            self._append("\n" * (newlines - self._newlines))

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "body":
            # A <head> left open must not swallow the whole body.
            self._skipping.clear()
        if tag in _SKIPPED_TAGS:
            self._skipping.append(tag)
        elif tag == "br":
            self._append("\n")
        elif tag in _PARAGRAPH_TAGS:
            self._break(2)
            self._pre += tag == "pre"
        elif tag in _BLOCK_TAGS:
            self._break(1)
            if tag == "li":
                self._append("- ")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "br":
            self._append("\n")
        elif tag in _PARAGRAPH_TAGS or tag in _BLOCK_TAGS:
            self._break(1)

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIPPED_TAGS:
            if tag in self._skipping:
                while self._skipping and self._skipping.pop() != tag:
                    pass
        elif tag in _PARAGRAPH_TAGS:
            self._break(2)
            if tag == "pre" and self._pre:
                self._pre -= 1
        elif tag in _BLOCK_TAGS:
            self._break(1)

    def handle_data(self, data: str) -> None:
        if self._skipping:
            return
        if not self._pre:
            data = re.sub(r"\s+", " ", data)
            if self._newlines:
                data = data.lstrip(" ")
            if not data:
                return
        self._append(data)


def html_to_text(html: str) -> str:
    """Readable text of an HTML document: blocks become lines, code and head are dropped."""
    extractor = _TextExtractor()
    try:
        extractor.feed(fix_surrogates(html))
        extractor.close()
        raw = "".join(extractor.chunks)
    except RECOVERABLE:
        # The stdlib parser has had assertion failures on truly broken markup; fall back
        # to dropping anything that looks like a tag.
        raw = re.sub(r"<[^>]*>", " ", html)
    lines = (line.replace("\xa0", " ").rstrip() for line in clean_text(raw).split("\n"))
    return _BLANK_RUNS.sub("\n\n", "\n".join(lines)).strip()
