"""What the bot says to a customer, in plain words."""

from __future__ import annotations

from inbox.bot_words import CHOICES
from inbox.customer_links import CustomerLinks
from inbox.text import format_reference


def answer_text(
    reference: int,
    title: str,
    passage: str,
    article_url: str,
    verdict_links: list[tuple[str, str]],
) -> str:
    """A bot answer: says it is automatic, quotes the article, keeps the ticket reference
    and asks whether it solved the problem (with links where the channel has no buttons)."""
    ask = (
        "Did this solve your problem? Reply yes or no, or ask for a person and someone "
        "from our team will answer."
    )
    lines = [
        f"This is an automatic answer from our help centre (ticket {format_reference(reference)}).",
        "",
        title,
        passage,
        "",
        f"The whole article: {article_url}",
        "",
        ask,
    ]
    if verdict_links:
        lines += ["", *(f"{label}: {url}" for label, url in verdict_links)]
    return "\n".join(lines)


def verdict_links(links: CustomerLinks, reference: int) -> list[tuple[str, str]]:
    """The choices as links, for channels without buttons (email, the ticket page)."""
    return [(c.text, links.verdict_url(reference, c.verdict)) for c in CHOICES]


def handoff_text(reference: int, who: str, promise: str, reason: str) -> str:
    """The bot passes the conversation to a person, and says so, and when."""
    opening = {
        "asked": "Of course.",
        "unhelpful": "Sorry that did not help.",
        "unknown": "Thank you.",
    }[reason]
    return (
        f"{opening} I have passed your ticket {format_reference(reference)} to our team: "
        f"a person will answer you here. {who} {promise}"
    )


def resolved_text(reference: int) -> str:
    """The bot's last word when its answer helped."""
    return (
        f"Glad that helped! Ticket {format_reference(reference)} is closed. "
        "If you need anything else, just write."
    )
