"""Customer pages in the customer's language: which one a request asks for, and the
catalogue's texts made ready for a template."""

from __future__ import annotations

from aiohttp import web
from markupsafe import Markup

from inbox.texts import DEFAULT_LANGUAGE, PLACEHOLDERS, Key, Wording, from_accept_language
from inbox.texts.formatting import fill


def page_language(request: web.Request) -> str:
    """The language the browser asks for (``Accept-Language``) among the shipped ones,
    else English."""
    return from_accept_language(request.headers.get("Accept-Language", "")) or DEFAULT_LANGUAGE


def page_texts(say: Wording) -> dict[str, str]:
    """Every text without placeholders, by name: what a template shows as ``t.<name>``."""
    return {key.value: say(key) for key in Key if not PLACEHOLDERS[key]}


def markup(say: Wording, key: Key, **values: str) -> Markup:
    """The text as HTML: its own words escaped, each value escaped unless it is markup
    already (a ``Markup`` the page built, like the ticket number in its ``<strong>``)."""
    # ``join`` escapes every part that is not markup: the template's words and plain values.
    return Markup("").join(fill(say.catalogue.template(say.language, key), values))
