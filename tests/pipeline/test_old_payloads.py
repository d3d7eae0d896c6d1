"""Envelopes queued and messages stored by the version before ``MessageMeta`` (when
``meta`` was a loose dict) still read the same after the upgrade."""

from __future__ import annotations

import json

from sqlalchemy import select, update

from inbox.config.settings import Settings
from inbox.models import Envelope, MessageMeta, Priority, TriageDecision
from inbox.pipeline.ingest.batch import IngestPlan, ingest_batch
from inbox.store.engine import create_engine, migrate
from inbox.store.files import NOT_FETCHED, NOT_KEPT, not_kept_because
from inbox.store.outbox_rows import OutboxRows
from inbox.store.tables import messages

# Exactly what the previous version's Envelope.to_json wrote for a mail and a command.
OLD_MAIL = (
    '{"channel":"email","external_id":"imap:support@example.com:1700000000:42",'
    '"identity_channel":"email","address":"ann@example.com",'
    '"text":"My card was charged twice.","received_at":1700000000.5,"sender_name":"Ann Lee",'
    '"subject":"Re: Double charge [#1042]","meta":{"message_id":"<a1@mail.example.com>",'
    '"mailbox":"support@example.com","in_reply_to":"<t1042.x@inbox.example.com>",'
    '"references":"<t1042.x@inbox.example.com>","defects":"part 1: missing boundary"},'
    '"classify_text":"My card was charged twice.","html":"",'
    '"thread_ids":["<t1042.x@inbox.example.com>"],"automated":"","quarantine":"",'
    '"attachments":[{"filename":"original.eml","content_type":"message/rfc822","size":3,'
    '"data":"YWJj","omitted":false,"kind":"original"}]}'
)
OLD_COMMAND = (
    '{"channel":"telegram","external_id":"update:7:900","identity_channel":"telegram",'
    '"address":"5551","text":"/status","received_at":1700000100.0,"sender_name":"Bo",'
    '"subject":"","meta":{"chat_id":"5551","telegram_message_id":"12","update_id":"900",'
    '"command":"status","args":""},"classify_text":"","html":"","thread_ids":[],'
    '"automated":"","quarantine":"","attachments":[]}'
)


def test_a_queued_mail_of_the_old_shape_reads_and_writes_back_the_same() -> None:
    env = Envelope.from_json(OLD_MAIL)
    assert env.meta == MessageMeta(
        message_id="<a1@mail.example.com>",
        mailbox="support@example.com",
        in_reply_to="<t1042.x@inbox.example.com>",
        references="<t1042.x@inbox.example.com>",
        defects="part 1: missing boundary",
    )
    assert not env.is_command
    assert env.to_json() == OLD_MAIL  # a rolled-back worker reads the new payloads too


def test_a_queued_command_of_the_old_shape_is_still_a_command() -> None:
    env = Envelope.from_json(OLD_COMMAND)
    assert env.is_command
    assert (env.meta.command, env.meta.args, env.meta.chat_id) == ("status", "", "5551")
    # The empty ``args`` is left out now; the old reader defaulted it to "" just the same.
    assert json.loads(env.to_json())["meta"] == {
        "chat_id": "5551",
        "telegram_message_id": "12",
        "update_id": "900",
        "command": "status",
    }


async def test_stored_meta_keeps_its_shape_and_old_rows_still_thread_replies(
    settings: Settings,
) -> None:
    engine = create_engine(settings.store.url)
    await migrate(engine)
    try:
        env = Envelope.from_json(OLD_MAIL)
        plan = IngestPlan(env, 3001, None, TriageDecision(Priority.NORMAL, ()))
        async with engine.begin() as conn:
            [result] = await ingest_batch(conn, [plan], settings, lambda _env: "standard")
            stored = (
                await conn.execute(select(messages.c.meta).where(messages.c.direction == "in"))
            ).scalar_one()
        assert result.outcome == "new"
        # What the old version stored, and the address the customer wrote from.
        assert stored == {**json.loads(OLD_MAIL)["meta"], "sender": env.address}
        # A row the old version wrote (with keys this one does not know) still threads
        # the answer to it.
        old_row = {**json.loads(OLD_MAIL)["meta"], "automated": "", "x-unknown": "1"}
        async with engine.begin() as conn:
            await conn.execute(update(messages).values(meta=old_row))
        [ack] = await OutboxRows(engine).claim_due(10, 60.0)
        assert ack.in_reply_to == "<a1@mail.example.com>"
        assert ack.references == ("<t1042.x@inbox.example.com>", "<a1@mail.example.com>")
    finally:
        await engine.dispose()


def test_a_stored_telegram_meta_still_says_why_files_are_missing() -> None:
    row = json.loads('{"chat_id": "5551", "unfetched_file_ids": "AgAD1 AgAD2"}')
    assert not_kept_because({"attachment"}, MessageMeta.from_dict(row)) == NOT_FETCHED
    assert not_kept_because({"attachment"}, MessageMeta.from_dict(None)) == NOT_KEPT
