"""What the desk shows: a conversation as it appears in a queue, its messages, and the whole
conversation an agent opens; and the one query every one of them starts from.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Row, select

from inbox.models import Priority, Status
from inbox.store.tables import agents, conversations

OPEN_STATES = (Status.NEW.value, Status.OPEN.value)


JsonRows = list[dict[str, Any]]


@dataclass(frozen=True)
class ConversationSummary:
    """A conversation as it appears in a queue."""

    reference: int
    subject: str
    status: str
    team: str
    priority: str
    channel: str
    assignee: str | None
    created_at: float
    updated_at: float
    first_response_due: float | None
    sla_due: float | None = None
    sla_state: str | None = None
    bot_state: str = ""  # the bot's part: "" none, holding, resolved, handed_off

    def to_json(self) -> dict[str, Any]:
        """JSON for the agent API."""
        return {
            "sla_due": self.sla_due,
            "sla_state": self.sla_state,
            "reference": self.reference,
            "ticket": f"#{self.reference}",
            "subject": self.subject,
            "status": self.status,
            "team": self.team,
            "priority": self.priority,
            "channel": self.channel,
            "assignee": self.assignee,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "first_response_due": self.first_response_due,
            "bot_state": self.bot_state,
        }


@dataclass(frozen=True)
class MessageView:
    """One message as an agent sees it, delivery state included."""

    message_id: int
    direction: str
    author: str
    channel: str
    internal: bool
    subject: str
    text: str
    created_at: float
    delivery: str | None
    delivery_error: str | None
    html: str | None = None
    attachments: tuple[dict[str, Any], ...] = ()
    author_name: str = ""  # the agent's name, for an agent's answer or note

    def to_json(self) -> dict[str, Any]:
        """JSON for the agent API."""
        return {
            "id": self.message_id,
            "author_name": self.author_name,
            "html": self.html,
            "attachments": list(self.attachments),
            "direction": self.direction,
            "author": self.author,
            "channel": self.channel,
            "internal": self.internal,
            "subject": self.subject,
            "text": self.text,
            "created_at": self.created_at,
            "delivery": self.delivery,
            "delivery_error": self.delivery_error,
        }


@dataclass(frozen=True)
class ConversationView:
    """A conversation with its messages, routing evidence and audit trail."""

    summary: ConversationSummary
    messages: list[MessageView]
    routing: dict[str, Any] | None
    events: list[dict[str, Any]]
    sla: list[dict[str, Any]] = field(default_factory=list)
    customer: dict[str, Any] = field(default_factory=dict)
    history: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """JSON for the agent API."""
        return {
            **self.summary.to_json(),
            "sla": self.sla,
            "customer": self.customer,
            "history": self.history,
            "messages": [m.to_json() for m in self.messages],
            "routing": self.routing,
            "events": self.events,
        }


def summary_query() -> Any:
    """The columns of a summary, and those an action needs (address, contact), by id."""
    return select(
        conversations.c.id,
        conversations.c.reference,
        conversations.c.subject,
        conversations.c.status,
        conversations.c.team,
        conversations.c.priority,
        conversations.c.channel,
        agents.c.name.label("assignee"),
        conversations.c.created_at,
        conversations.c.updated_at,
        conversations.c.first_response_due,
        conversations.c.sla_due,
        conversations.c.sla_state,
        conversations.c.bot_state,
        conversations.c.address,  # where answers go: not part of the summary
        conversations.c.contact_id,
    ).outerjoin(agents, agents.c.id == conversations.c.assignee_id)


def summary_of(row: Row[Any]) -> ConversationSummary:
    """The summary of a row of :func:`summary_query`."""
    return ConversationSummary(
        reference=int(row.reference),
        subject=row.subject,
        status=row.status,
        team=row.team,
        priority=Priority(row.priority).name.lower(),
        channel=row.channel,
        assignee=row.assignee,
        created_at=float(row.created_at),
        updated_at=float(row.updated_at),
        first_response_due=row.first_response_due,
        sla_due=row.sla_due,
        sla_state=row.sla_state,
        bot_state=row.bot_state,
    )
