"""Files agents attach to answers: safe names and types, and the signed link a customer
opens one with (pure: no store; the web app serves the file behind the link)."""

from __future__ import annotations

import re
import unicodedata

from inbox.signing import Signer

MAX_FILENAME = 200  # characters; the column holds 255
_MEDIA_TYPE = re.compile(r"^[a-z0-9][a-z0-9!#$&^_.+-]{0,63}/[a-z0-9][a-z0-9!#$&^_.+-]{0,63}$")
_UNSAFE_IN_NAME = re.compile(r'[<>:"/\\|?*;\x00-\x1f\x7f]+')
OCTET_STREAM = "application/octet-stream"
# Types a browser shows without running anything of the file's: served as they are. Any
# other (HTML, SVG, XML, script, unknown) is served as bytes to save, never rendered.
_SERVED_AS_IS = frozenset(
    {
        "application/pdf",
        "application/zip",
        "image/png",
        "image/jpeg",
        "image/gif",
        "image/webp",
        "text/plain",
        "text/csv",
        "audio/mpeg",
        "audio/ogg",
        "video/mp4",
    }
)


def safe_filename(name: str) -> str:
    """The last path component of ``name``, without control characters, separators or
    characters some systems refuse, at most ``MAX_FILENAME`` characters (the extension
    kept); "file" when nothing is left."""
    name = unicodedata.normalize("NFC", name).replace("\\", "/").rsplit("/", 1)[-1]
    name = " ".join(_UNSAFE_IN_NAME.sub("_", name).split()).strip(" .")
    if len(name) > MAX_FILENAME:
        stem, dot, extension = name.rpartition(".")
        if dot and 0 < len(extension) <= 16:
            name = stem[: MAX_FILENAME - len(extension) - 1].rstrip(" .") + "." + extension
        else:
            name = name[:MAX_FILENAME].rstrip(" .")
    return name or "file"


def media_type(declared: str) -> str:
    """The declared type (parameters dropped, lower case) if it is a well-formed media
    type, else ``application/octet-stream``."""
    base = declared.split(";", 1)[0].strip().lower()
    return base if _MEDIA_TYPE.match(base) else OCTET_STREAM


def served_type(stored: str) -> str:
    """The Content-Type a customer's download gets: a harmless type as it is, any other
    (text/html among them) as ``application/octet-stream``."""
    base = media_type(stored)
    return base if base in _SERVED_AS_IS else OCTET_STREAM


def size_in_words(size: int) -> str:
    """``10 MB``, ``512 KB``, ``300 bytes``: a limit or a size as a person reads it."""
    if size >= 1024 * 1024:
        return f"{size / (1024 * 1024):.3g} MB"
    if size >= 1024:
        return f"{size / 1024:.3g} KB"
    return f"{size} bytes"


class FileLinks:
    """Signed links to agents' files: the token names one stored file and nobody can
    forge another's, so a customer needs no session to open what they were sent."""

    def __init__(self, secret: bytes) -> None:
        self.signer = Signer(secret, "answer-file")

    def path(self, file_id: int) -> str:
        """The path of the file's public download."""
        return f"/files/{self.signer.sign(str(file_id))}"

    def file_of(self, token: str) -> int | None:
        """The file a link is for, or None for a forged one."""
        value = self.signer.verify(token)
        return int(value) if value is not None and value.isdigit() else None
