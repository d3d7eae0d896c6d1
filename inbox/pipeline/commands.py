"""Bot commands a chat customer sends (/start, /status, /human, /link, /verify, /stop,
/resume).

They ride the queue like messages, so each is answered exactly once, in order with the
customer's other answers. None of them opens a ticket.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

from sqlalchemy import ColumnElement, and_, case, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from inbox.bot_words import HandoffReason
from inbox.config.settings import Settings
from inbox.models import Envelope, Priority, Status
from inbox.store.bot_rows import take_from_bot
from inbox.store.contact_policy import stop_automatic
from inbox.store.engine import now
from inbox.store.links import contact_of, ensure_contact, join_identities
from inbox.store.tables import bot_commands, contacts, conversations, link_codes
from inbox.store.writes import queue_service_answer, record_event
from inbox.text import format_reference, single_line
from inbox.texts import Catalogue, Key, Wording, customer_language

EMAIL = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")
MAX_CODE_TRIES = 5
LINK_WINDOW = 3600.0

STATES = {
    Status.NEW.value: Key.STATE_NEW,
    Status.OPEN.value: Key.STATE_OPEN,
    Status.PENDING.value: Key.STATE_PENDING,
}


def _greeting(say: Wording, name: str) -> str:
    if name:
        return say(Key.START_NAMED, name=name, help=say(Key.HELP))
    return say(Key.START, help=say(Key.HELP))


async def customer_wording(conn: AsyncConnection, env: Envelope, texts: Catalogue) -> Wording:
    """The texts in the language of the customer behind this chat: the one kept on them,
    else their chat app's (a command is too short to tell), else English."""
    contact = await contact_of(conn, env.identity_channel, env.address)
    kept = ""
    if contact is not None:
        kept = str(
            await conn.scalar(select(contacts.c.language).where(contacts.c.id == contact)) or ""
        )
    return texts.wording(customer_language("", env.meta.language, kept))


async def answer_command(conn: AsyncConnection, env: Envelope, settings: Settings) -> bool:
    """Answers one command; False if it was answered before (a redelivery)."""
    known = await conn.scalar(
        select(bot_commands.c.id).where(
            bot_commands.c.channel == env.channel,
            bot_commands.c.external_id == env.external_id,
        )
    )
    if known is not None:
        return False
    name, args = env.meta.command or "help", env.meta.args
    await conn.execute(
        insert(bot_commands).values(
            channel=env.channel,
            external_id=env.external_id,
            address=env.address,
            command=name,
            created_at=now(),
        )
    )
    say = await customer_wording(conn, env, settings.texts)
    if name == "start":
        text = _greeting(say, single_line(env.sender_name.split(" ")[0]))
        # Telegram sends /start when a customer restarts the bot: they want to hear from it.
        await _automatic(conn, env, stop=False)
    elif name == "stop":
        changed = await _automatic(conn, env, stop=True)
        text = say(Key.STOPPED if changed else Key.STOPPED_ALREADY)
    elif name == "resume":
        changed = await _automatic(conn, env, stop=False)
        text = say(Key.RESUMED if changed else Key.RESUMED_ALREADY)
    elif name == "status":
        text = await _status(conn, env, say)
    elif name == "human":
        text = await _human(conn, env, say)
    elif name == "link":
        text = await _link(conn, env, args, settings, say)
    elif name == "verify":
        text = await _verify(conn, env, args, settings, say)
    else:
        text = say(Key.HELP)
    await queue_service_answer(conn, channel=env.channel, address=env.address, text=text)
    return True


async def _automatic(conn: AsyncConnection, env: Envelope, *, stop: bool) -> bool:
    """Stops (or resumes) automatic messages to the customer behind this chat, on all
    their linked channels; True if that changed anything. Each of their open
    conversations records it, so agents see it."""
    if stop:  # kept for the customer's first message too
        name = single_line(env.sender_name)
        contact: int | None = await ensure_contact(conn, env.identity_channel, env.address, name)
    else:
        contact = await contact_of(conn, env.identity_channel, env.address)
    if contact is None:
        return False
    via = f"/{'stop' if stop else 'resume'} on {env.channel}"
    return await stop_automatic(conn, contact, stop, "customer", via)


async def _status(conn: AsyncConnection, env: Envelope, say: Wording) -> str:
    contact = await contact_of(conn, env.identity_channel, env.address)
    if contact is None:
        return say(Key.STATUS_NO_TICKETS)
    rows = (
        await conn.execute(
            select(
                conversations.c.reference,
                conversations.c.status,
                conversations.c.channel,
                conversations.c.subject,
            )
            .where(
                conversations.c.contact_id == contact,
                conversations.c.status != Status.RESOLVED.value,
            )
            .order_by(conversations.c.created_at)
        )
    ).all()
    if not rows:
        return say(Key.STATUS_NONE_OPEN)
    lines = [
        f"{format_reference(int(r.reference))} - {_state(say, r.status)} - {r.channel}"
        + (f" - {single_line(r.subject)[:60]}" if r.subject else "")
        for r in rows
    ]
    return say(Key.STATUS_OPEN, tickets="\n".join(lines))


