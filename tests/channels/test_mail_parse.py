"""The mail parser on real hostile mail from CPython and mail-parser, and on hand-built mail."""

from __future__ import annotations

import datetime
import re
import time
from collections.abc import Callable
from email.message import EmailMessage
from pathlib import Path

import pytest

from connectors.mail.parse import (
    ParsedMail,
    UnparseableMail,
    html_to_text,
    normalise_message_id,
    parse_mail,
    sanitize_html,
    strip_quotes_and_signature,
)
from inbox.errors import InvalidMessage
from tests.support.paths import SHARED_DATA

HOSTILE = SHARED_DATA / "hostile-mail"
HOSTILE_FILES = sorted(HOSTILE.glob("cpython/*.txt")) + sorted(HOSTILE.glob("mail-parser/*.eml"))
# An event-handler attribute inside a tag; text that merely says "on=" is harmless.
EVENT_HANDLER = re.compile(r"<[^>]*\son[a-z]+\s*=", re.IGNORECASE)


def _parse_or_none(path: Path) -> ParsedMail | None:
    try:
        return parse_mail(path.read_bytes())
    except UnparseableMail:
        return None


def _mail(
    body: str = "Hello, my order has not arrived.",
    *,
    sender: str | None = "Ada Lovelace <ada@example.com>",
    **headers: str,
) -> EmailMessage:
    msg = EmailMessage()
    if sender is not None:
        msg["From"] = sender
    msg["To"] = "support@shop.example"
    msg["Subject"] = "Where is my order?"
    msg["Message-ID"] = "<m1@example.com>"
    for name, value in headers.items():
        msg[name.replace("_", "-")] = value
    msg.set_content(body)
    return msg


def _raw(*lines: str) -> bytes:
    return "\r\n".join(lines).encode("latin-1")


# --- hostile mail ---------------------------------------------------------------------------


def test_the_hostile_corpus_is_there() -> None:
    assert len(HOSTILE_FILES) == 71


