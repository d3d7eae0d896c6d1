"""Search on both back-ends: a conversation found by a word of any message (notes too),
by ticket number and alias, by the customer's address and name; filters and pages; what
an agent types never breaks the query; and never a conversation of another team."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import insert, text, update
from sqlalchemy.ext.asyncio import AsyncEngine

from inbox.config.settings import Settings
from inbox.models import Envelope
from inbox.store.accounts import Accounts, Agent
from inbox.store.desk import Desk
from inbox.store.desk_search import SearchFilters, search_statements
from inbox.store.tables import conversation_refs, conversations, messages
from tests.support.tickets import customer_writes, ingest_tickets, migrated_engine

pytestmark = pytest.mark.both_backends

# reference: (team, address, first message)
TICKETS = {
    200: ("billing", "carla@example.com", "I was charged twice for my subscription"),
    201: ("billing", "dan@example.org", "Où est ma facture? Das Paket ist nicht da"),
    202: ("orders", "erin@shop.test", "My parcel 5512 has not arrived"),
    203: ("orders", "frank@example.net", "Wrong size jacket, can I swap it?"),
    204: ("accounts", "carla.other@example.com", "Charged twice again, parcel 5512"),  # not mine
}
HOUR = 3600.0


@pytest.fixture
async def engine(settings: Settings) -> AsyncIterator[AsyncEngine]:
    engine = await migrated_engine(settings)
    yield engine
    await engine.dispose()


async def _desk(engine: AsyncEngine, settings: Settings) -> tuple[Desk, Agent]:
    agent, _token = await Accounts(engine).add_agent("ivy", ["billing", "orders"])
    stamp = time.time()
    mails = [
        Envelope("scripted", f"s-{ref}", "email", address, words, stamp - (300 - ref) * HOUR)
        for ref, (_team, address, words) in TICKETS.items()
    ]
    async with engine.begin() as conn:
        await ingest_tickets(conn, settings, mails, first_reference=200)
        for ref, (team, _address, _words) in TICKETS.items():
            await conn.execute(
                update(conversations)
                .where(conversations.c.reference == ref)
                .values(team=team, updated_at=stamp + ref, created_at=stamp - (300 - ref) * HOUR)
            )
    return Desk(engine, {t.name for t in settings.all_teams}), agent


async def _found(desk: Desk, agent: Agent, typed: str, **filters: object) -> list[int]:
    page = await desk.search(agent, typed, SearchFilters(**filters))  # type: ignore[arg-type]
    assert page.total == len(page.rows)
    return [r.summary.reference for r in page.rows]


async def test_by_words_ticket_address_and_name_never_another_teams(
    engine: AsyncEngine, settings: Settings
) -> None:
    desk, agent = await _desk(engine, settings)
    assert await _found(desk, agent, "charged twice") == [200]
    assert await _found(desk, agent, "CHARGED tw") == [200]  # any case; the last word a prefix
    assert await _found(desk, agent, "charged subscription") == [200]  # any order
    assert await _found(desk, agent, "charged parcel") == []  # every word, in one message
    assert await _found(desk, agent, "facture") == [201]  # any language, as written
    assert await _found(desk, agent, "5512") == [202]  # a number in the text
    assert await _found(desk, agent, "#202") == [202]
    assert await _found(desk, agent, "203") == [203]
    assert await _found(desk, agent, "#204") == []  # another team's ticket does not exist
    assert await _found(desk, agent, "carla@example.com") == [200]
    assert await _found(desk, agent, "Carla") == [200]  # an address's beginning
    assert await _found(desk, agent, "example") == []  # nobody's address begins so
    await desk.edit_customer(agent, 202, "Erin Øster", "")
    assert await _found(desk, agent, "erin") == [202]
    assert await _found(desk, agent, "ERIN ØSTER") == [202]  # (SQLite lowers A-Z only)
    assert await _found(desk, agent, "Erin Øster") == [202]
    assert await _found(desk, agent, "erin øster") == [202]  # lower case typed
    await desk.edit_customer(agent, 203, "Émilie Dubois", "")
    for typed in ("émilie", "ÉMILIE DU", "Émilie"):
        assert await _found(desk, agent, typed) == [203], typed
    await desk.edit_customer(agent, 201, "Jörg Müller", "")
    for typed in ("jörg mü", "JÖRG"):
        assert await _found(desk, agent, typed) == [201], typed

    # A row looks like the list's: the customer, their words, unread.
    page = await desk.search(agent, "charged")
    (row,) = page.rows
    assert (row.customer, row.address, row.unread) == ("", "carla@example.com", True)
    assert row.preview.startswith("I was charged twice")


async def test_best_match_first_aliases_and_notes(engine: AsyncEngine, settings: Settings) -> None:
    desk, agent = await _desk(engine, settings)
    await desk.note(agent, 201, "Customer also mentions 200 and a refund")
    # The ticket asked for first, then conversations whose words match.
    assert await _found(desk, agent, "200") == [200, 201]
    assert await _found(desk, agent, "refund") == [201]  # an internal note is searchable
    async with engine.begin() as conn:
        target = await conn.scalar(text("SELECT id FROM conversations WHERE reference = 203"))
        await conn.execute(insert(conversation_refs).values(reference=7777, conversation_id=target))
    assert await _found(desk, agent, "#7777") == [203]  # an alias leads to its conversation


async def test_the_index_follows_every_write(engine: AsyncEngine, settings: Settings) -> None:
    desk, agent = await _desk(engine, settings)
    await customer_writes(
        engine,
        203,
        "Still waiting for the replacement",
        subject="Exchange",
        external_id="s-203-again",
    )
    assert await _found(desk, agent, "replacement") == [203]
    assert await _found(desk, agent, "exchange") == [203]  # the subject too
    async with engine.begin() as conn:
        await conn.execute(
            update(messages)
            .where(messages.c.external_id == "s-203-again")
            .values(text="Never mind, it came")
        )
    assert await _found(desk, agent, "replacement") == []
    assert await _found(desk, agent, "never mind") == [203]
    async with engine.begin() as conn:
        await conn.execute(messages.delete().where(messages.c.external_id == "s-203-again"))
    assert await _found(desk, agent, "never mind") == []


async def test_filters_and_pages(engine: AsyncEngine, settings: Settings) -> None:
    desk, agent = await _desk(engine, settings)
    async with engine.begin() as conn:
        await conn.execute(
            update(conversations)
            .where(conversations.c.reference == 202)
            .values(status="pending", priority=4, sla_state="breached", assignee_id=agent.agent_id)
        )
    assert await _found(desk, agent, "", status="pending") == [202]
    assert await _found(desk, agent, "", team="billing") == [201, 200]  # newest first
    assert await _found(desk, agent, "", team="accounts") == []
    assert await _found(desk, agent, "", assignee="ivy") == [202]
    assert await _found(desk, agent, "", assignee="none") == [203, 201, 200]
    assert await _found(desk, agent, "", priority="urgent") == [202]
    assert await _found(desk, agent, "", sla_state="breached") == [202]
    assert await _found(desk, agent, "", channel="scripted") == [203, 202, 201, 200]
    assert await _found(desk, agent, "", channel="nowhere") == []
    stamp = time.time()
    since = stamp - (300 - 201.5) * HOUR
    assert await _found(desk, agent, "", since=since) == [203, 202]
    assert await _found(desk, agent, "", since=since, until=since + HOUR) == [202]
    assert await _found(desk, agent, "parcel", status="pending") == [202]
    assert await _found(desk, agent, "parcel", status="open") == []

    first = await desk.search(agent, "", offset=0, limit=3)
    rest = await desk.search(agent, "", offset=3, limit=3)
    assert [r.summary.reference for r in first.rows + rest.rows] == [203, 202, 201, 200]
    assert first.total == rest.total == 4  # the other team's is not counted


TYPED = [
    '"',
    "'",
    '"charged',
    "charged AND",
    "OR",
    "NOT charged",
    "NEAR(charged twice)",
    "char*",
    "-charged",
    "(",
    ")",
    "a:b",
    "subject:charged",
    "charged & | !",
    "^",
    "\\",
    "%",
    "_",
    "‘charged’",
    "   ",
    "#",
    "##200",
    "x" * 500,
    "a b c d e f g h i j k l m n o p",
]


async def test_whatever_is_typed_never_breaks_the_query(
    engine: AsyncEngine, settings: Settings
) -> None:
    desk, agent = await _desk(engine, settings)
    for typed in TYPED:
        page = await desk.search(agent, typed)
        assert all(r.summary.team in agent.teams for r in page.rows), typed
    # Quotes and operators are separators: the words around them are searched as written.
    for typed in ('"charged', "char*", "‘charged’", "charged & | !", "-charged", "(charged)"):
        assert await _found(desk, agent, typed) == [200], typed


async def test_every_way_in_is_an_index(engine: AsyncEngine, settings: Settings) -> None:
    """The words go through FTS5 or the GIN index on exactly the indexed expression, the
    customer through the lower(address) and lower(name) indexes, the number through the
    references' key — never a scan of messages, identities or contacts."""
    _unused, agent = await _desk(engine, settings)
    async with engine.connect() as conn:
        dialect = conn.dialect.name
        statements = search_statements(agent, "#201", SearchFilters(), dialect)
        assert statements is not None
        plans = []
        if dialect == "postgresql":
            await conn.exec_driver_sql("SET enable_seqscan = off")  # a few rows: it would scan
        for statement in (statements.ids, statements.count):
            sql = str(
                statement.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True})
            )
            explain = "EXPLAIN QUERY PLAN " if dialect == "sqlite" else "EXPLAIN "
            plans.append("\n".join(str(r[-1]) for r in await conn.exec_driver_sql(explain + sql)))
    for plan in plans:
        if dialect == "sqlite":
            assert "messages_fts VIRTUAL TABLE INDEX" in plan
            assert "SEARCH conversation_refs USING INTEGER PRIMARY KEY" in plan
            assert "SCAN messages" not in plan.replace("SCAN messages_fts", "")
        else:
            assert "ix_messages_search" in plan
            assert "conversation_refs_pkey" in plan
            assert "Seq Scan" not in plan
        assert "ix_identities_address_lower" in plan
        assert "ix_contacts_name_lower" in plan
