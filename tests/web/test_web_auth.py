"""Signing in: argon2 hashes, session cookies, CSRF tokens, lock-out, safe redirects."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from inbox.store.accounts import MAX_FAILED_LOGINS
from inbox.web.auth import source_of
from tests.support.config import make_settings
from tests.support.service import Running
from tests.support.signing_in import TEST_PASSWORD, cookie_jar, login_form, sign_in_http
from tests.support.store import store_of
from tests.support.waiting import until


async def test_sign_in_gives_a_strict_http_only_session(running: Running) -> None:
    await running.agent_token("ana", "billing")
    stored = store_of(running.service.settings).rows("SELECT password_hash FROM agents")
    assert str(stored[0][0]).startswith("$argon2id$")
    async with aiohttp.ClientSession(cookie_jar=cookie_jar()) as http:
        async with http.get(running.base + "/agent", allow_redirects=False) as r:
            assert r.status == 303 and r.headers["Location"] == "/login?next=/agent"
        response = await sign_in_http(http, running.base, "ana", TEST_PASSWORD)
        assert response.status == 303 and response.headers["Location"] == "/agent"
        session_cookie = next(
            c for c in response.headers.getall("Set-Cookie") if c.startswith("inbox_session=")
        )
        assert "HttpOnly" in session_cookie and "SameSite=Strict" in session_cookie
        async with http.get(running.base + "/agent") as r:
            page = await r.text()
            assert r.status == 200 and "Signed in as ana" in page
            assert "script-src 'self'" in r.headers["Content-Security-Policy"]
            assert "<script>" not in page  # no inline script anywhere
        async with http.get(running.base + "/api/me") as r:
            assert (await r.json()) == {"name": "ana", "teams": ["billing"], "role": "agent"}


async def test_wrong_passwords_lock_the_account_and_a_new_password_unlocks_it(
    running: Running,
) -> None:
    await running.agent_token("bea", "orders")
    async with aiohttp.ClientSession(cookie_jar=cookie_jar()) as http:
        for _ in range(5):
            wrong = await sign_in_http(http, running.base, "bea", "not the password")
            assert wrong.status == 401
        locked = await sign_in_http(http, running.base, "bea", TEST_PASSWORD)
        assert locked.status == 401  # the right password, but the account is locked
        unknown = await sign_in_http(http, running.base, "nobody", TEST_PASSWORD)
        assert unknown.status == 401
    from inbox.store.accounts import Accounts

    assert running.service.engine is not None
    await Accounts(running.service.engine).set_password("bea", "a brand new password")
    async with aiohttp.ClientSession(cookie_jar=cookie_jar()) as http:
        ok = await sign_in_http(http, running.base, "bea", "a brand new password")
        assert ok.status == 303


async def test_forms_and_writes_need_the_csrf_token(running: Running) -> None:
    token = await running.agent_token("cy", "billing")
    ticket = await running.submit(email="x@example.com", message="My invoice is wrong")
    reference = ticket["reference"]
    async with aiohttp.ClientSession(cookie_jar=cookie_jar()) as http:
        await login_form(http, running.base)
        async with http.post(
            running.base + "/login",
            data={"csrf": "forged", "name": "cy", "password": TEST_PASSWORD},
            allow_redirects=False,
        ) as r:
            assert r.status == 403
        assert (await sign_in_http(http, running.base, "cy", TEST_PASSWORD)).status == 303
        async with http.get(running.base + "/agent") as r:
            found = re.search(r'data-csrf="([^"]+)"', await r.text())
            assert found is not None
            csrf = found.group(1)

        async def note(headers: dict[str, str]) -> int:
            async with http.post(
                f"{running.base}/api/conversations/{reference}/notes",
                json={"text": "checking"},
                headers=headers,
            ) as r:
                return r.status

        async def visible() -> bool:
            status, _ = await running.api("GET", f"/api/conversations/{reference}", token)
            return status == 200

        await until(visible)
        assert await note({}) == 403
        assert await note({"X-CSRF-Token": "forged"}) == 403
        assert await note({"X-CSRF-Token": csrf}) == 201
        async with http.post(running.base + "/logout", data={}, allow_redirects=False) as r:
            assert r.status == 403  # nobody can sign you out from another site
        async with http.post(
            running.base + "/logout", data={"csrf": "é" + csrf}, allow_redirects=False
        ) as r:
            assert r.status == 403  # a token no ASCII compare takes: refused, not a 500
        async with http.post(
            running.base + "/logout", data={"csrf": csrf}, allow_redirects=False
        ) as r:
            assert r.status == 303
        async with http.get(running.base + "/api/me") as r:
            assert r.status == 401  # the session ended in the store, not only the cookie


async def test_sign_in_never_redirects_off_site(running: Running) -> None:
    await running.agent_token("dee", "billing")
    async with aiohttp.ClientSession(cookie_jar=cookie_jar()) as http:
        for target in ("//evil.example/x", "https://evil.example/", "/\\evil.example"):
            response = await sign_in_http(http, running.base, "dee", TEST_PASSWORD, next=target)
            assert response.headers["Location"] == "/agent", target
        good = await sign_in_http(http, running.base, "dee", TEST_PASSWORD, next="/agent#12")
        assert good.headers["Location"] == "/agent#12"


def _from(address: str) -> aiohttp.ClientSession:
    """A browser whose connections come from ``address`` (any of 127.0.0.0/8 reaches the
    server on 127.0.0.1): another client address, as the server sees it."""
    connector = aiohttp.TCPConnector(local_addr=(address, 0))
    return aiohttp.ClientSession(connector=connector, cookie_jar=cookie_jar())


def test_wrong_passwords_count_per_ipv4_address_and_per_ipv6_64() -> None:
    assert source_of("192.0.2.7") == "192.0.2.7"
    assert source_of("::ffff:192.0.2.7") == "192.0.2.7"
    assert source_of("2001:db8:1:2::1") == source_of("2001:db8:1:2:ffff::9") == "2001:db8:1:2::/64"
    assert source_of("2001:db8:1:3::1") != source_of("2001:db8:1:2::1")
    assert source_of("unknown") == "unknown"


@pytest.mark.both_backends
async def test_a_strangers_wrong_passwords_lock_out_only_the_strangers_address(
    running: Running,
) -> None:
    await running.agent_token("root", "billing", role="admin")
    async with _from("127.0.0.2") as attacker:
        for _ in range(5):
            assert (await sign_in_http(attacker, running.base, "root", "a guess")).status == 401
        # The attacker's address is refused now, even with the right password ...
        assert (await sign_in_http(attacker, running.base, "root", TEST_PASSWORD)).status == 401
        # ... while the owner, elsewhere, signs in as ever.
        async with _from("127.0.0.3") as owner:
            assert (await sign_in_http(owner, running.base, "root", TEST_PASSWORD)).status == 303
        # An admin's unlock forgets the wrong passwords from every address.
        from inbox.store.accounts import Accounts

        assert running.service.engine is not None
        await Accounts(running.service.engine).unlock("root")
        assert (await sign_in_http(attacker, running.base, "root", TEST_PASSWORD)).status == 303


async def _post_login(base: str, cookie: str, csrf: str) -> int:
    """A sign-in POST with exactly this login cookie and form token (a tossed pair)."""
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            base + "/login",
            data={"csrf": csrf, "name": "fay", "password": TEST_PASSWORD},
            headers={"Cookie": f"inbox_login={cookie}"},
            allow_redirects=False,
        ) as r,
    ):
        return r.status


async def test_the_login_token_is_bound_to_a_pre_session_this_server_issued(
    running: Running,
) -> None:
    await running.agent_token("fay", "billing")
    # A pair made up on a sibling site and tossed into the victim's browser.
    assert await _post_login(running.base, "chosen-by-attacker", "chosen-by-attacker") == 403
    # A token this server issued, but for another pre-session than the cookie's.
    async with (
        aiohttp.ClientSession(cookie_jar=cookie_jar()) as first,
        aiohttp.ClientSession(cookie_jar=cookie_jar()) as second,
    ):
        await login_form(first, running.base)
        token = await login_form(second, running.base)
        cookie = next(c.value for c in first.cookie_jar if c.key == "inbox_login")
        assert await _post_login(running.base, cookie, token) == 403
        assert await _post_login(running.base, cookie, "é" + token) == 403  # not a 500
        # The pair the server issued together signs in.
        own = next(c.value for c in second.cookie_jar if c.key == "inbox_login")
        assert await _post_login(running.base, own, token) == 303


async def test_behind_https_the_cookies_cannot_be_tossed_from_a_sibling_site(
    tmp_path: Path, service_factory: Any
) -> None:
    settings = make_settings(tmp_path, web={"public_url": "https://support.example.com"})
    service = await service_factory(settings)
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"http://127.0.0.1:{service.port}/login") as r,
    ):
        cookie = r.headers["Set-Cookie"]
    # __Host-: only this host sets it (Secure, Path=/, no Domain), no sibling subdomain.
    assert cookie.startswith("__Host-inbox_login="), cookie
    assert "Secure" in cookie and "Path=/;" in cookie + ";" and "Domain" not in cookie


@pytest.mark.both_backends
async def test_guesses_sent_all_at_once_still_lock_the_address(running: Running) -> None:
    await running.agent_token("gus", "billing")
    attackers = [_from("127.0.0.4") for _ in range(MAX_FAILED_LOGINS + 2)]
    try:
        tokens = [await login_form(http, running.base) for http in attackers]

        async def guess(http: aiohttp.ClientSession, csrf: str) -> int:
            form = {"csrf": csrf, "name": "gus", "password": "a guess"}
            async with http.post(running.base + "/login", data=form) as r:
                return r.status

        statuses = await asyncio.gather(*map(guess, attackers, tokens))
        assert statuses == [401] * len(attackers)
        # However the counts interleaved, the lock that the fifth set still holds.
        right = await sign_in_http(attackers[0], running.base, "gus", TEST_PASSWORD)
        assert right.status == 401
    finally:
        for http in attackers:
            await http.close()
