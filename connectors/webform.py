"""The web form channel: an accessible HTML form and a JSON endpoint.

A submission is answered with its ticket reference only after the queue has it on disk.
An idempotency key (hidden field or ``Idempotency-Key`` header) makes a resubmission
return the same ticket. A honeypot field and a per-IP rate limit keep bots out; size
limits answer 413 or 422 with a clear message. Answers to form customers appear on their
ticket page (a signed link); the email channel, when configured, also mails them.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import time
import urllib.parse
import uuid
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from connectors.base import CustomerTranscripts
from connectors.pages import client_ip, render
from connectors.ratelimit import RateLimiter
from inbox import safe_json
from inbox.config import FormSettings
from inbox.models import Envelope, Outbound, Receipt
from inbox.queue import Sink
from inbox.signing import Signer
from inbox.text import clean_text, format_reference, single_line

EMAIL_PATTERN = re.compile(r"^[^@\s<>\"']{1,64}@[A-Za-z0-9.-]{1,253}\.[A-Za-z]{2,63}$")
FIELDS = ("name", "email", "subject", "message")


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


class WebFormConnector:
    """``GET /form``, ``POST /form``, ``POST /api/messages`` and the ticket page."""

    name = "form"

    def __init__(
        self, settings: FormSettings, secret: bytes, transcripts: CustomerTranscripts
    ) -> None:
        self.settings = settings
        self.transcripts = transcripts
        self.ticket_links = Signer(secret, "ticket-link")
        self.limiter = RateLimiter(settings.rate_limit_per_minute)
        self._sink: Sink | None = None
        self._ready = asyncio.Event()

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

    async def send(self, outbound: Outbound) -> str:
        """Publishes the answer on the customer's ticket page (the store keeps it)."""
        return f"ticket-page:{outbound.message_id}"

    async def close_connections(self) -> None:
        """Nothing long-lived to close: every form request ends with its response."""

    async def close(self) -> None:
        """Nothing to release: answers are only stored."""

    def routes(self) -> list[web.AbstractRouteDef]:
        """The form's HTTP routes."""
        return [
            web.get("/form", self.show_form),
            web.post("/form", self.submit_form),
            web.post("/api/messages", self.submit_json),
            web.get("/ticket/{token}", self.show_ticket),
        ]

    def ticket_url(self, reference: int, email: str) -> str:
        """The signed link to a ticket's page."""
        return f"/ticket/{self.ticket_links.sign(f'{reference}:{email}')}"

    # -- Handlers -----------------------------------------------------------------------

    async def show_form(self, request: web.Request) -> web.Response:
        """The empty form, with a fresh idempotency key."""
        return self._form_page({}, {}, 200)

    def _form_page(
        self, values: dict[str, str], errors: dict[str, str], status: int
    ) -> web.Response:
        context = {
            "values": {f: values.get(f, "") for f in FIELDS},
            "errors": errors,
            "idempotency_key": values.get("idempotency_key") or uuid.uuid4().hex,
            "max_chars": self.settings.max_message_chars,
        }
        return render("form.html", context, status=status)

    async def submit_form(self, request: web.Request) -> web.Response:
        """Handles the HTML form; errors re-render the form with the values kept."""
        values: dict[str, str] = {}
        try:
            self._check_rate(request)
            body = await self._read_body(request)
            values = _parse_urlencoded(body)
            submission = self._validate(values, values.get("idempotency_key", ""))
            receipt = await self._queue(submission, request)
        except FormRejected as err:
            if err.status in (413, 429, 400, 503):
                return render(
                    "error.html",
                    {"title": "We could not take your message", "message": str(err)},
                    status=err.status,
                )
            return self._form_page(values, err.errors, err.status)
        context = {
            "ticket": format_reference(receipt.reference),
            "ticket_url": self.ticket_url(receipt.reference, submission.email),
        }
        return render("form_done.html", context)

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
            submission = self._validate(values, key)
            receipt = await self._queue(submission, request)
        except FormRejected as err:
            response = web.json_response(
                {"error": str(err), "fields": err.errors}, status=err.status
            )
            if err.status == 429:
                response.headers["Retry-After"] = err.errors.get("retry_after", "60")
            return response
        return web.json_response(
            {
                "ticket": format_reference(receipt.reference),
                "reference": receipt.reference,
                "duplicate": receipt.duplicate,
                "ticket_url": self.ticket_url(receipt.reference, submission.email),
            },
            status=200 if receipt.duplicate else 202,
        )

    async def show_ticket(self, request: web.Request) -> web.Response:
        """The customer's view of one ticket, reachable only with its signed link."""
        value = self.ticket_links.verify(request.match_info["token"])
        if value is None:
            return render(
                "error.html",
                {"title": "Unknown ticket", "message": "This ticket link is not valid."},
                status=404,
            )
        reference_text, email = value.split(":", 1)
        entries = await self.transcripts.for_ticket(int(reference_text), email)
        # A follow-up that joined an earlier ticket is shown under that ticket's number.
        reference = entries[0].reference if entries else int(reference_text)
        context = {"ticket": format_reference(reference), "entries": entries}
        return render("ticket.html", context)

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

    def _validate(self, values: dict[str, Any], idempotency_key: str) -> Submission:
        if str(values.get("website", "")).strip():
            raise FormRejected(422, {"website": "the submission was refused as automated"})
        errors: dict[str, str] = {}
        email = single_line(str(values.get("email", ""))).lower()
        if not EMAIL_PATTERN.match(email):
            errors["email"] = "Enter a valid email address, like name@example.com"
        message = clean_text(str(values.get("message", "")))
        if not message:
            errors["message"] = "Write a message"
        elif len(message) > self.settings.max_message_chars:
            errors["message"] = (
                f"The message is too long: at most {self.settings.max_message_chars} characters"
            )
        name = single_line(str(values.get("name", "")))[:200]
        subject = single_line(str(values.get("subject", "")))[:300]
        if errors:
            raise FormRejected(422, errors)
        return Submission(name, email, subject, message, single_line(idempotency_key)[:200])

    async def _queue(self, submission: Submission, request: web.Request) -> Receipt:
        if self._sink is None:
            raise FormRejected(503, {"service": "the inbox is starting or stopping; try again"})
        if submission.idempotency_key:
            scoped = f"{submission.email}\n{submission.idempotency_key}".encode()
            external_id = "idem:" + hashlib.sha256(scoped).hexdigest()[:40]
        else:
            external_id = "form:" + uuid.uuid4().hex
        envelope = Envelope(
            channel=self.name,
            external_id=external_id,
            identity_channel="email",
            address=submission.email,
            text=submission.message,
            received_at=time.time(),
            sender_name=submission.name,
            subject=submission.subject,
            meta={"ip": client_ip(request)},
        )
        (receipt,) = await self._sink.put([envelope])
        return receipt


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
