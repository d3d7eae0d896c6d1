"""Administration in the web app (issue 20, point 6): an admin creates people, sets their
teams, role and password, disables and enables them, and changes team members, through
the pages' forms; each change is an audit event. A disabled person's open session and
token are refused at the next request; nobody disables themselves, and the last admin
stays one."""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from playwright.async_api import Browser

from inbox.service.app import InboxService
from inbox.store.account_admin import AccountAdmin, AuditEntry
from inbox.store.staffing import Unstaffed, unstaffed_teams
from tests.support.signing_in import TEST_PASSWORD, cookie_jar, sign_in_http
from tests.support.staff_web import StaffBrowser, call, person, signed_in, web_only
from tests.support.waiting import until

SHOTS = "INBOX_SCREENSHOTS"  # a folder to keep the page's screenshot in, if set


@pytest.fixture
async def web(tmp_path: Path) -> AsyncIterator[InboxService]:
    service = await web_only(tmp_path)
    yield service
    await service.stop()


async def _audit(service: InboxService) -> list[AuditEntry]:
    assert service.engine is not None
    return list(reversed(await AccountAdmin(service.engine).audit(200)))


async def _sign_in(service: InboxService, name: str, password: str) -> int:
    """Signs in with a fresh cookie jar; the login's status (303 when it worked)."""
    async with aiohttp.ClientSession(cookie_jar=cookie_jar()) as http:
        base = f"http://127.0.0.1:{service.port}"
        return (await sign_in_http(http, base, name, password)).status


def _shown(page: str, element_id: str) -> str:
    found = re.search(rf'id="{element_id}">([^<]+)<', page)
    assert found is not None, element_id
    return found.group(1)


@pytest.mark.both_backends
async def test_a_disabled_persons_session_and_token_are_refused_at_once(
    web: InboxService,
) -> None:
    await person(web, "root", role="admin")
    token = await person(web, "ada")
    admin, ada = await signed_in(web, "root"), await signed_in(web, "ada")
    try:
        status, desk = await ada.get("/agent")
        assert status == 200 and 'id="admin-link"' not in desk
        assert 'id="admin-link"' in (await admin.get("/agent"))[1]  # the admin's way in
        assert (await call(web, "GET", "/api/me", token))[0] == 200

        async with ada.http.get(ada.base + "/live") as stream:  # her desk's live stream
            assert stream.status == 200
            await until(lambda: web.live.listeners == 1)
            status, _page, to = await admin.post_form("/admin/users/ada/disable", {})
            assert (status, to) == (303, "/admin/users/ada?done=disabled")
            await asyncio.wait_for(stream.content.read(), 10)  # the stream ended

        # The next request with either is refused, as for someone signed out.
        status, _page = await ada.get("/agent")
        assert status == 303
        async with ada.http.get(ada.base + "/api/me") as r:
            assert r.status == 401
        assert (await call(web, "GET", "/api/me", token))[0] == 401
        status, _page, _to = await ada.post_form("/logout", {})
        assert status == 303  # signing out still just leads to the login page
        assert await _sign_in(web, "ada", TEST_PASSWORD) == 401
        status, page = await admin.get("/admin/users")
        assert status == 200 and re.search(r'data-person="ada" class="disabled"', page)

        status, _page, to = await admin.post_form("/admin/users/ada/enable", {})
        assert (status, to) == (303, "/admin/users/ada?done=enabled")
        assert (await call(web, "GET", "/api/me", token))[0] == 200
        assert await _sign_in(web, "ada", TEST_PASSWORD) == 303
    finally:
        await admin.http.close()
        await ada.http.close()
    events = [(e.actor, e.action, e.target, e.details) for e in await _audit(web)]
    assert events == [
        ("root", "user_disabled", "ada", {"sessions_ended": 1}),
        ("root", "user_enabled", "ada", {}),
    ]