@pytest.mark.parametrize("path", HOSTILE_FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_hostile_mail_parses_or_is_refused_and_is_safe(path: Path) -> None:
    parsed = _parse_or_none(path)
    if parsed is None:
        return
    assert "<script" not in parsed.html.lower()
    assert not EVENT_HANDLER.search(parsed.html)
    assert "javascript:" not in parsed.html.lower()
    for value in (parsed.subject, parsed.from_name, parsed.message_id, *parsed.references):
        assert "\r" not in value and "\n" not in value
    assert "@" in parsed.from_address and parsed.from_address == parsed.from_address.lower()
    for attachment in parsed.attachments:
        assert attachment.filename and not set(attachment.filename) & set("/\\\r\n")


def test_most_hostile_mail_becomes_a_ticket() -> None:
    parsed = [path.name for path in HOSTILE_FILES if _parse_or_none(path) is not None]
    assert len(parsed) >= 60


def test_hostile_mail_without_a_sender_is_refused_with_a_reason() -> None:
    with pytest.raises(UnparseableMail, match="From"):
        parse_mail((HOSTILE / "cpython" / "msg_05.txt").read_bytes())  # "From: foo"
    with pytest.raises(UnparseableMail):
        parse_mail((HOSTILE / "mail-parser" / "mail_outlook_1.eml").read_bytes())  # .msg file


def test_hostile_mail_with_a_broken_boundary_still_shows_its_body() -> None:
    parsed = parse_mail((HOSTILE / "cpython" / "msg_41.txt").read_bytes())
    assert parsed.text
    assert any("NoBoundaryInMultipartDefect" in d for d in parsed.defects)


def test_a_display_name_that_looks_like_an_address_does_not_win() -> None:
    # "From: alice@example.com <bob@example.com>": the mailbox is bob's.
    parsed = parse_mail((HOSTILE / "mail-parser" / "mail_test_19.eml").read_bytes())
    assert parsed.from_address == "bob@example.com"
    assert parsed.from_name == "alice@example.com"


# --- bodies ---------------------------------------------------------------------------------


def test_alternative_prefers_plain_text_and_keeps_sanitised_html() -> None:
    msg = _mail("Plain words here.")
    msg.add_alternative(
        '<p>Rich <b>words</b> <a href="https://shop.example/o/1">order</a></p>'
        "<script>alert(1)</script>",
        subtype="html",
    )
    parsed = parse_mail(msg.as_bytes())
    assert parsed.text == "Plain words here."
    assert "<b>words</b>" in parsed.html
    assert 'href="https://shop.example/o/1"' in parsed.html
    assert "script" not in parsed.html and "alert" not in parsed.html


def test_html_only_mail_gets_its_text_from_the_html() -> None:
    msg = _mail()
    msg.set_content(
        "<html><head><title>T</title><style>p{color:red}</style></head><body>"
        "<p>First&nbsp;line &amp; more</p><div>Second</div><br><ul><li>one</li></ul>"
        "<script>var x = 1;</script></body></html>",
        subtype="html",
    )
    parsed = parse_mail(msg.as_bytes())
    assert parsed.text == "First line & more\n\nSecond\n\n- one"
    assert parsed.html and "<p>" in parsed.html


def test_html_to_text_collapses_blank_lines_and_drops_code() -> None:
    html = "<p>a</p><p></p><p></p><p>b</p><style>x{}</style><script>y()</script>"
    assert html_to_text(html) == "a\n\nb"
    assert html_to_text("<pre>  keep\n  spaces</pre>") == "keep\n  spaces"


def test_a_bogus_charset_still_decodes_with_a_defect() -> None:
    raw = _raw(
        "From: ada@example.com",
        "Subject: x",
        "Content-Type: text/plain; charset=x-unknown",
        "",
        "caf\xe9 ol\xe9",
    )
    parsed = parse_mail(raw)
    assert parsed.text == "café olé"
    assert any("x-unknown" in d for d in parsed.defects)


def test_latin1_bytes_declared_utf8_do_not_crash() -> None:
    raw = _raw(
        "From: ada@example.com",
        "Content-Type: text/plain; charset=utf-8",
        "Content-Transfer-Encoding: 8bit",
        "",
        "Gr\xfc\xdfe aus K\xf6ln",
    )
    parsed = parse_mail(raw)
    assert parsed.text == "Grüße aus Köln"
    assert parsed.defects


def test_a_missing_body_is_allowed() -> None:
    parsed = parse_mail(_raw("From: ada@example.com", "Subject: empty", "", ""))
    assert parsed.text == "" and parsed.classify_text == "" and parsed.attachments == ()
    assert parsed.html == ""


def test_a_forwarded_mail_reads_as_part_of_the_body() -> None:
    inner = _mail("The original complaint.", sender="Bob <bob@example.com>")
    outer = _mail("See below.")
    outer.add_attachment(inner, disposition="inline")
    parsed = parse_mail(outer.as_bytes())
    assert "See below." in parsed.text and "The original complaint." in parsed.text
    assert "From: Bob <bob@example.com>" in parsed.text
    assert parsed.from_address == "ada@example.com"
    # What was forwarded is what the customer wants handled: the classifier sees it too.
    assert "The original complaint." in parsed.classify_text


# --- sanitising -----------------------------------------------------------------------------


def test_sanitize_html_removes_everything_that_runs() -> None:
    dirty = (
        "<p>Hello <b>there</b></p>"
        "<script>alert('x')</script>"
        '<img src="x" onerror="alert(1)">'
        '<a href="javascript:alert(1)">bad</a>'
        '<a href="JaVaScRiPt:alert(1)">bad2</a>'
        '<a href="https://example.com/help" onclick="steal()" style="color:red">help</a>'
        '<iframe src="https://evil.example"></iframe><form action="/x"><input></form>'
        '<div style="background:url(javascript:alert(1))">styled</div>'
        '<svg><script>alert(2)</script></svg><a href="data:text/html,<script>1</script>">d</a>'
    )
    clean = sanitize_html(dirty)
    lowered = clean.lower()
    for forbidden in ("<script", "onerror", "onclick", "javascript:", "<img", "<iframe", "style="):
        assert forbidden not in lowered
    assert "data:" not in lowered and "<form" not in lowered and "<svg" not in lowered
    assert "<p>Hello <b>there</b></p>" in clean
    assert 'href="https://example.com/help"' in clean
    assert 'rel="noopener noreferrer nofollow"' in clean
    assert "styled" in clean


def test_mailto_links_survive_sanitising() -> None:
    clean = sanitize_html('<a href="mailto:help@shop.example">mail us</a>')
    assert 'href="mailto:help@shop.example"' in clean


# --- attachments ----------------------------------------------------------------------------


def test_attachments_over_the_cap_are_omitted_and_under_it_kept() -> None:
    msg = _mail()
    msg.add_attachment(b"x" * 2000, maintype="application", subtype="pdf", filename="big.pdf")
    msg.add_attachment(b"small!", maintype="image", subtype="png", filename="small.png")
    parsed = parse_mail(msg.as_bytes(), attachment_max_bytes=1000)
    big, small = parsed.attachments
    assert (big.filename, big.content_type, big.size, big.data, big.omitted) == (
        "big.pdf",
        "application/pdf",
        2000,
        b"",
        True,
    )
    assert (small.filename, small.size, small.data, small.omitted) == (
        "small.png",
        6,
        b"small!",
        False,
    )
    assert parsed.text == "Hello, my order has not arrived."


def test_a_hostile_filename_is_sanitised() -> None:
    raw = _raw(
        "From: ada@example.com",
        'Content-Type: multipart/mixed; boundary="b"',
        "",
        "--b",
        "Content-Type: text/plain",
        "",
        "see attached",
        "--b",
        "Content-Type: application/octet-stream",
        "Content-Disposition: attachment; filename*=utf-8''..%2F..%2Fetc%2Fpasswd%0D%0AX%3A%20y",
        "Content-Transfer-Encoding: base64",
        "",
        "aGk=",
        "--b",
        "Content-Type: application/octet-stream",
        'Content-Disposition: attachment; filename="..\\\\..\\\\win.ini"',
        "",
        "x",
        "--b",
        "Content-Type: application/weird",
        "",
        "y",
        "--b--",
    )
    parsed = parse_mail(raw)
    names = [a.filename for a in parsed.attachments]
    assert names == ["passwd X: y", "win.ini", "attachment-3"]
    assert parsed.attachments[0].data == b"hi"
    assert parsed.attachments[2].content_type == "application/weird"


def test_an_encoded_word_filename_is_decoded() -> None:
    msg = _mail()
    msg.add_attachment(b"1", maintype="text", subtype="csv", filename="Übersicht.csv")
    (attachment,) = parse_mail(msg.as_bytes()).attachments
    assert attachment.filename == "Übersicht.csv" and attachment.content_type == "text/csv"


# --- quotes and signatures ------------------------------------------------------------------

REPLY = (
    "Thanks, that fixed it.\n"
    "\n"
    "On Mon, 1 Jan 2024 at 10:00, Support <s@x.com> wrote:\n"
    "> Have you tried turning it off and on?\n"
    "> Regards\n"
    "-- \n"
    "Sig"
)


def test_a_reply_is_stripped_for_the_classifier_but_kept_for_display() -> None:
    parsed = parse_mail(_mail(REPLY).as_bytes())
    assert parsed.classify_text == "Thanks, that fixed it."
    assert "> Have you tried" in parsed.text and "Sig" in parsed.text


def test_quote_stripping_handles_wrapped_attributions_outlook_and_signatures() -> None:
    wrapped = "Yes please.\nOn Mon, 1 Jan 2024 at 10:00, A Very Long Name\n<a@x.com> wrote:\nold"
    assert strip_quotes_and_signature(wrapped) == "Yes please."
    outlook = "Ok.\n\nFrom: Support <s@x.com>\nSent: Monday\nTo: me\nSubject: Re\n\nold text"
    assert strip_quotes_and_signature(outlook) == "Ok."
    italian = "Grazie.\nDa: Supporto [mailto:s@x.com]\nInviato: lunedì\nA: me\n\nvecchio"
    assert strip_quotes_and_signature(italian) == "Grazie."
    original = "Ok.\n-----Original Message-----\nold"
    assert strip_quotes_and_signature(original) == "Ok."
    assert strip_quotes_and_signature("Hi\n--\nBob") == "Hi"
    assert strip_quotes_and_signature("a\n> b\nc") == "a\nc"
    # A bottom-posted reply keeps the customer's words that follow the quote.
    inline = "On Mon, Support <s@x.com> wrote:\n> Is it fixed?\n\nNo, still broken."
    assert strip_quotes_and_signature(inline) == "No, still broken."


def test_a_mail_that_is_only_a_quote_falls_back_to_its_text() -> None:
    parsed = parse_mail(_mail("> just a quote").as_bytes())
    assert parsed.classify_text == parsed.text == "> just a quote"


# --- automated mail -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ({"Auto_Submitted": "auto-replied"}, "Auto-Submitted: auto-replied"),
        ({"Precedence": "bulk"}, "Precedence: bulk"),
        ({"List_Id": "<news.shop.example>"}, "mailing list (List-Id)"),
        ({"X_Autoreply": "yes"}, "X-Autoreply: yes"),
        ({"Return_Path": "<>"}, "empty Return-Path"),
    ],
)
def test_automated_headers_are_flagged(headers: dict[str, str], reason: str) -> None:
    assert parse_mail(_mail(**headers).as_bytes()).automated == reason


