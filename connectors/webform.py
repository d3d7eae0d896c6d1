"""The web form channel: an accessible HTML form and a JSON endpoint.

A submission is answered with its ticket reference only after the queue has it on disk.
An idempotency key (hidden field or ``Idempotency-Key`` header) makes a resubmission
return the same ticket. A honeypot field and a per-IP rate limit keep bots out; size
limits answer 413 or 422 with a clear message.

The typed address proves nothing, so a submission is filed under its *submitter* (see
``connectors.submitters``), never under that address's existing customer. The receipt
waits briefly for the worker's decision, so it names the ticket the message really went
to; if the decision takes longer, it names the message's own reference, which leads to
that ticket. Answers appear on the submitter's ticket page (a signed link), which shows
only what this submitter wrote and the answers sent to them.

The ticket page is live: its script listens to ``/ticket/<token>/live`` (Server-Sent
Events) and loads the page again when an answer was delivered to that submitter (by any
web process: ``follow`` reads the delivered answers from the store, as the chat does);
without script, the page is the same and is reloaded by hand. It says whether answers
are also mailed (``inbox.store.form_copies``): only to an address its owner confirmed,
and only when a mailbox is configured.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
import urllib.parse
import uuid
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from markupsafe import Markup

from connectors.base import CustomerTranscripts, FormAddresses
from connectors.following import follow_sent
from connectors.submitters import (
    COOKIE,
    COOKIE_MAX_AGE,
    Submitter,
    Submitters,
    external_id_prefix,
)
from inbox import safe_json
from inbox.answer_files import FileLinks, size_in_words
from inbox.bot_words import CHOICES
from inbox.config.settings import FormSettings
from inbox.customer_links import CustomerLinks
from inbox.form_identity import IDENTITY_CHANNEL, typed_address
from inbox.form_links import confirmed_identity
from inbox.models import Envelope, MessageMeta, Outbound, Receipt, TranscriptEntry
from inbox.pages.events import event_stream, pump, start
from inbox.pages.ratelimit import RateLimiter
from inbox.pages.render import client_ip, render
from inbox.pages.wording import markup, page_language, page_texts
from inbox.queue import Sink
from inbox.text import clean_text, format_reference, single_line
from inbox.texts import CHOICE_KEYS, Catalogue, Key, Wording, from_accept_language

log = logging.getLogger(__name__)
EMAIL_PATTERN = re.compile(r"^[^@\s<>\"']{1,64}@[A-Za-z0-9.-]{1,253}\.[A-Za-z]{2,63}$")
FIELDS = ("name", "email", "subject", "message")
RECEIPT_POLL = 0.25  # seconds between looks at the store while a receipt waits
STREAMS_PER_SENDER = 8  # open ticket pages per form sender (tabs, devices)
FOLLOW_INTERVAL = 0.5  # seconds between looks at the delivered answers, while pages listen
STREAM_BUFFER = 16  # answers waiting for a slow page; one is enough to make it look again


class FormRejected(Exception):
    """A submission that is refused, with the HTTP status and the reason per field."""

    def __init__(self, status: int, errors: dict[str, str]) -> None:
        super().__init__("; ".join(errors.values()))
        self.status = status
        self.errors = errors


@dataclass(frozen=True)
class Submission:
    """A validated form submission."""

    name: str
    email: str
    subject: str
    message: str
    idempotency_key: str


@dataclass(frozen=True)
class FormReceipt:
    """What the submitter is told: the ticket once the worker decided, else the message's
    own reference (which leads to the ticket), and who they are for the next time."""

    message_reference: int
    ticket: int | None
    duplicate: bool
    submitter: Submitter

    @property
    def reference(self) -> int:
        """The number that leads to the submitter's ticket."""
        return self.ticket or self.message_reference


