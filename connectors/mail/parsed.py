"""The parsed record of one inbound mail, and the refusal of a mail that cannot be one."""

from __future__ import annotations

from dataclasses import dataclass

from inbox.errors import InvalidMessage
from inbox.models import Attachment

MAX_SUBJECT = 300


class UnparseableMail(InvalidMessage):
    """The mail cannot become a ticket; the reason says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class ParsedMail:
    """Everything the email connector needs from one inbound mail."""

    message_id: str
    in_reply_to: tuple[str, ...]
    references: tuple[str, ...]
    from_address: str
    from_name: str
    to: tuple[str, ...]
    subject: str
    date: float | None
    text: str
    classify_text: str
    html: str
    attachments: tuple[Attachment, ...]
    automated: str
    defects: tuple[str, ...]
    # Message-IDs of the mail a report (bounce, complaint, read receipt) is about, from its
    # attached original; such reports rarely carry In-Reply-To.
    reported: tuple[str, ...] = ()