def test_a_mailer_daemon_is_flagged() -> None:
    msg = _mail(sender="Mail Delivery System <MAILER-DAEMON@mx.example>")
    parsed = parse_mail(msg.as_bytes())
    assert parsed.automated == "From: mailer-daemon"
    assert parsed.from_address == "mailer-daemon@mx.example"


def test_a_delivery_status_notification_is_flagged() -> None:
    raw = _raw(
        "From: Postmaster <bounces@mx.example>",
        "Subject: Undelivered Mail Returned to Sender",
        'Content-Type: multipart/report; report-type=delivery-status; boundary="r"',
        "",
        "--r",
        "Content-Type: text/plain",
        "",
        "Your message could not be delivered.",
        "--r",
        "Content-Type: message/delivery-status",
        "",
        "Reporting-MTA: dns; mx.example",
        "",
        "Final-Recipient: rfc822; gone@example.com",
        "Action: failed",
        "--r",
        "Content-Type: text/rfc822-headers",
        "",
        "From: support@inbox.test",
        "Message-ID: <ours.1042@inbox.test>",
        "--r--",
    )
    parsed = parse_mail(raw)
    assert parsed.automated == "delivery status notification (bounce)"
    assert parsed.text == "Your message could not be delivered."
    report, _headers = parsed.attachments
    assert report.content_type == "message/delivery-status" and b"Action: failed" in report.data
    # Bounces rarely say In-Reply-To; the returned headers say which mail bounced.
    assert parsed.reported == ("<ours.1042@inbox.test>",)