def _state(say: Wording, status: str) -> str:
    key = STATES.get(status)
    return say(key) if key is not None else status


async def _open_session(conn: AsyncConnection, env: Envelope) -> tuple[int, int] | None:
    row = (
        await conn.execute(
            select(conversations.c.id, conversations.c.reference)
            .where(
                conversations.c.channel == env.channel,
                conversations.c.address == env.address,
                conversations.c.status != Status.RESOLVED.value,
            )
            .order_by(conversations.c.id.desc())
            .limit(1)
        )
    ).first()
    return None if row is None else (int(row[0]), int(row[1]))


async def _human(conn: AsyncConnection, env: Envelope, say: Wording) -> str:
    session = await _open_session(conn, env)
    if session is None:
        return say(Key.HUMAN_NO_TICKET)
    conversation_id, reference = session
    await conn.execute(
        update(conversations)
        .where(conversations.c.id == conversation_id)
        .values(
            priority=case(
                (conversations.c.priority < int(Priority.HIGH), int(Priority.HIGH)),
                else_=conversations.c.priority,
            ),
            updated_at=now(),
        )
    )
    await record_event(conn, conversation_id, "human_requested", "customer", {})
    # If the bot holds the conversation, this is its handoff: this reply tells the customer.
    await take_from_bot(conn, conversation_id, "customer", HandoffReason.ASKED)
    return say(Key.HUMAN_PASSED, reference=format_reference(reference))


def _code_hash(settings: Settings, env: Envelope, email: str, code: str) -> str:
    message = f"link:{env.identity_channel}:{env.address}:{email}:{code}".encode()
    return hmac.new(settings.secret, message, hashlib.sha256).hexdigest()


def _codes_of(env: Envelope) -> ColumnElement[bool]:
    """The link codes this chat asked for."""
    return and_(
        link_codes.c.identity_channel == env.identity_channel,
        link_codes.c.address == env.address,
    )


def _masked(email: str) -> str:
    local, _, domain = email.partition("@")
    return f"{local[:1]}***@{domain}"


async def _link(
    conn: AsyncConnection, env: Envelope, args: str, settings: Settings, say: Wording
) -> str:
    linking = settings.linking
    if not linking.link_via:
        return say(Key.LINK_UNAVAILABLE)
    email = args.strip().lower()
    if not EMAIL.match(email):
        return say(Key.LINK_USAGE)
    stamp = now()
    recent = await conn.scalar(
        select(func.count())
        .select_from(link_codes)
        .where(_codes_of(env), link_codes.c.created_at > stamp - LINK_WINDOW)
    )
    if int(recent or 0) >= linking.per_hour:
        return say(Key.LINK_TOO_MANY)
    code = f"{secrets.randbelow(10**6):06d}"
    minutes = linking.code_minutes
    # A new code replaces any earlier one still waiting.
    await conn.execute(
        update(link_codes)
        .where(_codes_of(env), link_codes.c.used_at.is_(None))
        .values(used_at=stamp)
    )
    await conn.execute(
        insert(link_codes).values(
            identity_channel=env.identity_channel,
            address=env.address,
            email=email,
            code_hash=_code_hash(settings, env, email, code),
            attempts=0,
            expires_at=stamp + minutes * 60,
            created_at=stamp,
        )
    )
    await queue_service_answer(
        conn,
        channel=linking.link_via,
        address=email,
        subject=say(Key.LINK_MAIL_SUBJECT),
        text=say(Key.LINK_MAIL, code=code, minutes=f"{minutes:g}"),
    )
    return say(Key.LINK_SENT, email=_masked(email), minutes=f"{minutes:g}")


async def _verify(
    conn: AsyncConnection, env: Envelope, args: str, settings: Settings, say: Wording
) -> str:
    stamp = now()
    row = (
        await conn.execute(
            select(link_codes)
            .where(
                _codes_of(env),
                link_codes.c.used_at.is_(None),
                link_codes.c.expires_at > stamp,
                link_codes.c.attempts < MAX_CODE_TRIES,
            )
            .order_by(link_codes.c.id.desc())
            .limit(1)
        )
    ).first()
    if row is None:
        return say(Key.VERIFY_NONE)
    code = "".join(args.split())
    expected = _code_hash(settings, env, row.email, code)
    if not hmac.compare_digest(expected, row.code_hash):
        tries = int(row.attempts) + 1
        await conn.execute(
            update(link_codes).where(link_codes.c.id == row.id).values(attempts=tries)
        )
        left = MAX_CODE_TRIES - tries
        if left <= 0:
            return say(Key.VERIFY_VOID)
        return say(Key.VERIFY_WRONG_MANY, left=left) if left > 1 else say(Key.VERIFY_WRONG_ONE)
    await conn.execute(update(link_codes).where(link_codes.c.id == row.id).values(used_at=stamp))
    await join_identities(
        conn, (env.identity_channel, env.address), row.email, single_line(env.sender_name)
    )
    return say(Key.VERIFY_DONE, email=row.email)
