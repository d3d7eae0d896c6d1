"""The shipped texts in English: the product's own wording."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from inbox.texts.keys import Key

TEXTS: Mapping[Key, str] = MappingProxyType(
    {
        Key.ACKNOWLEDGEMENT: (
            "Thank you, we have your message. Your ticket is {reference}. {who} {when}"
        ),
        Key.FOLLOW_UP: (
            "Thank you, we have added your message to ticket {reference}. "
            "The team handling it will answer there."
        ),
        Key.TEAM_NAMED: "The {team} team",
        Key.TEAM_FALLBACK: "Our support team",
        Key.ANSWERS_WITHIN: "usually answers within {span}.",
        Key.ANSWERS_SOON: "will answer you as soon as possible.",
        Key.SPAN_MINUTES: "{count} minutes",
        Key.SPAN_BUSINESS_MINUTES: "{count} business minutes",
        Key.SPAN_HOUR: "1 hour",
        Key.SPAN_BUSINESS_HOUR: "1 business hour",
        Key.SPAN_HOURS: "{count} hours",
        Key.SPAN_BUSINESS_HOURS: "{count} business hours",
        Key.BOT_INTRO: "This is an automatic answer from our help centre (ticket {reference}).",
        Key.BOT_ARTICLE: "The whole article: {url}",
        Key.BOT_QUESTION: (
            "Did this solve your problem? Reply yes or no, or ask for a person and someone "
            "from our team will answer."
        ),
        Key.CHOICE_YES: "Yes, that solved it",
        Key.CHOICE_NO: "No, that didn't help",
        Key.CHOICE_HUMAN: "I want to talk to a person",
        Key.HANDOFF: (
            "{opening} I have passed your ticket {reference} to our team: "
            "a person will answer you here. {who} {when}"
        ),
        Key.HANDOFF_ASKED: "Of course.",
        Key.HANDOFF_UNHELPFUL: "Sorry that did not help.",
        Key.HANDOFF_UNKNOWN: "Thank you.",
        Key.RESOLVED: (
            "Glad that helped! Ticket {reference} is closed. If you need anything else, just write."
        ),
        Key.HELP: (
            "Write your question here: you get a ticket number at once, and our team answers in "
            "this chat.\n\n"
            "/status - your open tickets\n"
            "/human - ask for a person\n"
            "/link you@example.com - join this chat with your email history\n"
            "/stop - no more automatic messages (our team's answers still come)"
        ),
        Key.START: "Hello! This is our support desk.\n\n{help}",
        Key.START_NAMED: "Hello {name}! This is our support desk.\n\n{help}",
        Key.STOPPED: (
            "Done: you get no more automatic messages from us (acknowledgements, the bot's "
            "answers, rating requests). Our team's answers still come here. Send /resume to "
            "have them again."
        ),
        Key.STOPPED_ALREADY: (
            "Automatic messages are already off. Our team's answers still come here."
        ),
        Key.RESUMED: "Automatic messages are on again. Send /stop to turn them off.",
        Key.RESUMED_ALREADY: "Automatic messages are on. Send /stop to turn them off.",
        Key.STATUS_NO_TICKETS: (
            "You have no tickets with us yet. Write your question and you will get one."
        ),
        Key.STATUS_NONE_OPEN: "You have no open tickets.",
        Key.STATUS_OPEN: "Your open tickets:\n{tickets}",
        Key.STATE_NEW: "new",
        Key.STATE_OPEN: "open",
        Key.STATE_PENDING: "pending",
        Key.HUMAN_NO_TICKET: "Write your question here and a person from our team will answer it.",
        Key.HUMAN_PASSED: "A person from our team will answer here about ticket {reference}.",
        Key.LINK_UNAVAILABLE: "Linking with an email address is not available here.",
        Key.LINK_USAGE: (
            "Send /link followed by your email address, for example /link you@example.com"
        ),
        Key.LINK_TOO_MANY: "You asked for several codes within the hour; please try again later.",
        Key.LINK_SENT: (
            "We sent a code to {email}. Send /verify CODE here within {minutes} minutes."
        ),
        Key.LINK_MAIL_SUBJECT: "Your code to link your chat",
        Key.LINK_MAIL: (
            "Your code is {code}.\n\n"
            "Send /verify {code} in the chat within {minutes} minutes to join your chat "
            "with the tickets of this email address.\n\n"
            "If you did not ask for this, ignore this mail: nothing is linked without the code."
        ),
        Key.VERIFY_NONE: "No code is waiting for this chat. Send /link you@example.com first.",
        Key.VERIFY_VOID: (
            "That code is not right, and it is now void. Send /link again for a new one."
        ),
        Key.VERIFY_WRONG_ONE: "That code is not right. You can try 1 more time.",
        Key.VERIFY_WRONG_MANY: "That code is not right. You can try {left} more times.",
        Key.VERIFY_DONE: (
            "Done: this chat is now linked with {email}. /status shows all your open tickets."
        ),
        Key.CSAT_REQUEST: (
            "Your ticket {reference} is resolved. How did we do? One tap tells us: "
            "{url}\nIf something is still wrong, just write back."
        ),
        Key.RATE_TITLE: "How did we do?",
        Key.RATE_HEADING: "How did we do with ticket {reference}?",
        Key.RATE_THANKS: "Thank you! You can change your rating below.",
        Key.RATE_COMMENT: "Anything to add? (optional)",
        Key.SCORE_5: "Very happy",
        Key.SCORE_4: "Happy",
        Key.SCORE_3: "Neutral",
        Key.SCORE_2: "Unhappy",
        Key.SCORE_1: "Very unhappy",
        Key.ANSWER_TITLE: "Did our answer help?",
        Key.ANSWER_HEADING: "Did our answer help with ticket {reference}?",
        Key.ANSWER_RESOLVED: (
            "Glad it helped! Your ticket is closed. If you need anything else, just write to us."
        ),
        Key.ANSWER_PASSED: (
            "Thank you. A person from our team now has your ticket and will answer you."
        ),
        Key.ANSWER_TAKEN: (
            "A person from our team already has this ticket; there is nothing more to choose here."
        ),
        Key.MAIL_REQUEST: "Your request",
        Key.MAIL_SUBJECT: "A message from support",
        Key.CONFIRM_MAIL_SUBJECT: "Confirm your address for ticket {reference}",
        Key.CONFIRM_MAIL: (
            "Somebody wrote to us on our web form with this address (ticket {reference}).\n\n"
            "If it was you, confirm your address here:\n{link}\n\n"
            "Then your messages from that browser join your history with us.\n"
            "If it was not you, ignore this mail: nothing is shown to anybody who "
            "does not hold this mailbox."
        ),
        Key.CONFIRM_TITLE: "Confirm your address",
        Key.CONFIRM_ASK: (
            "Confirm that {email} is your address, and that you wrote to us on our web form."
        ),
        Key.CONFIRM_BUTTON: "Yes, this is my address",
        Key.CONFIRMED: (
            "{email} is confirmed. Your messages from the web form now join your history with us."
        ),
        Key.FORM_TITLE: "Contact support",
        Key.FORM_INTRO: "Write to us and you get a ticket reference at once.",
        Key.FORM_ERRORS: "Please correct the following:",
        Key.FORM_NAME: "Your name",
        Key.FORM_EMAIL: "Email address",
        Key.FORM_SUBJECT: "Subject",
        Key.FORM_MESSAGE: "Message",
        Key.FORM_HONEYPOT: "Leave this field empty",
        Key.FORM_SEND: "Send",
        Key.FORM_BAD_EMAIL: "Enter a valid email address, like name@example.com",
        Key.FORM_NO_MESSAGE: "Write a message",
        Key.FORM_TOO_LONG: "The message is too long: at most {limit} characters",
        Key.DONE_TITLE: "Thank you",
        Key.DONE_PENDING: "We have your message. Its reference is {reference}.",
        Key.DONE_PENDING_KEEP: (
            "Keep this reference: it leads to your ticket, and the page below shows it with "
            "our answers."
        ),
        Key.DONE_TICKET: "We have your message. Your ticket is {reference}.",
        Key.DONE_TICKET_KEEP: (
            "Keep this reference: quote it when you write again from this browser and your "
            "message joins the same ticket."
        ),
        Key.DONE_FOLLOW: "Follow your ticket",
        Key.NOTE_NO_MAIL: (
            "We will not email you: this service sends no email. Our answers appear on "
            "this page only, so keep its address (bookmark it) to come back."
        ),
        Key.NOTE_MAILED: "We also email answers to {email}.",
        Key.NOTE_UNCONFIRMED: (
            "We will not email you: {email} is not confirmed. We mailed a confirmation "
            "link there; once you confirm it, we also email our answers to it. Until then "
            "they appear on this page only, so keep its address."
        ),
        Key.TICKET: "Ticket",
        Key.MESSAGE: "Message",
        Key.TICKET_PROCESSING: (
            "Your message is being processed; this page shows our answers as they come."
        ),
        Key.TICKET_RELOAD: "Reload this page to see new answers.",
        Key.TICKET_ASK: "Did this solve your problem?",
        Key.YOU: "You",
        Key.SUPPORT: "Support",
        Key.CHAT_TITLE: "Chat with support",
        Key.CHAT_CONNECTING: "Connecting…",
        Key.CHAT_CONNECTED: "Connected",
        Key.CHAT_RECONNECTING: "Reconnecting…",
        Key.CHAT_UNREACHABLE: "Cannot reach support; retrying…",
        Key.CHAT_CONVERSATION: "Conversation",
        Key.CHAT_NAME: "Your name (optional)",
        Key.CHAT_MESSAGE: "Your message",
        Key.CHAT_PLACEHOLDER: "Type your message",
        Key.CHAT_SEND: "Send",
        Key.CHAT_QUICK_REPLIES: "Quick replies",
        Key.CHAT_AS: "Chatting as {name}",
        Key.CHAT_ACCOUNT: "Chatting with your account",
        Key.CHAT_REFUSED: (
            "We could not confirm your account, so this chat is anonymous ({reason})."
        ),
    }
)
