"""Headless Chromium (Debian's package) driven by Playwright, for tests of real pages."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
from playwright.async_api import Browser, ConsoleMessage, Dialog, Page, Request, async_playwright

from tests.support.signing_in import TEST_PASSWORD

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    """A fresh headless Chromium for one test."""
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield launched
        finally:
            await launched.close()


@dataclass
class ScriptWatch:
    """What a page's script did that only script can do: dialogs it opened, requests to
    ``/pwned`` it made. Hostile payloads in the tests do both when they run."""

    dialogs: list[str] = field(default_factory=list)
    beacons: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)

    def attach(self, page: Page) -> None:
        page.on("dialog", self._dialog)
        page.on("request", self._request)
        page.on("console", self._console)

    def _console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.console_errors.append(message.text)

    async def _dialog(self, dialog: Dialog) -> None:
        self.dialogs.append(dialog.message)
        await dialog.dismiss()

    def _request(self, request: Request) -> None:
        if "pwned" in request.url:
            self.beacons.append(request.url)

    @staticmethod
    async def flag(page: Page) -> object:
        """``window.__pwned`` on the top page, which a payload sets when it can reach it."""
        return await page.evaluate("() => window.__pwned")


async def sign_in(page: Page, base: str, name: str, password: str = TEST_PASSWORD) -> None:
    """Signs in through the login page, as a person would, and waits for the desk."""
    await page.goto(f"{base}/agent")
    assert "/login?next=" in page.url  # signed out, the desk sends you to sign in
    await page.fill("#name", name)
    await page.fill("#password", password)
    await page.click("#login button[type=submit]")
    await page.wait_for_selector(f"#me:has-text('Signed in as {name}')")
    await page.wait_for_selector("#queue li")  # the queue has loaded (or says it is empty)


async def open_conversation(page: Page, reference: int) -> None:
    """Opens one conversation in the desk and waits until every frame in it has loaded."""
    await page.evaluate("ref => { window.location.hash = '#' + ref; }", reference)
    await page.wait_for_selector(f"#conversation-title:has-text('#{reference} ')")
    for frame in page.frames:
        await frame.wait_for_load_state("load")
