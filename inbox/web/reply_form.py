"""An agent's answer sent as ``multipart/form-data``: its fields and the files attached.

The body is read as a stream, one part at a time, and each file is counted as it arrives:
one larger than ``[desk] attachment_max_mb``, or one more than ``attachment_max_count``,
is refused (413, the limit in words) before the rest is read, and nothing is stored.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote

from aiohttp import BodyPartReader, web
from aiohttp.hdrs import CONTENT_TYPE

from inbox.answer_files import media_type, safe_filename, size_in_words
from inbox.config.settings import DeskSettings
from inbox.models import Attachment

FIELDS = ("text", "seen", "channel", "address")
MAX_FIELD_BYTES = 256 * 1024  # a field's text; the reply's own limit is checked after
CHUNK = 65_536


class UploadRefused(Exception):
    """The form is not one the endpoint takes; ``status`` says how (413: over a limit)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class ReplyForm:
    """The answer's fields, as the JSON body would hold them (``seen`` a number when it
    is one; an empty field left out), and its files."""

    fields: dict[str, object]
    files: tuple[Attachment, ...]


async def read_reply_form(request: web.Request, limits: DeskSettings) -> ReplyForm:
    """Reads the form, refusing a file over the size limit or past the count limit as
    soon as it shows."""
    try:
        return await _read_form(request, limits)
    except (ValueError, AssertionError) as err:  # aiohttp's words for a malformed body
        raise UploadRefused(422, f"the body is not a readable form: {err}") from err


async def _read_form(request: web.Request, limits: DeskSettings) -> ReplyForm:
    fields: dict[str, str] = {}
    files: list[Attachment] = []
    reader = await request.multipart()
    while (part := await reader.next()) is not None:
        if not isinstance(part, BodyPartReader):
            raise UploadRefused(422, "a form inside the form is not taken")
        if part.name == "files":
            file = await _file(part, limits.attachment_max_bytes)
            if file is None:
                continue  # a file input with nothing chosen
            if len(files) == limits.attachment_max_count:
                raise UploadRefused(
                    413, f"too many files: at most {limits.attachment_max_count} on one answer"
                )
            files.append(file)
        elif part.name in FIELDS:
            raw = await _read(part, MAX_FIELD_BYTES, f"'{part.name}' is too long")
            try:
                fields[part.name] = raw.decode("utf-8")
            except UnicodeDecodeError as err:
                raise UploadRefused(422, f"'{part.name}' must be UTF-8 text") from err
        else:
            raise UploadRefused(
                422,
                f"unknown field {str(part.name)[:40]!r}: the form takes {', '.join(FIELDS)}"
                " and files",
            )
    return ReplyForm(_as_json(fields), tuple(files))


def _as_json(fields: dict[str, str]) -> dict[str, object]:
    """The fields as the JSON body gives them, so one check serves both."""
    found: dict[str, object] = {k: v for k, v in fields.items() if v.strip() or k == "text"}
    seen = fields.get("seen", "").strip()
    if seen.isdecimal():
        found["seen"] = int(seen)
    return found


async def _file(part: BodyPartReader, max_bytes: int) -> Attachment | None:
    """One attached file (None for the empty part of a file input left empty). Clients
    percent-encode some characters of the name (browsers a quote, aiohttp more): decoded,
    then made safe."""
    name = safe_filename(unquote(part.filename or ""))
    limit = size_in_words(max_bytes)
    data = await _read(part, max_bytes, f"{name} is too large: each file may be at most {limit}")
    if not data and not part.filename:
        return None
    if not data:
        raise UploadRefused(422, f"{name} is empty: attach a file with something in it")
    content_type = media_type(part.headers.get(CONTENT_TYPE, ""))
    return Attachment(filename=name, content_type=content_type, size=len(data), data=data)


async def _read(part: BodyPartReader, limit: int, too_large: str) -> bytes:
    """The part's bytes, refused (413) the moment there are more than ``limit``."""
    data = bytearray()
    while chunk := await part.read_chunk(CHUNK):
        data += chunk
        if len(data) > limit:
            raise UploadRefused(413, too_large)
    return bytes(data)
