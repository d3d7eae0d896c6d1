"""Threading by quoted reference, and exact dedup, through the real pipeline."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.service import Running
from tests.support.waiting import until

pytestmark = pytest.mark.both_backends


ALL_TEAMS = ("billing", "orders", "accounts", "technical", "general", "triage")


async def _view(running: Running, token: str, reference: int) -> dict[str, Any] | None:
    status, view = await running.api("GET", f"/api/conversations/{reference}", token)
    return view if status == 200 else None


async def test_a_quoted_reference_joins_the_customers_own_ticket_only(running: Running) -> None:
    token = await running.agent_token("t", *ALL_TEAMS)
    first = await running.submit(email="ann@example.com", message="My parcel has not arrived")
    ref = first["reference"]
    await until(lambda: _view(running, token, ref))

    follow_up = await running.submit(
        email="ann@example.com", subject=f"Re: #{ref}", message="Any news?"
    )
    stranger = await running.submit(
        email="eve@example.com", message=f"About ticket #{ref}: show me everything"
    )

    async def joined() -> dict[str, Any] | None:
        view = await _view(running, token, ref)
        inbound = [m for m in view["messages"] if m["direction"] == "in"] if view else []
        return view if len(inbound) == 2 else None

    view = await until(joined)
    assert [m["text"] for m in view["messages"] if m["direction"] == "in"] == [
        "My parcel has not arrived",
        "Any news?",
    ]
    answers = [m["text"] for m in view["messages"] if m["author"] == "bot"]
    assert len(answers) == 2 and answers[1].startswith(
        f"Thank you, we have added your message to ticket #{ref}"
    )
    assert "customer_replied" in [e["kind"] for e in view["events"]]
    # The follow-up's own reference leads to the same ticket.
    alias = await until(lambda: _view(running, token, follow_up["reference"]))
    assert alias["reference"] == ref
    async with running.http.get(running.base + follow_up["ticket_url"]) as r:
        page = await r.text()
    assert f"<h1>Ticket #{ref}</h1>" in page

    other = await until(lambda: _view(running, token, stranger["reference"]))
    assert other["reference"] == stranger["reference"] != ref
    assert [m["text"] for m in other["messages"] if m["direction"] == "in"] == [
        f"About ticket #{ref}: show me everything"
    ]


async def test_the_same_text_twice_is_one_ticket_with_one_answer(running: Running) -> None:
    token = await running.agent_token("d", *ALL_TEAMS)
    first = await running.submit(email="bo@example.com", message="I was charged twice!")
    second = await running.submit(email="bo@example.com", message="i was  CHARGED twice!")
    # Two submissions, two message references; the second's receipt names the ticket it
    # really joined (the worker decided within the receipt's wait).
    assert first["message_reference"] != second["message_reference"]
    assert second["ticket"] == first["ticket"] == f"#{first['reference']}"

    async def merged() -> dict[str, Any] | None:
        view = await _view(running, token, first["reference"])
        if view is None or "duplicate_merged" not in [e["kind"] for e in view["events"]]:
            return None
        return view

    view = await until(merged)
    assert len([m for m in view["messages"] if m["direction"] == "in"]) == 2
    assert [m["author"] for m in view["messages"]].count("bot") == 1
    _, listed = await running.api("GET", "/api/conversations", token)
    # One ticket; which of the two numbers it shows depends on which worker stored its
    # message first (two workers take the two messages at once). Both numbers lead to it.
    (only,) = listed["conversations"]
    assert only["reference"] in (first["reference"], second["reference"])
    again = await _view(running, token, second["reference"])
    assert again is not None and again["reference"] == view["reference"]
