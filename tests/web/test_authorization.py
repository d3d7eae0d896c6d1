"""The authorization matrix over every route of the web app.

Every route is either public (the customer channels, sign-in, health) or staff-only, and
this file says which: a route added without being listed here fails the first test. For
each staff route it then checks: signed out → refused; another team's conversation → 404,
as if it did not exist; a supervisor page for an agent → 403; an admin page for an agent
or a supervisor → 403, even with the CSRF token; a write with the session cookie but
without the CSRF token → 403.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlencode

import aiohttp

from inbox.store.account_admin import AccountAdmin
from tests.support.service import Running
from tests.support.signing_in import TEST_PASSWORD, cookie_jar, sign_in_http
from tests.support.waiting import until

PUBLIC = {
    ("GET", "/"),
    ("GET", "/healthz"),
    ("GET", "/health"),  # store and queue reachable: no data
    ("GET", "/metrics"),  # counts only (queue depth, backlog, latency); no data
    ("GET", "/login"),
    ("POST", "/login"),
    ("GET", "/form"),
    ("POST", "/form"),
    ("POST", "/api/messages"),
    ("GET", "/ticket/{token}"),
    ("GET", "/ticket/{token}/live"),  # the ticket page's stream: the signed link is the key
    ("GET", "/form/confirm/{token}"),  # a form address's confirmation: the signed link is
    ("POST", "/form/confirm/{token}"),  # the key, and only the POST confirms
    ("GET", "/chat"),
    ("POST", "/chat/session"),
    ("GET", "/chat/ws"),
    ("GET", "/api"),  # the API's index: what it offers, no data
    ("GET", "/rate/{token}"),  # a customer's rating page: the signed link is the key
    ("POST", "/rate/{token}"),
    ("GET", "/answer/{token}"),  # did the bot's answer help: the signed link is the key
    ("POST", "/answer/{token}"),
    ("GET", "/static"),
    ("GET", "/kb/{article_id}"),  # a published article's page; anything else is 404
    ("GET", "/files/{token}"),  # a file an agent sent a customer: the signed link is the key
}
# Staff routes, and what kind of check applies beyond "signed in".
STAFF: dict[tuple[str, str], str] = {
    ("GET", "/agent"): "page",
    ("GET", "/agent/queue"): "page",
    ("GET", "/agent/conversations/{ref}"): "conversation-page",
    ("GET", "/agent/search"): "page",
    ("POST", "/logout"): "logout",  # signed out, it only sends you to the login page
    ("GET", "/live"): "stream",
    ("GET", "/supervisor"): "supervisor",
    ("GET", "/supervisor/panel"): "supervisor",
    ("GET", "/supervisor/export.csv"): "supervisor",
    ("GET", "/supervisor/charts.json"): "supervisor",
    ("GET", "/supervisor/bot.json"): "supervisor",
    ("GET", "/supervisor/kb-gaps.csv"): "supervisor",
    ("GET", "/supervisor/quarantine"): "supervisor",
    ("POST", "/supervisor/quarantine/{entry_id}/{action}"): "page",
    ("GET", "/supervisor/corrections"): "supervisor",
    ("POST", "/supervisor/corrections/{correction_id}/{action}"): "page",
    ("GET", "/api/me"): "api",
    ("GET", "/api/conversations"): "api",
    ("GET", "/api/search"): "api",
    ("POST", "/api/conversations/next"): "api",
    ("GET", "/api/incidents"): "api",
    ("GET", "/api/teams"): "api",
    ("GET", "/api/agents"): "api",
    ("GET", "/api/conversations/{ref}"): "conversation",
    ("GET", "/api/conversations/{ref}/attachments/{file}"): "conversation",
    ("GET", "/api/conversations/{ref}/canned"): "conversation",
    ("POST", "/api/conversations/{ref}/reply"): "conversation",
    ("POST", "/api/conversations/{ref}/notes"): "conversation",
    ("POST", "/api/conversations/{ref}/reassign"): "conversation",
    ("POST", "/api/conversations/{ref}/resolve"): "conversation",
    ("POST", "/api/conversations/{ref}/merge"): "conversation",
    ("POST", "/api/conversations/{ref}/confirm"): "conversation",
    ("POST", "/api/conversations/{ref}/assign"): "conversation",
    ("POST", "/api/conversations/{ref}/kb-draft"): "conversation",
    ("POST", "/api/conversations/{ref}/retry"): "conversation",
    ("POST", "/api/conversations/{ref}/automatic"): "conversation",
    ("POST", "/api/conversations/{ref}/customer"): "conversation",
    ("GET", "/agent/kb"): "page",
    ("POST", "/agent/kb"): "page",
    ("GET", "/agent/kb/{article_id}"): "page",
    ("POST", "/agent/kb/{article_id}"): "page",
    ("POST", "/agent/kb/{article_id}/publish"): "page",
    ("POST", "/agent/kb/{article_id}/retire"): "page",
    ("GET", "/api/kb"): "api",
    ("POST", "/api/kb"): "api",
    ("GET", "/api/kb/{article_id}"): "api",
    ("POST", "/api/kb/{article_id}"): "api",
    ("POST", "/api/kb/{article_id}/publish"): "api",
    ("POST", "/api/kb/{article_id}/retire"): "api",
    ("GET", "/admin"): "admin",
    ("GET", "/admin/users"): "admin",
    ("POST", "/admin/users"): "admin",
    ("GET", "/admin/users/{name}"): "admin",
    ("POST", "/admin/users/{name}/teams"): "admin",
    ("POST", "/admin/users/{name}/role"): "admin",
    ("POST", "/admin/users/{name}/{change}"): "admin",  # disable | enable
    ("POST", "/admin/users/{name}/password"): "admin",
    ("GET", "/admin/teams"): "admin",
    ("POST", "/admin/teams/{team}"): "admin",
}
BODIES: dict[str, dict[str, Any]] = {
    "reply": {"text": "hello"},
    "notes": {"text": "hello"},
    "reassign": {"team": "orders"},
    "merge": {"into": 1},
    "assign": {"agent": None},
    "retry": {"message": 1},
    "automatic": {"on": False},
    "customer": {"name": "x", "notes": ""},
}


def _routes(running: Running) -> set[tuple[str, str]]:
    runner = running.service._runner
    assert runner is not None
    found = set()
    for route in runner.app.router.routes():
        info = route.resource.get_info() if route.resource is not None else {}
        path = info.get("formatter") or info.get("path") or info.get("prefix")
        if route.method != "HEAD":
            found.add((route.method, str(path)))
    return found


def _url(running: Running, path: str, reference: int) -> str:
    path = path.replace("{article_id}", "opening-hours")  # a shipped example article
    path = path.replace("{entry_id}/{action}", "1/spam")  # a quarantine entry's review
    path = path.replace("{name}/{change}", "{name}/disable")
    path = path.replace("{name}", "billie").replace("{team}", "billing")  # a person, a team
    path = path.replace("{correction_id}/{action}", "1/undo")  # a router correction's undo
    return running.base + path.replace("{ref}", str(reference)).replace("{file}", "1")


def _body(path: str) -> dict[str, Any]:
    return dict(BODIES.get(path.rsplit("/", 1)[-1], {}))


async def test_every_route_is_either_public_or_staff(running: Running) -> None:
    routes = _routes(running)
    unlisted = routes - PUBLIC - set(STAFF)
    assert not unlisted, f"classify these routes in this test: {sorted(unlisted)}"
    assert set(STAFF) <= routes and routes >= PUBLIC  # the table is not stale


async def _billing_ticket(running: Running) -> int:
    token = await running.agent_token("billie", "billing", "triage")
    ticket = await running.submit(email="p@example.com", message="I was charged twice")

    async def stored() -> bool:
        status, _ = await running.api("GET", f"/api/conversations/{ticket['reference']}", token)
        return status == 200

    await until(stored)
    return int(ticket["reference"])


async def test_signed_out_nothing_staff_answers(running: Running) -> None:
    reference = await _billing_ticket(running)
    async with aiohttp.ClientSession() as http:
        for (method, path), kind in STAFF.items():
            async with http.request(
                method, _url(running, path, reference), json=_body(path), allow_redirects=False
            ) as r:
                pages = ("page", "supervisor", "conversation-page", "admin")
                if (method == "GET" and kind in pages) or kind == "logout":
                    assert r.status == 303 and r.headers["Location"].startswith("/login"), path
                else:
                    assert r.status == 401, (method, path, r.status)


async def test_another_teams_conversation_is_404_by_token_and_by_session(
    running: Running,
) -> None:
    reference = await _billing_ticket(running)
    token = await running.agent_token("ollie", "orders")
    conversation_routes = [key for key, kind in STAFF.items() if kind == "conversation"]
    pages = [key for key, kind in STAFF.items() if kind == "conversation-page"]
    for method, path in conversation_routes:
        status, _ = await running.api(
            method, _url(running, path, reference)[len(running.base) :], token, _body(path)
        )
        assert status == 404, (method, path, status)
    async with aiohttp.ClientSession(cookie_jar=cookie_jar()) as http:
        await sign_in_http(http, running.base, "ollie", TEST_PASSWORD)
        csrf = await _page_csrf(http, running)
        for method, path in conversation_routes + pages:
            async with http.request(
                method,
                _url(running, path, reference),
                json=_body(path),
                headers={"X-CSRF-Token": csrf},
            ) as r:
                assert r.status == 404, (method, path, r.status)


async def test_search_never_finds_another_teams_conversation(running: Running) -> None:
    reference = await _billing_ticket(running)  # from p@example.com: "I was charged twice"
    billie = await running.agent_token("bea", "billing", "triage")
    ollie = await running.agent_token("ollie", "orders")
    for typed in (f"#{reference}", "charged twice", "p@example.com"):
        path = "/api/search?" + urlencode({"q": typed})
        status, found = await running.api("GET", path, billie)
        assert status == 200 and [c["reference"] for c in found["conversations"]] == [reference]
        status, found = await running.api("GET", path, ollie)
        assert (status, found["total"], found["conversations"]) == (200, 0, []), typed
    status, found = await running.api("GET", "/api/search?team=billing", ollie)
    assert status == 422  # not a team of theirs: nothing to find there
    async with aiohttp.ClientSession(cookie_jar=cookie_jar()) as http:
        await sign_in_http(http, running.base, "ollie", TEST_PASSWORD)
        async with http.get(running.base + f"/agent/search?q=%23{reference}") as r:
            page = await r.text()
        assert (
            r.status == 200 and "0 results" in page and f'data-reference="{reference}"' not in page
        )


async def test_supervisor_pages_are_403_for_an_agent(running: Running) -> None:
    await running.agent_token("abe", "billing")
    async with aiohttp.ClientSession(cookie_jar=cookie_jar()) as http:
        await sign_in_http(http, running.base, "abe", TEST_PASSWORD)
        for (method, path), kind in STAFF.items():
            if kind == "supervisor":
                async with http.request(method, running.base + path) as r:
                    assert r.status == 403, path


async def test_admin_pages_are_403_for_an_agent_and_a_supervisor(running: Running) -> None:
    reference = await _billing_ticket(running)  # billie, whom the writes would change
    await running.agent_token("abe", "billing")
    await running.agent_token("sue", "billing", role="supervisor")
    for name in ("abe", "sue"):
        async with aiohttp.ClientSession(cookie_jar=cookie_jar()) as http:
            await sign_in_http(http, running.base, name, TEST_PASSWORD)
            csrf = await _page_csrf(http, running)
            for (method, path), kind in STAFF.items():
                if kind != "admin":
                    continue
                async with http.request(
                    method,
                    _url(running, path, reference),
                    data={"csrf": csrf, "role": "admin", "team": "billing", "name": name},
                    allow_redirects=False,
                ) as r:
                    assert r.status == 403, (name, method, path, r.status)
    # Nothing changed: no audit event, billie is still an agent, and not disabled.
    assert running.service.engine is not None
    admin = AccountAdmin(running.service.engine)
    assert await admin.audit() == []
    billie = await admin.person("billie")
    assert (billie.role, billie.teams, billie.disabled) == ("agent", ("billing", "triage"), False)


async def test_writes_with_the_cookie_need_the_csrf_token(running: Running) -> None:
    reference = await _billing_ticket(running)
    async with aiohttp.ClientSession(cookie_jar=cookie_jar()) as http:
        await sign_in_http(http, running.base, "billie", TEST_PASSWORD)
        for (method, path), _kind in STAFF.items():
            if method != "POST":
                continue
            async with http.request(
                method, _url(running, path, reference), json=_body(path), allow_redirects=False
            ) as r:
                assert r.status == 403, (path, r.status)
        status, body = await _get_json(http, running, f"/api/conversations/{reference}")
        assert status == 200 and body["status"] != "resolved"  # nothing happened


async def _page_csrf(http: aiohttp.ClientSession, running: Running) -> str:
    async with http.get(running.base + "/agent") as r:
        found = re.search(r'data-csrf="([^"]+)"', await r.text())
    assert found is not None
    return found.group(1)


async def _get_json(http: aiohttp.ClientSession, running: Running, path: str) -> tuple[int, Any]:
    async with http.get(running.base + path) as r:
        return r.status, await r.json()
