"""What the bot says to a customer, in plain words and in their language (the texts are
in ``inbox.texts``; these put them together)."""

from __future__ import annotations

from inbox.bot_words import CHOICES
from inbox.customer_links import CustomerLinks
from inbox.text import format_reference
from inbox.texts import CHOICE_KEYS, Catalogue, Key

_OPENINGS = {
    "asked": Key.HANDOFF_ASKED,
    "unhelpful": Key.HANDOFF_UNHELPFUL,
    "unknown": Key.HANDOFF_UNKNOWN,
}


def answer_text(
    texts: Catalogue,
    language: str,
    reference: int,
    title: str,
    passage: str,
    article_url: str,
    verdict_links: list[tuple[str, str]],
) -> str:
    """A bot answer: says it is automatic, quotes the article (as written: the framing is
    the customer's language, the article its own), keeps the ticket reference and asks
    whether it solved the problem (with links where the channel has no buttons)."""
    lines = [
        texts.text(language, Key.BOT_INTRO, reference=format_reference(reference)),
        "",
        title,
        passage,
        "",
        texts.text(language, Key.BOT_ARTICLE, url=article_url),
        "",
        texts.text(language, Key.BOT_QUESTION),
    ]
    if verdict_links:
        lines += ["", *(f"{label}: {url}" for label, url in verdict_links)]
    return "\n".join(lines)


def verdict_links(
    texts: Catalogue, language: str, links: CustomerLinks, reference: int
) -> list[tuple[str, str]]:
    """The choices as links, for channels without buttons (email, the ticket page)."""
    return [
        (texts.text(language, CHOICE_KEYS[c.verdict]), links.verdict_url(reference, c.verdict))
        for c in CHOICES
    ]


def handoff_text(
    texts: Catalogue, language: str, reference: int, who: str, promise: str, reason: str
) -> str:
    """The bot passes the conversation to a person, and says so, and when."""
    return texts.text(
        language,
        Key.HANDOFF,
        opening=texts.text(language, _OPENINGS[reason]),
        reference=format_reference(reference),
        who=who,
        when=promise,
    )


def resolved_text(texts: Catalogue, language: str, reference: int) -> str:
    """The bot's last word when its answer helped."""
    return texts.text(language, Key.RESOLVED, reference=format_reference(reference))
