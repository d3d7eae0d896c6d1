"""The customer's answer to a bot answer: the choices offered, and how an exact one reads.

Pure vocabulary, shared by the channels (which show the choices as buttons and send the
pressed one back as the customer's words) and the pipeline (which reads any reply by
meaning; an exact choice needs no model).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from inbox.texts import CHOICE_KEYS, SHIPPED_LANGUAGES, Catalogue


class BotState(enum.StrEnum):
    """The bot's part in a conversation (``conversations.bot_state``)."""

    NONE = ""  # the bot never answered in it
    HOLDING = "holding"  # it answered and waits for the customer: no agent's queue yet
    RESOLVED = "resolved"  # the customer said it helped (or did not write again)
    HANDED_OFF = "handed_off"  # a person answers from here on; the bot never speaks again


BOT_ANSWER = "bot_answer"  # the outbox kind of a bot answer: it carries the choices
ABSTAINED = "bot_abstained"  # the event of a new conversation the bot did not answer


class HandoffReason(enum.StrEnum):
    """Why the bot handed a conversation to a person, as the audit trail says it."""

    ASKED = "the customer asked for a person"
    UNHELPFUL = "the customer said the answer did not help"
    NO_ARTICLE = "the customer wrote again and no other article answers it"


class Verdict(enum.StrEnum):
    """What a customer's reply to a bot answer says."""

    YES = "yes"  # it solved the problem
    NO = "no"  # it did not
    HUMAN = "human"  # they want a person
    OTHER = "other"  # something else: a new question, perhaps


@dataclass(frozen=True)
class Choice:
    """A button under a bot answer; pressing it sends ``text`` as the customer's reply."""

    verdict: Verdict
    text: str


CHOICES = (
    Choice(Verdict.YES, "Yes, that solved it"),
    Choice(Verdict.NO, "No, that didn't help"),
    Choice(Verdict.HUMAN, "I want to talk to a person"),
)

CHOICE_TEXTS = tuple(choice.text for choice in CHOICES)  # the buttons, in order (English)


def choice_texts(texts: Catalogue, language: str) -> tuple[str, ...]:
    """The buttons' words in ``language`` (a shop's own included), in ``CHOICES``' order."""
    return tuple(texts.text(language, CHOICE_KEYS[c.verdict]) for c in CHOICES)


def exact_verdict(text: str, texts: Catalogue | None = None) -> Verdict | None:
    """The verdict of a reply that is exactly one of the choices (a pressed button), in
    any language the catalogue has (the shipped texts, with ``texts``' own over them)."""
    folded = " ".join(text.split()).casefold()
    catalogue = texts or Catalogue()
    for language in SHIPPED_LANGUAGES:
        for choice, words in zip(CHOICES, choice_texts(catalogue, language), strict=True):
            if folded == " ".join(words.split()).casefold():
                return choice.verdict
    return None