@pytest.mark.both_backends
async def test_a_person_disabled_elsewhere_loses_their_live_stream_here(
    web: InboxService,
) -> None:
    """Disabled through another process (another web process, ``inbox user disable``):
    this process's stream of theirs ends at its next look at the store."""
    await person(web, "root", role="admin")
    await person(web, "ada")
    ada = await signed_in(web, "ada")
    assert web.engine is not None
    try:
        async with ada.http.get(ada.base + "/live") as stream:
            assert stream.status == 200
            await until(lambda: web.live.listeners == 1)
            await AccountAdmin(web.engine).disable("root", "ada")  # not through this process
            await asyncio.wait_for(stream.content.read(), 10)  # the stream ended
        assert web.live.listeners == 0
    finally:
        await ada.http.close()


@pytest.mark.both_backends
async def test_an_admin_creates_a_person_and_sets_teams_role_and_password(
    web: InboxService,
) -> None:
    await person(web, "root", role="admin")
    admin = await signed_in(web, "root")
    try:
        # A new person with a generated password: it and the token show once, on the answer.
        status, page, _to = await admin.post_form(
            "/admin/users", {"name": "bea", "role": "agent", "team": "billing"}
        )
        assert status == 200, page
        password, token = _shown(page, "new-password-value"), _shown(page, "new-token-value")
        assert (await call(web, "GET", "/api/me", token))[1] == {
            "name": "bea",
            "teams": ["billing"],
            "role": "agent",
        }
        assert await _sign_in(web, "bea", password) == 303
        assert password not in (await admin.get("/admin/users/bea"))[1]

        # One with a typed password; a taken name and an unknown team are refused.
        typed = "a typed password, long enough"
        fields = {"name": "cal", "role": "supervisor", "password": typed}
        status, page, _to = await admin.post_form("/admin/users", fields)
        assert status == 200 and "new-password-value" not in page
        assert await _sign_in(web, "cal", typed) == 303
        status, page, _to = await admin.post_form("/admin/users", fields)
        assert status == 409 and "already exists" in page
        bad = {"name": "dee", "team": "nowhere"}
        status, page, _to = await admin.post_form("/admin/users", bad)
        assert status == 422 and "no team &#39;nowhere&#39;" in page
        for unlinkable in ("e/f", "..", "ann lee"):
            status, page, _to = await admin.post_form("/admin/users", {"name": unlinkable})
            assert status == 422, unlinkable
        status, page, _to = await admin.post_form(
            "/admin/users", {"name": "dee", "password": "short"}
        )
        assert status == 422 and "at least 10 characters" in page

        # Teams by their checkboxes, then the role.
        status, _page, to = await admin.post_form(
            "/admin/users/bea/teams", {"team": "orders"}
        )  # one box: the form field repeats for more
        assert (status, to) == (303, "/admin/users/bea?done=teams")
        async with admin.http.post(
            admin.base + "/admin/users/bea/teams",
            data=[("csrf", admin.csrf), ("team", "orders"), ("team", "accounts")],
            allow_redirects=False,
        ) as r:
            assert r.status == 303
        assert (await call(web, "GET", "/api/me", token))[1]["teams"] == ["accounts", "orders"]
        bea = await signed_in(web, "bea", password)
        try:
            assert (await bea.get("/supervisor"))[0] == 403
            status, _page, to = await admin.post_form(
                "/admin/users/bea/role", {"role": "supervisor"}
            )
            assert (status, to) == (303, "/admin/users/bea?done=role")
            assert (await bea.get("/supervisor"))[0] == 200  # the next request knows
            status, page, _to = await admin.post_form("/admin/users/bea/role", {"role": "boss"})
            assert status == 422

            # A typed password: her browsers are signed out, the old password is refused.
            new = "the new password for bea"
            status, _page, to = await admin.post_form(
                "/admin/users/bea/password", {"password": new}
            )
            assert (status, to) == (303, "/admin/users/bea?done=password")
            assert (await bea.get("/agent"))[0] == 303
            assert await _sign_in(web, "bea", password) == 401
            assert await _sign_in(web, "bea", new) == 303
            # A generated one is shown once, on the answer to the post.
            status, page, _to = await admin.post_form("/admin/users/bea/password", {})
            assert status == 200
            generated = _shown(page, "reset-password-value")
            assert await _sign_in(web, "bea", generated) == 303
            assert generated not in (await admin.get("/admin/users/bea"))[1]
        finally:
            await bea.http.close()
        status, page = await admin.get("/admin/users/nobody")
        assert status == 404
    finally:
        await admin.http.close()

    events = [(e.actor, e.action, e.target, e.details) for e in await _audit(web)]
    assert events == [
        ("root", "user_created", "bea", {"role": "agent", "teams": ["billing"]}),
        ("root", "user_created", "cal", {"role": "supervisor", "teams": []}),
        ("root", "teams_changed", "bea", {"added": ["orders"], "removed": ["billing"]}),
        ("root", "teams_changed", "bea", {"added": ["accounts"], "removed": []}),
        ("root", "role_changed", "bea", {"from": "agent", "to": "supervisor"}),
        ("root", "password_reset", "bea", {"generated": False}),
        ("root", "password_reset", "bea", {"generated": True}),
    ]
    status, page = await _page_as(web, "root", "/admin/users")
    assert status == 200 and page.count("password reset") == 2  # the latest changes, shown


