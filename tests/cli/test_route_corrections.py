"""One agent's correction does not outweigh a team's configured phrases; several agreeing
corrections do (issue 20). After a single test reassignment, "I was billed twice for
March" went to accounts at 0.97, beating billing's own "I was charged twice for the same
month". Shown with ``inbox route`` in a child process, on the store the desk wrote, on
both back-ends."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from inbox.service.app import InboxService
from tests.support.cli import run_inbox, written_config
from tests.support.config import make_raw_config
from tests.support.routing import filed
from tests.support.staff_web import call, person
from tests.support.store import store_of

pytestmark = pytest.mark.both_backends

CASE = "I was billed twice for March"
# The same complaint as other customers put it.
AGAIN = ("You billed me two times in March", "March was billed twice on my card")


async def _route(config: Path) -> dict[str, Any]:
    done = await asyncio.to_thread(run_inbox, "route", "--json", CASE, config=config)
    assert done.returncode == 0, done.stderr
    routed: dict[str, Any] = json.loads(done.stdout)
    return routed


async def _reassign(service: InboxService, token: str, reference: int) -> None:
    path = f"/api/conversations/{reference}/reassign"
    status, body = await call(service, "POST", path, token, {"team": "accounts"})
    assert (status, body) == (200, {"team": "accounts", "learned": True})


async def test_one_contrary_correction_leaves_the_billing_case_with_billing_several_move_it(
    tmp_path: Path, service_factory: Any
) -> None:
    settings, config = written_config(make_raw_config(tmp_path), tmp_path)
    service = await service_factory(settings)
    token = await person(service, "ada")
    tickets = [
        await filed(service, token, f"c{i}@example.com", text)
        for i, text in enumerate((CASE, *AGAIN))
    ]
    assert [t["team"] for t in tickets] == ["billing"] * 3
    assert (await _route(config))["team"] == "billing"

    # One agent moves the case to accounts: a single judgement against billing's phrase.
    await _reassign(service, token, tickets[0]["reference"])
    routed = await _route(config)
    assert routed["team"] == "billing" and not routed["abstained"]
    assert routed["nearest"][0]["text"] == "I was charged twice for the same month"
    store = store_of(settings)
    assert store.count("SELECT count(*) FROM routing_examples WHERE state = 'active'") == 1

    # Two more agents move the same complaint: three agreeing corrections win.
    for ticket in tickets[1:]:
        await _reassign(service, token, ticket["reference"])
    routed = await _route(config)
    assert routed["team"] == "accounts" and routed["confidence"] > 0.9
    assert routed["nearest"][0]["text"] == CASE
