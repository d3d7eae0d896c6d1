"""HTML pages of the web channels and the web app: Jinja2, autoescaped, strict headers."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

import jinja2
from aiohttp import web
from markupsafe import Markup, escape

from inbox.form_identity import shown_address
from inbox.texts import LANGUAGE_NAMES

STATIC = Path(__file__).resolve().parent / "static"
"""The style sheet, scripts and licences the pages link to, served at ``/static``."""

_env = jinja2.Environment(
    loader=jinja2.PackageLoader("inbox.pages", "templates"),
    autoescape=jinja2.select_autoescape(default=True, default_for_string=True),
    undefined=jinja2.StrictUndefined,
)


def relative_time(stamp: float | None) -> str:
    """``"in 1 h 5 min"`` or ``"12 min ago"`` from now; "" for no time."""
    if stamp is None:
        return ""
    seconds = stamp - time.time()
    minutes = round(abs(seconds) / 60)
    if minutes < 1:
        return "now"
    span = f"{minutes} min" if minutes < 60 else f"{minutes // 60} h {minutes % 60} min"
    if minutes >= 48 * 60:
        span = f"{minutes // 1440} days"
    return f"in {span}" if seconds > 0 else f"{span} ago"


_env.filters["relative"] = relative_time
_env.filters["clock"] = lambda stamp: time.strftime("%d %b %H:%M UTC", time.gmtime(stamp))
_env.filters["iso"] = lambda stamp: time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(stamp))
# A customer's language as agents read it ("" or unknown: English, what they are written in).
_env.filters["language_name"] = lambda code: LANGUAGE_NAMES.get(code or "", "English")
_env.filters["shown_sender"] = lambda sender, channel: shown_address(channel, sender)
_SIGNED = r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+"
# Our own links in our messages: a rating, the bot's yes/no page, a knowledge-base article.
RATING_LINK = re.compile(
    rf"https?://\S+?(/rate/{_SIGNED}|/answer/{_SIGNED}\?v=[a-z]+|/kb/[A-Za-z0-9._~%-]+)"
)


def rating_links(text: str) -> Markup:
    """``text``, escaped, with our own links (rating, the bot's yes/no page, articles) made
    clickable. The link goes to the
    path on this site whatever host the text names, so no text can point it elsewhere."""
    out, last = [], 0
    for found in RATING_LINK.finditer(text):
        out.append(escape(text[last : found.start()]))
        out.append(Markup('<a href="{}">{}</a>').format(found.group(1), found.group(0)))
        last = found.end()
    out.append(escape(text[last:]))
    return Markup("").join(out)


_env.filters["rating_links"] = rating_links
# One segment of a path: unlike ``urlencode``, a "/" in a name is escaped too.
_env.filters["path_part"] = lambda value: quote(str(value), safe="")

PAGE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'self'"
)
# The chat page is meant to be embedded in the customer's own site.
EMBEDDABLE_CSP = PAGE_CSP.replace("frame-ancestors 'self'", "frame-ancestors *")


def render(
    template: str, context: dict[str, Any], *, status: int = 200, csp: str = PAGE_CSP
) -> web.Response:
    """Renders a template into an HTML response that runs no inline script."""
    body = _env.get_template(template).render(**context)
    response = web.Response(text=body, status=status, content_type="text/html", charset="utf-8")
    response.headers["Content-Security-Policy"] = csp
    return response


def client_ip(request: web.Request) -> str:
    """The peer address (a proxy in front should be configured to pass the real one)."""
    return request.remote or "unknown"
