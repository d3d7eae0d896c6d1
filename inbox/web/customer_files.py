"""``GET /files/<token>``: a file an agent sent, opened by the customer's signed link.

The link is the key (no session): its token names one stored file of an answer and
nothing else. The file is always a download, never rendered as a page: a type that a
browser could run (HTML, SVG, script, anything unknown) is served as bytes, with
``nosniff`` and a sandboxing CSP besides.
"""

from __future__ import annotations

from urllib.parse import quote

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine

from inbox.answer_files import FileLinks, safe_filename, served_type
from inbox.errors import NotFound
from inbox.store.files import customer_file


class CustomerFiles:
    """The public download of agents' files."""

    def __init__(self, engine: AsyncEngine, secret: bytes) -> None:
        self.engine = engine
        self.links = FileLinks(secret)

    def routes(self) -> list[web.AbstractRouteDef]:
        """The one route."""
        return [web.get("/files/{token}", self.download)]

    async def download(self, request: web.Request) -> web.Response:
        """The file, as an attachment; 404 for a forged or unknown link."""
        file_id = self.links.file_of(request.match_info["token"])
        if file_id is None:
            raise web.HTTPNotFound(text="This file link is not valid.")
        try:
            async with self.engine.connect() as conn:
                found = await customer_file(conn, file_id)
        except NotFound as err:
            raise web.HTTPNotFound(text="This file is not here any more.") from err
        name = safe_filename(found.filename)
        return web.Response(
            body=found.data,
            content_type=served_type(found.content_type),
            headers={
                "Content-Disposition": f"attachment; filename*=UTF-8''{quote(name)}",
                "Content-Security-Policy": "sandbox; default-src 'none'",
                "X-Content-Type-Options": "nosniff",
                "Cache-Control": "private, no-store",
            },
        )
