"""The texts a customer reads, each by name, and the placeholders each one may use."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from types import MappingProxyType


class Key(enum.StrEnum):
    """One customer-facing text; its value is its name in ``[texts.<language>]``."""

    # The instant answers: a new ticket, a message joining one.
    ACKNOWLEDGEMENT = "acknowledgement"
    FOLLOW_UP = "follow_up"
    TEAM_NAMED = "team_named"
    TEAM_FALLBACK = "team_fallback"
    ANSWERS_WITHIN = "answers_within"
    ANSWERS_SOON = "answers_soon"
    SPAN_MINUTES = "span_minutes"
    SPAN_BUSINESS_MINUTES = "span_business_minutes"
    SPAN_HOUR = "span_hour"
    SPAN_BUSINESS_HOUR = "span_business_hour"
    SPAN_HOURS = "span_hours"
    SPAN_BUSINESS_HOURS = "span_business_hours"
    # The bot's answer, its choices, its handoff and its last word.
    BOT_INTRO = "bot_intro"
    BOT_ARTICLE = "bot_article"
    BOT_QUESTION = "bot_question"
    CHOICE_YES = "choice_yes"
    CHOICE_NO = "choice_no"
    CHOICE_HUMAN = "choice_human"
    HANDOFF = "handoff"
    HANDOFF_ASKED = "handoff_asked"
    HANDOFF_UNHELPFUL = "handoff_unhelpful"
    HANDOFF_UNKNOWN = "handoff_unknown"
    RESOLVED = "resolved"
    # The chat commands' replies.
    HELP = "help"
    START = "start"
    START_NAMED = "start_named"
    STOPPED = "stopped"
    STOPPED_ALREADY = "stopped_already"
    RESUMED = "resumed"
    RESUMED_ALREADY = "resumed_already"
    STATUS_NO_TICKETS = "status_no_tickets"
    STATUS_NONE_OPEN = "status_none_open"
    STATUS_OPEN = "status_open"
    STATE_NEW = "state_new"
    STATE_OPEN = "state_open"
    STATE_PENDING = "state_pending"
    HUMAN_NO_TICKET = "human_no_ticket"
    HUMAN_PASSED = "human_passed"
    LINK_UNAVAILABLE = "link_unavailable"
    LINK_USAGE = "link_usage"
    LINK_TOO_MANY = "link_too_many"
    LINK_SENT = "link_sent"
    LINK_MAIL_SUBJECT = "link_mail_subject"
    LINK_MAIL = "link_mail"
    VERIFY_NONE = "verify_none"
    VERIFY_VOID = "verify_void"
    VERIFY_WRONG_ONE = "verify_wrong_one"
    VERIFY_WRONG_MANY = "verify_wrong_many"
    VERIFY_DONE = "verify_done"
    # The rating request and its page.
    CSAT_REQUEST = "csat_request"
    RATE_TITLE = "rate_title"
    RATE_HEADING = "rate_heading"
    RATE_THANKS = "rate_thanks"
    RATE_COMMENT = "rate_comment"
    SCORE_5 = "score_5"
    SCORE_4 = "score_4"
    SCORE_3 = "score_3"
    SCORE_2 = "score_2"
    SCORE_1 = "score_1"
    # The page behind a bot answer's links (email, the ticket page).
    ANSWER_TITLE = "answer_title"
    ANSWER_HEADING = "answer_heading"
    ANSWER_RESOLVED = "answer_resolved"
    ANSWER_PASSED = "answer_passed"
    ANSWER_TAKEN = "answer_taken"
    # Mail subjects of their own (a ticket's mail answers the customer's subject).
    MAIL_SUBJECT = "mail_subject"
    MAIL_REQUEST = "mail_request"
    CONFIRM_MAIL_SUBJECT = "confirm_mail_subject"
    CONFIRM_MAIL = "confirm_mail"
    # The web form, its receipt and the ticket page.
    CONFIRM_TITLE = "confirm_title"
    CONFIRM_ASK = "confirm_ask"
    CONFIRM_BUTTON = "confirm_button"
    CONFIRMED = "confirmed"
    FORM_TITLE = "form_title"
    FORM_INTRO = "form_intro"
    FORM_ERRORS = "form_errors"
    FORM_NAME = "form_name"
    FORM_EMAIL = "form_email"
    FORM_SUBJECT = "form_subject"
    FORM_MESSAGE = "form_message"
    FORM_HONEYPOT = "form_honeypot"
    FORM_SEND = "form_send"
    FORM_BAD_EMAIL = "form_bad_email"
    FORM_NO_MESSAGE = "form_no_message"
    FORM_TOO_LONG = "form_too_long"
    DONE_TITLE = "done_title"
    DONE_PENDING = "done_pending"
    DONE_PENDING_KEEP = "done_pending_keep"
    DONE_TICKET = "done_ticket"
    DONE_TICKET_KEEP = "done_ticket_keep"
    DONE_FOLLOW = "done_follow"
    NOTE_NO_MAIL = "note_no_mail"
    NOTE_MAILED = "note_mailed"
    NOTE_UNCONFIRMED = "note_unconfirmed"
    TICKET = "ticket"
    MESSAGE = "message"
    TICKET_PROCESSING = "ticket_processing"
    TICKET_RELOAD = "ticket_reload"
    TICKET_ASK = "ticket_ask"
    YOU = "you"
    SUPPORT = "support"
    # The chat widget.
    CHAT_TITLE = "chat_title"
    CHAT_CONNECTING = "chat_connecting"
    CHAT_CONNECTED = "chat_connected"
    CHAT_RECONNECTING = "chat_reconnecting"
    CHAT_UNREACHABLE = "chat_unreachable"
    CHAT_CONVERSATION = "chat_conversation"
    CHAT_NAME = "chat_name"
    CHAT_MESSAGE = "chat_message"
    CHAT_PLACEHOLDER = "chat_placeholder"
    CHAT_SEND = "chat_send"
    CHAT_QUICK_REPLIES = "chat_quick_replies"
    CHAT_AS = "chat_as"
    CHAT_ACCOUNT = "chat_account"
    CHAT_REFUSED = "chat_refused"


_PLACEHOLDERS: dict[Key, frozenset[str]] = {
    Key.ACKNOWLEDGEMENT: frozenset({"reference", "who", "when"}),
    Key.FOLLOW_UP: frozenset({"reference"}),
    Key.TEAM_NAMED: frozenset({"team"}),
    Key.ANSWERS_WITHIN: frozenset({"span"}),
    Key.SPAN_MINUTES: frozenset({"count"}),
    Key.SPAN_BUSINESS_MINUTES: frozenset({"count"}),
    Key.SPAN_HOURS: frozenset({"count"}),
    Key.SPAN_BUSINESS_HOURS: frozenset({"count"}),
    Key.BOT_INTRO: frozenset({"reference"}),
    Key.BOT_ARTICLE: frozenset({"url"}),
    Key.HANDOFF: frozenset({"opening", "reference", "who", "when"}),
    Key.RESOLVED: frozenset({"reference"}),
    Key.START: frozenset({"help"}),
    Key.START_NAMED: frozenset({"name", "help"}),
    Key.STATUS_OPEN: frozenset({"tickets"}),
    Key.HUMAN_PASSED: frozenset({"reference"}),
    Key.LINK_SENT: frozenset({"email", "minutes"}),
    Key.LINK_MAIL: frozenset({"code", "minutes"}),
    Key.VERIFY_WRONG_MANY: frozenset({"left"}),
    Key.VERIFY_DONE: frozenset({"email"}),
    Key.CSAT_REQUEST: frozenset({"reference", "url"}),
    Key.RATE_HEADING: frozenset({"reference"}),
    Key.ANSWER_HEADING: frozenset({"reference"}),
    Key.CONFIRM_MAIL_SUBJECT: frozenset({"reference"}),
    Key.CONFIRM_MAIL: frozenset({"reference", "link"}),
    Key.FORM_TOO_LONG: frozenset({"limit"}),
    Key.CONFIRM_ASK: frozenset({"email"}),
    Key.CONFIRMED: frozenset({"email"}),
    Key.DONE_PENDING: frozenset({"reference"}),
    Key.DONE_TICKET: frozenset({"reference"}),
    Key.NOTE_MAILED: frozenset({"email"}),
    Key.NOTE_UNCONFIRMED: frozenset({"email"}),
    Key.CHAT_AS: frozenset({"name"}),
    Key.CHAT_REFUSED: frozenset({"reason"}),
}
PLACEHOLDERS: Mapping[Key, frozenset[str]] = MappingProxyType(
    {key: _PLACEHOLDERS.get(key, frozenset()) for key in Key}
)
"""The placeholders each text may use (and every shipped text uses all of its own)."""

CHAT_KEYS = (*(key for key in Key if key.value.startswith("chat_")), Key.YOU, Key.SUPPORT)
"""The texts the chat widget's script shows, handed to it in the page."""

CHOICE_KEYS: Mapping[str, Key] = MappingProxyType(
    {"yes": Key.CHOICE_YES, "no": Key.CHOICE_NO, "human": Key.CHOICE_HUMAN}
)
"""The text of each choice under a bot answer, by its verdict (``inbox.bot_words``)."""