def test_a_complaint_and_a_read_receipt_are_flagged_with_the_mail_they_report_on() -> None:
    complaint = _raw(
        "From: Feedback Loop <staff@isp.example>",
        "Subject: complaint about message from 192.0.2.1",
        'Content-Type: multipart/report; report-type=feedback-report; boundary="r"',
        "",
        "--r",
        "Content-Type: text/plain",
        "",
        "This is an email abuse report.",
        "--r",
        "Content-Type: message/feedback-report",
        "",
        "Feedback-Type: abuse",
        "--r",
        "Content-Type: message/rfc822",
        "",
        "From: support@inbox.test",
        "Message-ID: <ours.1043@inbox.test>",
        "Subject: Re: help",
        "",
        "Thank you, we have your message.",
        "--r--",
    )
    parsed = parse_mail(complaint)
    assert parsed.automated == "complaint (feedback report)"
    assert parsed.reported == ("<ours.1043@inbox.test>",)
    receipt = _raw(
        "From: Ann <ann@example.com>",
        "Subject: Read: Re: help",
        'Content-Type: multipart/report; report-type=disposition-notification; boundary="r"',
        "",
        "--r",
        "Content-Type: text/plain",
        "",
        "Your message was displayed.",
        "--r",
        "Content-Type: message/disposition-notification",
        "",
        "Final-Recipient: rfc822; ann@example.com",
        "Original-Message-ID: <ours.1044@inbox.test>",
        "Disposition: manual-action/MDN-sent-manually; displayed",
        "--r--",
    )
    parsed = parse_mail(receipt)
    assert parsed.automated == "read receipt (disposition notification)"
    assert parsed.reported == ("<ours.1044@inbox.test>",)


def test_human_mail_is_not_flagged() -> None:
    assert parse_mail(_mail().as_bytes()).automated == ""
    assert parse_mail(_mail(Auto_Submitted="no").as_bytes()).automated == ""
    # A request that auto-responders stay quiet is not proof that a machine wrote it.
    assert parse_mail(_mail(X_Auto_Response_Suppress="All").as_bytes()).automated == ""


# --- headers --------------------------------------------------------------------------------


def test_a_mail_without_from_is_unparseable() -> None:
    with pytest.raises(UnparseableMail) as caught:
        parse_mail(_mail(sender=None).as_bytes())
    assert isinstance(caught.value, InvalidMessage) and caught.value.reason


@pytest.mark.parametrize(
    "sender",
    ["not an address", "<>", "=?utf-8?b?YWRhQGV4YW1wbGUuY29t?=", "@example.com"],
)
def test_an_unusable_from_is_unparseable(sender: str) -> None:
    raw = _raw(f"From: {sender}", "Subject: x", "", "body")
    with pytest.raises(UnparseableMail):
        parse_mail(raw)


