"""Signing in over plain HTTP, as a browser does: the login form, then its POST."""

from __future__ import annotations

import re

import aiohttp

TEST_PASSWORD = "correct horse battery staple"


async def login_form(http: aiohttp.ClientSession, base: str, path: str = "/login") -> str:
    """Fetches the login form (never cached) and returns its CSRF token."""
    async with http.get(base + path) as r:
        assert r.status == 200
        assert r.headers["Cache-Control"] == "no-store"
        found = re.search(r'name="csrf" value="([^"]+)"', await r.text())
        assert found is not None
        return found.group(1)


async def sign_in_http(
    http: aiohttp.ClientSession, base: str, name: str, password: str, **extra: str
) -> aiohttp.ClientResponse:
    """Posts the login form as a browser would; the response, its redirect not followed."""
    csrf = await login_form(http, base)
    async with http.post(
        base + "/login",
        data={"csrf": csrf, "name": name, "password": password, **extra},
        allow_redirects=False,
    ) as r:
        await r.read()
        return r


def cookie_jar() -> aiohttp.CookieJar:
    """A jar that keeps cookies for 127.0.0.1, as a browser does."""
    return aiohttp.CookieJar(unsafe=True)  # keep cookies for 127.0.0.1