class WebFormConnector:
    """``GET /form``, ``POST /form``, ``POST /api/messages`` and the ticket page."""

    name = "form"

    def __init__(
        self,
        settings: FormSettings,
        secret: bytes,
        transcripts: CustomerTranscripts,
        *,
        secure_cookies: bool = False,
        addresses: FormAddresses | None = None,
        mails_answers: bool = False,
        texts: Catalogue | None = None,
    ) -> None:
        self.settings = settings
        self.texts = texts or Catalogue()  # the pages' words, in the browser's language
        self.transcripts = transcripts
        self.addresses = addresses
        # A mailbox is configured: answers are also mailed to confirmed addresses.
        self.mails_answers = mails_answers
        self.secret = secret
        self.links = CustomerLinks(secret, "")
        self.file_links = FileLinks(secret)
        # Open ticket pages, by form sender: each waits for the ids of answers to show.
        self._streams: dict[str, set[asyncio.Queue[int | None]]] = {}
        self.submitters = Submitters(secret)
        self.secure_cookies = secure_cookies
        self.limiter = RateLimiter(settings.rate_limit_per_minute)
        self._sink: Sink | None = None
        self._ready = asyncio.Event()
        self._committed = asyncio.Event()  # replaced each time it fires

    # -- Connector ----------------------------------------------------------------------

    async def run(self, sink: Sink) -> None:
        """Accepts submissions until cancelled."""
        self._sink = sink
        self._ready.set()
        try:
            await asyncio.Event().wait()
        finally:
            self._sink = None
            self._ready.clear()

    def store_committed(self) -> None:
        """Told by a worker in this process that it stored messages: receipts look again."""
        fired, self._committed = self._committed, asyncio.Event()
        fired.set()

    async def send(self, outbound: Outbound) -> str:
        """Publishes the answer on the customer's ticket page (the store keeps it; the
        open pages hear of it through ``follow`` once the outbox marks it sent)."""
        return f"ticket-page:{outbound.message_id}"

    def _tell(self, address: str, message_id: int) -> None:
        for stream in list(self._streams.get(address, ())):
            # A full buffer already makes the page look again, which shows this one too.
            with contextlib.suppress(asyncio.QueueFull):
                stream.put_nowait(message_id)

    async def follow(self, stopping: asyncio.Event, interval: float = FOLLOW_INTERVAL) -> None:
        """Tells the pages open here about the answers delivered to their senders, by this
        web process or another. It reads them from the store, not from ``send``: a page
        shows an answer once the outbox marked it sent, which is after ``send`` returns."""

        async def deliver(address: str, entry: TranscriptEntry) -> None:
            self._tell(address, entry.message_id)

        await follow_sent(
            self.transcripts, self.name, stopping, lambda: bool(self._streams), deliver, interval
        )

    @property
    def open_streams(self) -> int:
        """Ticket pages listening right now, all senders together."""
        return sum(len(streams) for streams in self._streams.values())

    async def close_connections(self) -> None:
        """Ends every ticket page's stream (the page reconnects by itself)."""
        for streams in list(self._streams.values()):
            for stream in list(streams):
                with contextlib.suppress(asyncio.QueueFull):
                    stream.put_nowait(None)

    async def close(self) -> None:
        """Nothing to release: answers are only stored."""

    def routes(self) -> list[web.AbstractRouteDef]:
        """The form's HTTP routes."""
        return [
            web.get("/form", self.show_form),
            web.post("/form", self.submit_form),
            web.post("/api/messages", self.submit_json),
            web.get("/ticket/{token}", self.show_ticket),
            web.get("/ticket/{token}/live", self.ticket_stream),
            web.get("/form/confirm/{token}", self.confirm_address),
            web.post("/form/confirm/{token}", self.confirm_address),
        ]

    def ticket_url(self, reference: int, address: str) -> str:
        """The signed link to a ticket's page for one form identity."""
        return self.links.ticket_path(reference, address)

    async def mail_note(self, address: str, say: Wording) -> tuple[bool, str]:
        """Whether answers to this form sender are also mailed, and the page's words."""
        email = typed_address(address)
        if not self.mails_answers:
            return False, say(Key.NOTE_NO_MAIL)
        if self.addresses is not None and await self.addresses.verified(address):
            return True, say(Key.NOTE_MAILED, email=email)
        return False, say(Key.NOTE_UNCONFIRMED, email=email)

    def wording(self, request: web.Request) -> Wording:
        """The texts in the language the browser asks for."""
        return self.texts.wording(page_language(request))

    def _remember(self, response: web.StreamResponse, receipt: FormReceipt) -> None:
        """Gives the browser its submitter cookie, so its next message is the same sender's."""
        response.set_cookie(
            COOKIE,
            self.submitters.cookie(receipt.submitter),
            max_age=COOKIE_MAX_AGE,
            httponly=True,
            samesite="Lax",
            secure=self.secure_cookies,
            path="/",
        )

    # -- Handlers -----------------------------------------------------------------------

    async def show_form(self, request: web.Request) -> web.Response:
        """The empty form, with a fresh idempotency key."""
        return self._form_page({}, {}, 200, self.wording(request))

    def _form_page(
        self, values: dict[str, str], errors: dict[str, str], status: int, say: Wording
    ) -> web.Response:
        context = {
            "lang": say.language,
            "t": page_texts(say),
            "values": {f: values.get(f, "") for f in FIELDS},
            "errors": errors,
            "idempotency_key": values.get("idempotency_key") or uuid.uuid4().hex,
            "max_chars": self.settings.max_message_chars,
        }
        return render("form.html", context, status=status)

    async def submit_form(self, request: web.Request) -> web.Response:
        """Handles the HTML form; errors re-render the form with the values kept."""
        values: dict[str, str] = {}
        say = self.wording(request)
        try:
            self._check_rate(request)
            body = await self._read_body(request)
            values = _parse_urlencoded(body)
            submission = self._validate(values, values.get("idempotency_key", ""), say)
            receipt = await self._queue(submission, request)
        except FormRejected as err:
            if err.status in (413, 429, 400, 503):
                return render(
                    "error.html",
                    {"title": "We could not take your message", "message": str(err)},
                    status=err.status,
                )
            return self._form_page(values, err.errors, err.status, say)
        _mailed, note = await self.mail_note(receipt.submitter.address, say)
        ticket = format_reference(receipt.reference)
        shown = Markup('<strong id="ticket">{}</strong>').format(ticket)
        context = {
            "lang": say.language,
            "t": page_texts(say),
            "received": markup(
                say,
                Key.DONE_PENDING if receipt.ticket is None else Key.DONE_TICKET,
                reference=shown,
            ),
            "ticket": ticket,
            "pending": receipt.ticket is None,
            "ticket_url": self.ticket_url(receipt.message_reference, receipt.submitter.address),
            "mail_note": note,
        }
        response = render("form_done.html", context)
        self._remember(response, receipt)
        return response

    async def submit_json(self, request: web.Request) -> web.Response:
        """Handles ``POST /api/messages``: 202 with the ticket, 200 for a resubmission."""
        try:
            self._check_rate(request)
            body = await self._read_body(request)
            try:
                raw: Any = safe_json.loads(body.decode("utf-8"))
            except (UnicodeDecodeError, ValueError) as err:
                raise FormRejected(400, {"body": f"the body must be UTF-8 JSON: {err}"}) from err
            if not isinstance(raw, dict):
                raise FormRejected(422, {"body": "the body must be a JSON object"})
            values = {k: v for k, v in raw.items() if isinstance(k, str)}
            for key in (*FIELDS, "website"):
                if key in values and not isinstance(values[key], str):
                    raise FormRejected(422, {key: f"{key} must be a string"})
            key = request.headers.get("Idempotency-Key", "") or str(
                values.get("idempotency_key", "")
            )
            submission = self._validate(values, key, self.wording(request))
            receipt = await self._queue(submission, request)
        except FormRejected as err:
            response = web.json_response(
                {"error": str(err), "fields": err.errors}, status=err.status
            )
            if err.status == 429:
                response.headers["Retry-After"] = err.errors.get("retry_after", "60")
            return response
        response = web.json_response(
            {
                "ticket": None if receipt.ticket is None else format_reference(receipt.ticket),
                "reference": receipt.reference,
                "message_reference": receipt.message_reference,
                "pending": receipt.ticket is None,
                "duplicate": receipt.duplicate,
                "ticket_url": self.ticket_url(receipt.message_reference, receipt.submitter.address),
            },
            status=200 if receipt.duplicate else 202,
        )
        self._remember(response, receipt)
        return response

    async def show_ticket(self, request: web.Request) -> web.Response:
        """The customer's view of one ticket, reachable only with its signed link."""
        found = self.links.ticket_of(request.match_info["token"])
        if found is None:
            return render(
                "error.html",
                {"title": "Unknown ticket", "message": "This ticket link is not valid."},
                status=404,
            )
        message_reference, address = found
        say = self.wording(request)
        if "#" in address:  # a form identity: only what it wrote and the answers to it
            entries = await self.transcripts.for_submitter(
                message_reference, address, external_id_prefix(address)
            )
        else:  # a link made before form identities: the ticket of that address
            entries = await self.transcripts.for_ticket(message_reference, address)
        ticket = await self.transcripts.ticket_of(message_reference)
        context = {
            "ticket": format_reference(ticket or message_reference),
            "pending": ticket is None,
            "entries": _without_repeats(entries),
            # A bot answer still waiting for the customer's word offers its choices here.
            "choices": [(c.verdict.value, say(CHOICE_KEYS[c.verdict])) for c in CHOICES],
            "answer_path": self.links.verdict_path(ticket) if ticket is not None else "",
            "mail_note": (await self.mail_note(address, say))[1],
            "lang": say.language,
            "t": page_texts(say),
            "live_path": f"{request.path}/live",
            "file_path": self.file_links.path,  # an agent's file: its signed download
            "size_in_words": size_in_words,
        }
        return render("ticket.html", context)

    async def ticket_stream(self, request: web.Request) -> web.StreamResponse:
        """``GET /ticket/<token>/live``: Server-Sent Events for one ticket page, an
        ``answer`` event each time an answer reaches its sender, until the page closes."""
        found = self.links.ticket_of(request.match_info["token"])
        if found is None:
            return web.json_response({"error": "this ticket link is not valid"}, status=404)
        address = found[1]
        streams = self._streams.setdefault(address, set())
        if len(streams) >= STREAMS_PER_SENDER:
            return web.json_response({"error": "too many open ticket pages"}, status=429)
        # Registered before the page hears "open": an answer sent from then on reaches it,
        # and the page looks once on opening for what came before.
        stream: asyncio.Queue[int | None] = asyncio.Queue(maxsize=STREAM_BUFFER)
        streams.add(stream)
        response = event_stream()
        try:
            await start(response, request)
            await pump(response, stream, lambda message_id: ("answer", {"id": message_id}))
        except ConnectionError:
            log.debug("a ticket page closed its live stream")  # a closed tab: no error
        finally:
            streams.discard(stream)
            if not streams and self._streams.get(address) is streams:
                del self._streams[address]
        return response

    async def confirm_address(self, request: web.Request) -> web.Response:
        """The link mailed to a typed address: a page with one button (opening the link
        alone confirms nothing, since mail scanners open links), and the confirmation."""
        identity = confirmed_identity(self.secret, request.match_info["token"])
        if identity is None or self.addresses is None:
            return render(
                "error.html",
                {"title": "Unknown link", "message": "This confirmation link is not valid."},
                status=404,
            )
        email = typed_address(identity)
        if request.method == "POST":
            await self.addresses.confirm(identity)
            return render("form_confirm.html", _confirm_page(self.wording(request), email, True))
        return render("form_confirm.html", _confirm_page(self.wording(request), email, False))

    # -- Steps --------------------------------------------------------------------------

    def _check_rate(self, request: web.Request) -> None:
        wait = self.limiter.check(client_ip(request))
        if wait > 0:
            raise FormRejected(
                429,
                {
                    "rate": f"too many messages from your address; try again in {wait:.0f} s",
                    "retry_after": str(max(1, round(wait))),
                },
            )

    async def _read_body(self, request: web.Request) -> bytes:
        limit = self.settings.max_body_bytes
        if request.content_length is not None and request.content_length > limit:
            raise FormRejected(
                413, {"body": f"the message is too large: the limit is {limit} bytes"}
            )
        body = bytearray()
        while chunk := await request.content.read(65_536):  # b"" at the end of the body
            body += chunk
            if len(body) > limit:
                raise FormRejected(
                    413, {"body": f"the message is too large: the limit is {limit} bytes"}
                )
        return bytes(body)

    def _validate(self, values: dict[str, Any], idempotency_key: str, say: Wording) -> Submission:
        if str(values.get("website", "")).strip():
            raise FormRejected(422, {"website": "the submission was refused as automated"})
        errors: dict[str, str] = {}
        email = single_line(str(values.get("email", ""))).lower()
        if not EMAIL_PATTERN.match(email):
            errors["email"] = say(Key.FORM_BAD_EMAIL)
        message = clean_text(str(values.get("message", "")))
        if not message:
            errors["message"] = say(Key.FORM_NO_MESSAGE)
        elif len(message) > self.settings.max_message_chars:
            errors["message"] = say(Key.FORM_TOO_LONG, limit=self.settings.max_message_chars)
        name = single_line(str(values.get("name", "")))[:200]
        subject = single_line(str(values.get("subject", "")))[:300]
        if errors:
            raise FormRejected(422, errors)
        return Submission(name, email, subject, message, single_line(idempotency_key)[:200])

    async def _queue(self, submission: Submission, request: web.Request) -> FormReceipt:
        if self._sink is None:
            raise FormRejected(503, {"service": "the inbox is starting or stopping; try again"})
        content = f"{submission.name}\n{submission.subject}\n{submission.message}"
        submitter = self.submitters.identify(
            request.cookies.get(COOKIE), submission.email, submission.idempotency_key, content
        )
        envelope = Envelope(
            channel=self.name,
            external_id=submitter.external_id(submission.idempotency_key, content),
            identity_channel=IDENTITY_CHANNEL,
            address=submitter.address,
            text=submission.message,
            received_at=time.time(),
            sender_name=submission.name,
            subject=submission.subject,
            # The browser's language: what a message too short to tell is answered in.
            meta=MessageMeta(
                ip=client_ip(request),
                language=from_accept_language(request.headers.get("Accept-Language", "")),
            ),
        )
        (receipt,) = await self._sink.put([envelope])
        ticket = await self._decided(receipt)
        return FormReceipt(receipt.reference, ticket, receipt.duplicate, submitter)

    async def _decided(self, receipt: Receipt) -> int | None:
        """The ticket the worker put the message in, waiting up to ``receipt_wait_seconds``
        for its decision (a merge or a follow-up may file it under another number)."""
        if self.settings.receipt_wait_seconds <= 0:
            return None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.settings.receipt_wait_seconds
        while True:
            ticket = await self.transcripts.ticket_of(receipt.reference)
            left = deadline - loop.time()
            if ticket is not None or left <= 0:
                return ticket
            # A worker in this process says when it commits; one in another process is
            # noticed at the next look.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._committed.wait(), min(RECEIPT_POLL, left))


