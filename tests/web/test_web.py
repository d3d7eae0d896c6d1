"""The web server at its edges: security headers on every response (redirects and
aiohttp's own errors too), HSTS behind https, slow clients cut off, and a closed tab
that is not an error."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from pathlib import Path

import aiohttp
import pytest

from inbox.service.app import InboxService
from inbox.web.live import LiveEvent
from tests.support.config import make_settings
from tests.support.service import Running
from tests.support.signing_in import TEST_PASSWORD, cookie_jar, sign_in_http
from tests.support.waiting import until

SECURITY_HEADERS = ("Content-Security-Policy", "X-Content-Type-Options", "Referrer-Policy")


def _secured(headers: Mapping[str, str], what: str) -> None:
    for name in SECURITY_HEADERS:
        assert name in headers, (what, name)


async def test_redirects_and_aiohttps_own_errors_carry_the_security_headers(
    running: Running,
) -> None:
    http = running.http
    for method, path, status, what in (
        ("GET", "/agent", 303, "redirect to sign in"),
        ("GET", "/no/such/page", 404, "404"),
        ("DELETE", "/login", 405, "405"),
        ("GET", "/static/no-such-file.js", 404, "static 404"),
    ):
        async with http.request(method, running.base + path, allow_redirects=False) as r:
            assert r.status == status, what
            _secured(r.headers, what)
    async with http.get(running.base + "/form") as r:
        assert r.status == 200
        assert "Strict-Transport-Security" not in r.headers  # plain http: no HSTS


async def test_https_public_url_sends_hsts_on_every_response(
    tmp_path: Path, service_factory: object
) -> None:
    settings = make_settings(tmp_path, web={"public_url": "https://support.example.com"})
    service: InboxService = await service_factory(settings)  # type: ignore[operator]
    base = f"http://127.0.0.1:{service.port}"
    async with aiohttp.ClientSession() as http:
        for path in ("/form", "/agent", "/nowhere", "/api/me"):
            async with http.get(base + path, allow_redirects=False) as r:
                hsts = r.headers.get("Strict-Transport-Security", "")
                assert hsts.startswith("max-age=") and int(hsts[8:].split(";")[0]) >= 15552000
                _secured(r.headers, path)


async def _closed_by_server(reader: asyncio.StreamReader) -> bytes:
    """Everything the server sends until it closes the connection."""
    received = b""
    while chunk := await reader.read(65536):
        received += chunk
    return received


async def test_a_client_that_never_finishes_its_request_is_cut_off(
    tmp_path: Path, service_factory: object
) -> None:
    settings = make_settings(tmp_path, web={"read_timeout": 0.5})
    service: InboxService = await service_factory(settings)  # type: ignore[operator]
    assert service.port is not None
    # Half a request line, then nothing: the server closes the connection by itself.
    reader, writer = await asyncio.open_connection("127.0.0.1", service.port)
    writer.write(b"GET /fo")
    await writer.drain()
    async with asyncio.timeout(10):
        assert await _closed_by_server(reader) == b""
    writer.close()
    # Headers sent, a body announced but only begun: 408, then the close.
    reader, writer = await asyncio.open_connection("127.0.0.1", service.port)
    writer.write(
        b"POST /api/messages HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: 1000\r\n\r\n{"
    )
    await writer.drain()
    async with asyncio.timeout(10):
        answer = await _closed_by_server(reader)
    assert answer.startswith(b"HTTP/1.1 408"), answer[:100]
    writer.close()
    # An ordinary client is not affected.
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"http://127.0.0.1:{service.port}/form") as r,
    ):
        assert r.status == 200


async def test_closing_a_live_tab_is_not_an_error(
    running: Running, caplog: pytest.LogCaptureFixture
) -> None:
    await running.agent_token("lea", "billing")
    hub = running.service.live
    async with aiohttp.ClientSession(cookie_jar=cookie_jar()) as http:
        assert (await sign_in_http(http, running.base, "lea", TEST_PASSWORD)).status == 303
        response = await http.get(running.base + "/live")
        assert response.status == 200
        assert b"connected" in await response.content.readuntil(b"\n\n")
        await until(lambda: hub.listeners == 1)
        caplog.clear()
        with caplog.at_level(logging.INFO):
            response.close()  # the tab is closed

            def gone() -> bool:
                # The server learns of it on its next write.
                hub.publish(LiveEvent("conversation", "billing", {"reference": 1}))
                return hub.listeners == 0

            await until(gone)
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == [], [r.getMessage() for r in errors]


async def test_a_live_tab_closed_before_the_stream_starts_is_not_an_error(
    running: Running, caplog: pytest.LogCaptureFixture
) -> None:
    """A tab closed while ``/live`` looks up the session: the headers find the connection
    closing. That is the visitor leaving, not a server error."""
    await running.agent_token("lou", "billing")
    async with aiohttp.ClientSession(cookie_jar=cookie_jar()) as http:
        assert (await sign_in_http(http, running.base, "lou", TEST_PASSWORD)).status == 303
        cookies = "; ".join(f"{c.key}={c.value}" for c in http.cookie_jar)
    request = f"GET /live HTTP/1.1\r\nHost: x\r\nCookie: {cookies}\r\n\r\n".encode()
    with caplog.at_level(logging.INFO):
        # The moment the server reaches the headers cannot be observed from outside: tabs
        # close after ever longer moments, so some close while the session is looked up.
        for step in range(30):
            _reader, writer = await asyncio.open_connection("127.0.0.1", running.service.port)
            writer.write(request)
            await writer.drain()
            await asyncio.sleep(step * 0.0005)
            writer.transport.abort()  # gone at once, before any answer
        # Only the open stream would keep a listener; the server is still well.
        async with aiohttp.ClientSession() as http, http.get(running.base + "/healthz") as r:
            assert r.status == 200
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == [], [r.getMessage() for r in errors]