async def _page_as(service: InboxService, name: str, path: str) -> tuple[int, str]:
    browser = await signed_in(service, name)
    try:
        return await browser.get(path)
    finally:
        await browser.http.close()


@pytest.mark.both_backends
async def test_nobody_disables_themselves_and_the_last_admin_stays(web: InboxService) -> None:
    await person(web, "root", role="admin")
    await person(web, "ops", role="supervisor")
    root = await signed_in(web, "root")
    ops: StaffBrowser | None = None
    try:
        status, page, _to = await root.post_form("/admin/users/root/disable", {})
        assert status == 409 and "cannot disable yourself" in page
        status, page, _to = await root.post_form("/admin/users/root/role", {"role": "agent"})
        assert status == 409 and "root is the last admin" in page

        status, _page, _to = await root.post_form("/admin/users/ops/role", {"role": "admin"})
        assert status == 303
        ops = await signed_in(web, "ops")
        assert (await ops.get("/admin/users"))[0] == 200
        status, _page, _to = await ops.post_form("/admin/users/root/disable", {})
        assert status == 303  # another admin is left: ops
        assert (await root.get("/admin/users"))[0] == 303  # root is signed out at once
        # ops is now the only enabled admin: a disabled admin does not count.
        status, page, _to = await ops.post_form("/admin/users/ops/role", {"role": "agent"})
        assert status == 409 and "ops is the last admin" in page
        status, _page, _to = await ops.post_form("/admin/users/root/enable", {})
        assert status == 303
        status, _page, _to = await ops.post_form("/admin/users/ops/role", {"role": "agent"})
        assert status == 303  # root is an admin again, so ops may step down
        assert (await ops.get("/admin/users"))[0] == 403
    finally:
        await root.http.close()
        if ops is not None:
            await ops.http.close()
    actions = [(e.actor, e.action, e.target) for e in await _audit(web)]
    assert actions == [
        ("root", "role_changed", "ops"),
        ("ops", "user_disabled", "root"),
        ("ops", "user_enabled", "root"),
        ("ops", "role_changed", "ops"),
    ]


@pytest.mark.both_backends
async def test_an_admin_adds_and_takes_out_team_members(web: InboxService) -> None:
    await person(web, "root", role="admin")
    assert web.engine is not None
    await AccountAdmin(web.engine).create("cli", "gus", [], "agent", TEST_PASSWORD)
    admin = await signed_in(web, "root")
    try:
        status, page = await admin.get("/admin/teams")
        assert status == 200 and 'id="team-orders"' in page
        assert 'data-member="gus"' not in page
        status, _page, to = await admin.post_form(
            "/admin/teams/orders", {"action": "add", "name": "gus"}
        )
        assert (status, to) == (303, "/admin/teams?done=added#team-orders")
        status, page = await admin.get("/admin/teams")
        orders = page.split('id="team-orders"')[1].split("</section>")[0]
        assert 'data-member="gus"' in orders
        status, _page, _to = await admin.post_form(
            "/admin/teams/billing", {"action": "add", "name": "gus"}
        )
        status, _page, _to = await admin.post_form(
            "/admin/teams/orders", {"action": "remove", "name": "gus"}
        )
        assert status == 303
        status, page = await admin.get("/admin/users/gus")
        assert re.search(r'value="billing" checked', page)
        assert not re.search(r'value="orders" checked', page)
        assert (await admin.post_form("/admin/teams/nowhere", {"action": "add", "name": "gus"}))[
            0
        ] == 404
        assert (await admin.post_form("/admin/teams/orders", {"action": "add", "name": "x"}))[
            0
        ] == 404
    finally:
        await admin.http.close()
    events = [(e.actor, e.action, e.target, e.details) for e in await _audit(web)]
    assert events == [
        ("cli", "user_created", "gus", {"role": "agent", "teams": []}),
        ("root", "team_member_added", "orders", {"person": "gus"}),
        ("root", "team_member_added", "billing", {"person": "gus"}),
        ("root", "team_member_removed", "orders", {"person": "gus"}),
    ]