def _confirm_page(say: Wording, email: str, confirmed: bool) -> dict[str, Any]:
    """The address confirmation page's context: asked, or done."""
    shown = Markup("<strong>{}</strong>").format(email)
    return {
        "lang": say.language,
        "t": page_texts(say),
        "confirmed": confirmed,
        "said": say(Key.CONFIRMED, email=email) if confirmed else "",
        "ask": markup(say, Key.CONFIRM_ASK, email=shown),
    }


def _without_repeats(entries: list[TranscriptEntry]) -> list[TranscriptEntry]:
    """The transcript without a customer message repeated word for word (a message sent
    twice is stored twice, answered once, and shown once)."""
    shown: set[str] = set()
    kept = []
    for entry in entries:
        if entry.author == "customer":
            if entry.text in shown:
                continue
            shown.add(entry.text)
        kept.append(entry)
    return kept


def _parse_urlencoded(body: bytes) -> dict[str, str]:
    """Parses a form body strictly: bytes that are not UTF-8 are refused, not guessed."""
    try:
        text = body.decode("utf-8")
        pairs = urllib.parse.parse_qsl(
            text, keep_blank_values=True, strict_parsing=False, errors="strict"
        )
    except (UnicodeDecodeError, ValueError) as err:
        raise FormRejected(400, {"body": "the form data is not valid UTF-8"}) from err
    return dict(pairs)