def test_reply_to_never_replaces_from() -> None:
    msg = _mail(Reply_To="Someone Else <attacker@evil.example>")
    parsed = parse_mail(msg.as_bytes())
    assert parsed.from_address == "ada@example.com"
    assert parsed.from_name == "Ada Lovelace"


def test_addresses_are_lowercased_and_cc_joins_to() -> None:
    msg = _mail(sender="ADA@Example.COM", Cc="Desk <Desk@Shop.Example>, bogus")
    parsed = parse_mail(msg.as_bytes())
    assert parsed.from_address == "ada@example.com"
    assert parsed.to == ("support@shop.example", "desk@shop.example")


def test_message_ids_are_normalised() -> None:
    raw = _raw(
        "From: ada@example.com",
        "Message-ID:  <abc@example.com> ",
        "In-Reply-To: <x@example.com> (sent by a client)",
        "References: <r1@example.com>",
        " <r2@example.com>\t<r1@example.com> garbage <no-at-sign>",
        "",
        "body",
    )
    parsed = parse_mail(raw)
    assert parsed.message_id == "<abc@example.com>"
    assert parsed.in_reply_to == ("<x@example.com>",)
    assert parsed.references == ("<r1@example.com>", "<r2@example.com>")


def test_normalise_message_id() -> None:
    assert normalise_message_id(" <a@b>\r\n") == "<a@b>"
    assert normalise_message_id("a@b") == "<a@b>"
    assert normalise_message_id("<a@\r\n b>") == "<a@b>"
    assert normalise_message_id("") == ""
    assert normalise_message_id("garbage") == ""
    assert normalise_message_id("<" + "a" * 1000 + "@b>") == ""


def test_references_keep_the_last_fifty() -> None:
    ids = " ".join(f"<r{n}@example.com>" for n in range(80))
    parsed = parse_mail(_raw("From: ada@example.com", f"References: {ids}", "", "x"))
    assert len(parsed.references) == 50
    assert parsed.references[0] == "<r30@example.com>"
    assert parsed.references[-1] == "<r79@example.com>"


def test_encoded_word_subject_is_decoded() -> None:
    raw = _raw("From: ada@example.com", "Subject: =?utf-8?b?w5xiZXJ3ZWlzdW5nIGZlaGx0?=", "", "x")
    assert parse_mail(raw).subject == "Überweisung fehlt"


def test_an_encoded_line_break_in_the_subject_stays_on_one_line() -> None:
    raw = _raw(
        "From: =?utf-8?q?Eve=0D=0ABcc=3A_x=40y?= <eve@example.com>",
        "Subject: =?utf-8?q?Hello=0D=0ABcc=3A_victim=40example=2Ecom?=",
        "",
        "x",
    )
    parsed = parse_mail(raw)
    assert parsed.subject == "Hello Bcc: victim@example.com"
    assert parsed.from_name == "Eve Bcc: x@y"
    assert parsed.from_address == "eve@example.com"


def test_subjects_and_names_are_capped() -> None:
    msg = _mail(sender=f"{'N' * 500} <ada@example.com>")
    del msg["Subject"]
    msg["Subject"] = "S" * 1000
    parsed = parse_mail(msg.as_bytes())
    assert parsed.subject == "S" * 300 and parsed.from_name == "N" * 200


def test_dates_become_timestamps_or_none() -> None:
    parsed = parse_mail(_mail(Date="Mon, 01 Jan 2024 10:00:00 +0100").as_bytes())
    expected = datetime.datetime(2024, 1, 1, 9, 0, tzinfo=datetime.UTC).timestamp()
    assert parsed.date == expected
    assert parse_mail(_mail(Date="yesterday-ish").as_bytes()).date is None
    assert parse_mail(_mail().as_bytes()).date is None


def test_garbage_bytes_are_refused_not_crashed_on() -> None:
    with pytest.raises(UnparseableMail):
        parse_mail(b"\x00\xff" * 100)
    with pytest.raises(UnparseableMail):
        parse_mail(b"")


