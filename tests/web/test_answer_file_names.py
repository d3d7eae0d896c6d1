"""The names and types agents' files keep, and their signed links (pure functions)."""

from __future__ import annotations

from inbox.answer_files import (
    MAX_FILENAME,
    FileLinks,
    media_type,
    safe_filename,
    served_type,
    size_in_words,
)


def test_a_filename_loses_its_path_and_unsafe_characters() -> None:
    assert safe_filename("C:\\Users\\ann\\report.pdf") == "report.pdf"
    assert safe_filename("../../etc/passwd") == "passwd"
    assert safe_filename('a"b;c\r\nd<e>.txt') == "a_b_c_d_e_.txt"
    assert safe_filename("  .hidden.  ") == "hidden"
    assert safe_filename("..") == safe_filename("") == "file"
    long = safe_filename("x" * 500 + ".pdf")
    assert len(long) == MAX_FILENAME and long.endswith(".pdf")
    assert safe_filename("Überweisung März.pdf") == "Überweisung März.pdf"


def test_a_type_a_browser_could_run_is_served_as_bytes() -> None:
    assert media_type("Text/Plain; charset=utf-8") == "text/plain"
    assert media_type("not a type") == "application/octet-stream"
    assert served_type("application/pdf") == "application/pdf"
    for risky in ("text/html", "image/svg+xml", "application/xhtml+xml", "text/javascript"):
        assert served_type(risky) == "application/octet-stream"


def test_sizes_in_words() -> None:
    assert size_in_words(10 * 1024 * 1024) == "10 MB"
    assert size_in_words(64 * 1024) == "64 KB"
    assert size_in_words(300) == "300 bytes"


def test_a_file_link_names_one_file_and_cannot_be_forged() -> None:
    links = FileLinks(b"k" * 32)
    token = links.path(42).removeprefix("/files/")
    assert links.file_of(token) == 42
    assert FileLinks(b"other" * 8).file_of(token) is None
    assert links.file_of(token[:-1] + ("A" if token[-1] != "A" else "B")) is None
    assert links.file_of("") is None