async def test_the_people_page_in_a_browser(
    web: InboxService, browser: Browser, tmp_path: Path
) -> None:
    await person(web, "root", role="admin")
    await person(web, "sue", role="supervisor")
    await person(web, "ada")
    assert web.engine is not None
    await AccountAdmin(web.engine).disable("root", "ada")
    page = await browser.new_page()
    base = f"http://127.0.0.1:{web.port}"
    await page.goto(f"{base}/admin")
    assert "/login?next=" in page.url
    await page.fill("#name", "root")
    await page.fill("#password", TEST_PASSWORD)
    await page.click("#login button[type=submit]")
    await page.wait_for_selector("#people")
    await page.fill("#new-name", "bob")
    await page.check("#new-person input[value=orders]")
    await page.click("#create-person")
    await page.wait_for_selector("#new-token-value")
    folder = Path(os.environ.get(SHOTS) or tmp_path)
    await page.screenshot(path=str(folder / "admin-user-created.png"), full_page=True)
    await page.goto(f"{base}/admin/users")
    rows = await page.locator("#people tbody tr").all_inner_texts()
    assert [r.split("\t")[0] for r in rows] == ["ada", "bob", "root", "sue"]
    assert "disabled" in rows[0]
    await page.screenshot(path=str(folder / "admin-users.png"), full_page=True)
    await page.click("text=Teams")
    await page.select_option("#add-billing", "bob")
    await page.click("#team-billing button:has-text('Add to Billing')")
    await page.wait_for_selector("#team-billing [data-member=bob]")
    await page.screenshot(path=str(folder / "admin-teams.png"), full_page=True)


@pytest.mark.both_backends
async def test_a_name_made_on_the_command_line_links_to_its_page(web: InboxService) -> None:
    await person(web, "root", role="admin")
    assert web.engine is not None
    await AccountAdmin(web.engine).create("cli", "kim/ops team", ["orders"], "agent", None)
    admin = await signed_in(web, "root")
    try:
        _status, page = await admin.get("/admin/users")
        found = re.search(r'href="(/admin/users/kim[^"]*)"', page)
        assert found is not None and found.group(1) == "/admin/users/kim%2Fops%20team"
        status, page = await admin.get(found.group(1))
        assert status == 200 and "<h1>kim/ops team</h1>" in page
        status, _page, to = await admin.post_form(found.group(1) + "/disable", {})
        assert (status, to) == (303, found.group(1) + "?done=disabled")
    finally:
        await admin.http.close()
    assert (await AccountAdmin(web.engine).person("kim/ops team")).disabled


@pytest.mark.both_backends
async def test_a_team_whose_only_member_is_disabled_is_a_team_nobody_works(
    web: InboxService,
) -> None:
    assert web.engine is not None
    admin = AccountAdmin(web.engine)
    await admin.create("cli", "root", ["billing"], "admin", None)
    await admin.create("cli", "ola", ["orders"], "agent", None)
    teams = ["billing", "orders"]
    assert await unstaffed_teams(web.engine, teams) == []
    await admin.disable("root", "ola")
    assert await unstaffed_teams(web.engine, teams) == [Unstaffed("orders", 0)]
    await admin.enable("root", "ola")
    assert await unstaffed_teams(web.engine, teams) == []
