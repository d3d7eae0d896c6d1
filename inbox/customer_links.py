"""The signed links a customer gets in messages: rate a ticket, read an article, tell the
bot whether its answer helped, follow a web form ticket (pure: no store). The web app
reads the same tokens back."""

from __future__ import annotations

from urllib.parse import quote

from inbox.bot_words import Verdict
from inbox.signing import Signer
from inbox.text import format_reference
from inbox.texts import Catalogue, Key


class CustomerLinks:
    """Makes and reads the links; ``public_url`` may change once the port is known."""

    def __init__(self, secret: bytes, public_url: str) -> None:
        self.rating = Signer(secret, "csat")
        self.verdict = Signer(secret, "bot-verdict")
        self.ticket = Signer(secret, "ticket-link")
        self.public_url = public_url

    def url(self, reference: int) -> str:
        """The link a customer taps to rate ticket ``reference``."""
        return f"{self.public_url}/rate/{self.rating.sign(str(reference))}"

    def reference(self, token: str) -> int | None:
        """The ticket a rating link is for, or None for a forged one."""
        return _number(self.rating.verify(token))

    def request_text(self, reference: int, texts: Catalogue, language: str) -> str:
        """The message sent when a conversation is resolved, in the customer's language."""
        return texts.text(
            language,
            Key.CSAT_REQUEST,
            reference=format_reference(reference),
            url=self.url(reference),
        )

    def article_url(self, article_id: str) -> str:
        """The public page of a knowledge-base article."""
        return f"{self.public_url}/kb/{quote(article_id, safe='')}"

    def verdict_url(self, reference: int, verdict: Verdict) -> str:
        """The page where a customer tells the bot whether its answer on ``reference``
        helped (the choice is made there, by a tap: opening it records nothing)."""
        return f"{self.public_url}{self.verdict_path(reference)}?v={verdict.value}"

    def verdict_path(self, reference: int) -> str:
        """Where the choice on ``reference`` is posted (the ticket page's buttons)."""
        return f"/answer/{self.verdict.sign(str(reference))}"

    def ticket_path(self, reference: int, address: str) -> str:
        """The web form ticket page of ``reference`` for one form identity (``address``)."""
        return f"/ticket/{self.ticket.sign(f'{reference}:{address}')}"

    def ticket_url(self, reference: int, address: str) -> str:
        """``ticket_path`` as a full link, for a mail."""
        return self.public_url + self.ticket_path(reference, address)

    def ticket_of(self, token: str) -> tuple[int, str] | None:
        """The reference and form identity a ticket link is for, or None for a forged one."""
        value = self.ticket.verify(token)
        if value is None:
            return None
        reference, _, address = value.partition(":")
        return (int(reference), address) if reference.isdigit() else None

    def verdict_reference(self, token: str) -> int | None:
        """The ticket a verdict link is for, or None for a forged one."""
        return _number(self.verdict.verify(token))


def _number(value: str | None) -> int | None:
    return int(value) if value is not None and value.isdigit() else None