def test_a_crash_inside_the_stdlib_parser_becomes_unparseable() -> None:
    # CPython 3.11's header parser raises IndexError on this RFC 2231 boundary while it
    # parses the message; should a later version cope, the mail simply parses.
    raw = b'From: ada@example.com\r\nContent-Type: multipart/signed;\r\n\tboundary*="x\'"\r\n\r\nbody\r\n'
    try:
        parsed = parse_mail(raw)
    except UnparseableMail as err:
        assert err.reason.startswith("IndexError: ")
        assert err.__cause__ is not None
    else:
        assert parsed.from_address == "ada@example.com"


def test_an_absurdly_deep_mime_tree_is_cut_not_crashed_on() -> None:
    levels = 60
    lines = ["From: ada@example.com", 'Content-Type: multipart/mixed; boundary="b0"', ""]
    for level in range(levels):
        lines += [f"--b{level}", f'Content-Type: multipart/mixed; boundary="b{level + 1}"', ""]
    lines += [f"--b{levels}", "Content-Type: text/plain", "", "deep", f"--b{levels}--"]
    lines += [f"--b{level}--" for level in reversed(range(levels))]
    parsed = parse_mail(_raw(*lines))
    assert any("too deep" in defect for defect in parsed.defects)


def test_a_forwarded_mail_sent_as_an_attachment_stays_one() -> None:
    inner = _mail("The original complaint.", sender="Bob <bob@example.com>")
    outer = _mail("See attached.")
    outer.add_attachment(inner)
    parsed = parse_mail(outer.as_bytes())
    assert parsed.text == "See attached."
    (attachment,) = parsed.attachments
    assert attachment.content_type == "message/rfc822"
    assert b"The original complaint." in attachment.data


def test_a_charset_that_means_its_superset_decodes_cleanly() -> None:
    # Declared gb2312, written in GBK: decoded as GB18030 without replacement characters.
    parsed = parse_mail((HOSTILE / "mail-parser" / "mail_test_9.eml").read_bytes())
    assert "\ufffd" not in parsed.subject and "\ufffd" not in parsed.text


def test_pathological_address_headers_parse_quickly() -> None:
    # Unguarded, CPython's address parser needs over half a minute for this From header.
    quotes = b'"' * 50_000
    nested = b"(" * 50_000
    raw = b"From: " + quotes + b" <ada@example.com>\r\nTo: " + nested + b"\r\n\r\nhello\r\n"
    started = time.monotonic()
    parsed = parse_mail(raw)
    assert time.monotonic() - started < 5
    assert parsed.from_address == "ada@example.com" and parsed.to == ()
    assert any("parsed leniently" in defect for defect in parsed.defects)


# --- header reads are memoised per mail ----------------------------------------------------


def test_parts_with_identical_headers_are_each_read_in_full() -> None:
    # Equal header values in several parts (and in a forwarded mail) share one parsed header;
    # every part must still get its own payload, name and type.
    msg = _mail("See the two files.")
    for data in (b"first", b"second!"):
        msg.add_attachment(data, maintype="application", subtype="pdf", filename="résumé.pdf")
    inner = _mail("The original complaint.")
    msg.add_attachment(inner, disposition="inline")
    raw = msg.as_bytes()
    parsed = parse_mail(raw)
    assert [(a.filename, a.content_type, a.data) for a in parsed.attachments] == [
        ("résumé.pdf", "application/pdf", b"first"),
        ("résumé.pdf", "application/pdf", b"second!"),
    ]
    assert "The original complaint." in parsed.text
    assert "From: Ada Lovelace <ada@example.com>" in parsed.text
    assert parsed == parse_mail(raw)


def test_each_header_value_is_parsed_once_per_mail(monkeypatch: pytest.MonkeyPatch) -> None:
    from connectors.mail import parse as parse_module

    built: list[tuple[str, str]] = []
    header_class = parse_module._header_class

    def counting(lowercase_name: str) -> Callable[[str, str], object]:
        def build(name: str, value: str) -> object:
            built.append((lowercase_name, value))
            return header_class(lowercase_name)(name, value)

        return build

    monkeypatch.setattr(parse_module, "_header_class", counting)
    msg = _mail("Hello", Cc="boss@shop.example")
    msg.add_alternative("<p>Hello</p>", subtype="html")
    msg.add_attachment(b"x" * 100, maintype="application", subtype="pdf", filename="a.pdf")
    parsed = parse_mail(msg.as_bytes())
    assert parsed.from_address == "ada@example.com" and len(parsed.attachments) == 1
    assert built and len(built) == len(set(built))
    # A second mail gets a memo of its own: nothing is carried over between mails.
    first = len(built)
    parse_mail(msg.as_bytes())
    assert len(built) == 2 * first
