"""Corrections under control (issue 20): the supervisor's page of what agents taught the
router, who and when, from which team to which; undoing one restores the routing it
changed; in review mode a correction teaches the router only once approved. On the real
model and both back-ends: the corrections are made through the desk's API and judged by
the team the next customer's message is routed to."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.support.config import make_settings
from tests.support.routing import filed
from tests.support.service import Running
from tests.support.staff_web import call, person, signed_in
from tests.support.store import Store, store_of

pytestmark = pytest.mark.both_backends

# A topic no configured phrase covers: the router sends it to triage until taught.
LOYALTY = "My loyalty points from the spring promotion never showed up"
LOYALTY_AGAIN = "The loyalty points from the spring promotion are missing"


def _states(store: Store) -> list[tuple[Any, ...]]:
    return store.rows(
        "SELECT state, team, from_team, taught_by, decided_by FROM routing_examples ORDER BY id"
    )


async def test_undoing_a_correction_restores_the_previous_routing(running: Running) -> None:
    service = running.service
    store = store_of(service.settings)
    token = await person(service, "ada")
    await person(service, "sue", role="supervisor")

    before = await filed(service, token, "x1@example.com", LOYALTY_AGAIN)
    target = "accounts" if before["team"] != "accounts" else "general"
    first = await filed(service, token, "h@example.com", LOYALTY)
    ref = first["reference"]
    status, body = await call(
        service, "POST", f"/api/conversations/{ref}/reassign", token, {"team": target}
    )
    assert (status, body) == (200, {"team": target, "learned": True})
    taught = await filed(service, token, "x2@example.com", LOYALTY_AGAIN)
    assert taught["team"] == target  # a correction nothing configured contradicts: at once
    assert taught["routing"]["nearest"][0]["text"] == LOYALTY

    boss = await signed_in(service, "sue")
    agent = await signed_in(service, "ada")
    try:
        assert (await agent.get("/supervisor/corrections"))[0] == 403
        ((correction_id,),) = store.rows("SELECT id FROM routing_examples")
        refused = await agent.post_form(f"/supervisor/corrections/{correction_id}/undo", {})
        assert refused[0] == 403
        status, page = await boss.get("/supervisor/corrections")
        assert status == 200
        assert f'data-correction="{correction_id}" data-state="active"' in page
        row = page.split(f'data-correction="{correction_id}"', 1)[1].split("</tr>", 1)[0]
        assert "ada" in row and f"#{ref}" in row and LOYALTY in row
        shown = {t.name: t.display_name for t in service.settings.all_teams}
        assert f"{shown[first['team']]} → {shown[target]}" in row
        assert f"/supervisor/corrections/{correction_id}/undo" in row

        status, _, where = await boss.post_form(f"/supervisor/corrections/{correction_id}/undo", {})
        assert (status, where) == (303, "/supervisor/corrections?done=undo")
        assert _states(store) == [("undone", target, first["team"], "ada", "sue")]
        events = "SELECT actor FROM events WHERE kind = 'correction_undone'"
        assert store.rows(events) == [("sue",)]
        status, page = await boss.get("/supervisor/corrections")
        assert 'data-state="undone"' in page and "undone by sue" in page
        status, page, _ = await boss.post_form(f"/supervisor/corrections/{correction_id}/undo", {})
        assert status == 409 and "is undone by sue" in page
    finally:
        await boss.http.close()
        await agent.http.close()

    # The workers unlearnt it before their next batch: routed as before the correction.
    after = await filed(service, token, "x3@example.com", LOYALTY_AGAIN)
    assert after["team"] == before["team"]
    assert after["routing"]["predicted_team"] == before["routing"]["predicted_team"]
    assert [n["text"] for n in after["routing"]["nearest"]] == [
        n["text"] for n in before["routing"]["nearest"]
    ]


async def test_in_review_mode_a_correction_teaches_only_once_a_supervisor_approves_it(
    tmp_path: Path, service_factory: Any
) -> None:
    settings = make_settings(tmp_path, routing={"corrections": "review"})
    service = await service_factory(settings)
    store = store_of(settings)
    token = await person(service, "ada")
    await person(service, "sue", role="supervisor")
    await person(service, "ida", role="admin")

    before = await filed(service, token, "x1@example.com", LOYALTY_AGAIN)
    target = "accounts" if before["team"] != "accounts" else "general"
    first = await filed(service, token, "h@example.com", LOYALTY)
    status, body = await call(
        service,
        "POST",
        f"/api/conversations/{first['reference']}/reassign",
        token,
        {"team": target},
    )
    assert (status, body) == (200, {"team": target, "learned": False})
    slip = await filed(service, token, "b@example.com", "I was billed twice for March")
    assert slip["team"] == "billing"
    status, _ = await call(
        service,
        "POST",
        f"/api/conversations/{slip['reference']}/reassign",
        token,
        {"team": "orders"},
    )
    assert status == 200
    waiting = await filed(service, token, "x2@example.com", LOYALTY_AGAIN)
    assert waiting["team"] == before["team"]  # pending: taught nothing yet

    (loyalty_id,), (slip_id,) = store.rows("SELECT id FROM routing_examples ORDER BY id")
    admin = await signed_in(service, "ida")
    try:
        status, page = await admin.get("/supervisor/corrections")  # admins supervise too
        assert status == 200 and "(2 waiting)" in page
    finally:
        await admin.http.close()
    boss = await signed_in(service, "sue")
    try:
        status, page = await boss.get("/supervisor/corrections")
        assert status == 200 and "(2 waiting)" in page
        assert page.count('data-state="pending"') == 2
        assert f"/supervisor/corrections/{loyalty_id}/approve" in page
        assert f"/supervisor/corrections/{slip_id}/reject" in page
        done = await boss.post_form(f"/supervisor/corrections/{slip_id}/reject", {})
        assert done[0] == 303 and done[2] == "/supervisor/corrections?done=reject"
        done = await boss.post_form(f"/supervisor/corrections/{loyalty_id}/approve", {})
        assert done[0] == 303 and done[2] == "/supervisor/corrections?done=approve"
        status, page, _ = await boss.post_form(f"/supervisor/corrections/{slip_id}/approve", {})
        assert status == 409 and "is rejected by sue" in page
    finally:
        await boss.http.close()
    assert _states(store) == [
        ("active", target, first["team"], "ada", "sue"),
        ("rejected", "orders", "billing", "ada", "sue"),
    ]
    kinds = "SELECT kind, actor FROM events WHERE kind LIKE 'correction_%' ORDER BY id"
    assert store.rows(kinds) == [("correction_rejected", "sue"), ("correction_approved", "sue")]

    approved = await filed(service, token, "x3@example.com", LOYALTY_AGAIN)
    assert approved["team"] == target
    billed = await filed(service, token, "b2@example.com", "I was billed twice for April")
    assert billed["team"] == "billing"
