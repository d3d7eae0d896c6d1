"""Every customer in their own language, end to end: the form, Telegram and the chat
widget answer in the customer's language (their message's, else their browser's or app's),
kept on their contact; a shop's own wording in config.toml replaces the shipped one."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from playwright.async_api import Browser
from sqlalchemy.ext.asyncio import AsyncEngine

from inbox.bot_words import Verdict, exact_verdict
from inbox.config.settings import Settings, parse_settings
from inbox.form_links import confirmation_path
from inbox.service.app import InboxService
from tests.support.bot_answers import queue_bot_answer
from tests.support.config import make_raw_config, without_bot
from tests.support.service import Running
from tests.support.staff_web import person, signed_in
from tests.support.store import Store, store_of
from tests.support.telegram_api import BotApi
from tests.support.telegram_channel import ANN, telegram_settings
from tests.support.waiting import until

pytestmark = pytest.mark.both_backends
GERMAN = {"Accept-Language": "de-DE,de;q=0.9,en;q=0.5"}


async def _post_form(running: Running, message: str, headers: dict[str, str]) -> str:
    form = {
        "name": "Greta",
        "email": "greta@example.com",
        "subject": "",
        "message": message,
        "idempotency_key": f"key-{len(message)}-{message[:8]}",
    }
    async with running.http.post(running.base + "/form", data=form, headers=headers) as r:
        assert r.status == 200, await r.text()
        return await r.text()


async def _ticket_page_says(running: Running, receipt: str, words: str) -> str:
    link = re.search(r'id="follow" href="([^"]+)"', receipt)
    assert link is not None

    async def shown() -> str | None:
        async with running.http.get(running.base + link.group(1), headers=GERMAN) as r:
            page = await r.text()
        return page if words in page else None

    page: str = await until(shown)
    return page


async def test_a_german_form_message_gets_a_german_acknowledgement(running: Running) -> None:
    receipt = await _post_form(
        running,
        "Meine Rechnung wurde zweimal abgebucht. Bitte erstatten Sie mir den doppelten Betrag.",
        GERMAN,
    )
    assert '<html lang="de">' in receipt
    assert "<h1>Vielen Dank</h1>" in receipt
    assert re.search(r'Ihre (Ticketnummer|Referenz) ist <strong id="ticket">#\d+</strong>', receipt)
    assert "Ihr Ticket ansehen" in receipt

    page = await _ticket_page_says(running, receipt, "Ihre Ticketnummer ist #")
    assert "Vielen Dank, Ihre Nachricht ist bei uns angekommen." in page
    assert "antwortet in der Regel innerhalb von" in page
    assert '<span class="who">Sie</span>' in page and "Kundenservice" in page
    store = store_of(running.service.settings)
    assert store.rows("SELECT language FROM contacts") == [("de",)]
    (ack,) = store.rows("SELECT text FROM messages WHERE direction='out'")
    assert ack[0].startswith("Vielen Dank, Ihre Nachricht ist bei uns angekommen.")

    # The agent sees the customer's language beside their name and notes.
    ticket = re.search(r"Ihre Ticketnummer ist #(\d+)", page)
    assert ticket is not None
    await person(running.service, "dora")
    staff = await signed_in(running.service, "dora")
    try:
        _status, desk = await staff.get(f"/agent/conversations/{ticket.group(1)}")
    finally:
        await staff.http.close()
    assert re.search(r'<p id="customer-language"[^>]*>Writes in German</p>', desk)


async def test_the_address_confirmation_page_follows_the_browser(running: Running) -> None:
    receipt = await _post_form(
        running, "Hallo, wo bleibt meine Bestellung von letzter Woche?", GERMAN
    )
    await _ticket_page_says(running, receipt, "Vielen Dank")
    store = store_of(running.service.settings)
    ((address,),) = store.rows("SELECT address FROM identities WHERE channel='form'")
    path = confirmation_path(running.service.settings.secret, address)
    async with running.http.get(running.base + path, headers=GERMAN) as r:
        page = await r.text()
    assert "Bestätigen Sie, dass <strong>greta@example.com</strong> Ihre Adresse ist" in page
    assert ">Ja, das ist meine Adresse</button>" in page


async def test_a_message_too_short_to_tell_is_answered_in_the_browsers_language(
    running: Running,
) -> None:
    receipt = await _post_form(running, "Hallo?", GERMAN)
    await _ticket_page_says(running, receipt, "Vielen Dank, Ihre Nachricht ist bei uns")
    store = store_of(running.service.settings)
    assert store.rows("SELECT language FROM contacts") == [("de",)]


async def test_the_form_page_follows_the_browser_and_english_stays_the_default(
    running: Running,
) -> None:
    async with running.http.get(running.base + "/form", headers=GERMAN) as r:
        german = await r.text()
    assert "<h1>Kundenservice kontaktieren</h1>" in german
    assert '<label for="email">E-Mail-Adresse' in german and ">Senden</button>" in german
    async with running.http.get(
        running.base + "/form", headers={"Accept-Language": "es-ES,es;q=0.9"}
    ) as r:
        assert "<h1>Contactar con atención al cliente</h1>" in await r.text()
    async with running.http.get(running.base + "/form", headers={"Accept-Language": "zh"}) as r:
        english = await r.text()
    assert "<h1>Contact support</h1>" in english and '<html lang="en">' in english
    # A refused submission says what is wrong in the page's language.
    form = {"email": "not an address", "message": "", "idempotency_key": "k"}
    async with running.http.post(running.base + "/form", data=form, headers=GERMAN) as r:
        refused = await r.text()
    assert "Bitte korrigieren Sie Folgendes:" in refused
    assert "Bitte schreiben Sie eine Nachricht" in refused


async def test_an_override_in_config_toml_changes_the_english_acknowledgement(
    tmp_path: Path, service_factory: Callable[[Settings], Any]
) -> None:
    raw = make_raw_config(tmp_path)
    raw["texts"] = {
        "en": {"acknowledgement": "Cheers! Ticket {reference} is with us. {who} {when} {{Shop}}"}
    }
    settings = without_bot(parse_settings(raw, tmp_path))
    service = await service_factory(settings)
    store = store_of(settings)
    await _submit_json(service.port, "My card was charged twice for one invoice, please refund.")

    async def acknowledged() -> str | None:
        rows = store.rows("SELECT text FROM messages WHERE direction='out'")
        return str(rows[0][0]) if rows else None

    ack: str = await until(acknowledged)
    assert re.fullmatch(
        r"Cheers! Ticket #\d+ is with us\. The Billing team usually answers within .+\. \{Shop\}",
        ack,
    ), ack


async def _submit_json(port: int, message: str) -> None:
    async with aiohttp.ClientSession() as http:
        body = {"email": "ada@example.com", "message": message, "idempotency_key": "over-1"}
        async with http.post(f"http://127.0.0.1:{port}/api/messages", json=body) as r:
            assert r.status == 202, await r.text()


@dataclass
class Telegram:
    """The product with the Telegram channel on (the bot silent), and its store."""

    service: InboxService
    store: Store

    @property
    def engine(self) -> AsyncEngine:
        assert self.service.engine is not None
        return self.service.engine


@pytest.fixture
async def telegram(
    tmp_path: Path,
    bot_api: BotApi,
    monkeypatch: pytest.MonkeyPatch,
    service_factory: Callable[[Settings], Any],
) -> Telegram:
    settings = without_bot(telegram_settings(tmp_path, bot_api, monkeypatch))
    return Telegram(await service_factory(settings), store_of(settings))


async def test_a_spanish_telegram_customer_gets_spanish_status(
    telegram: Telegram, bot_api: BotApi
) -> None:
    await bot_api.customer_says(
        ANN, "Mi pedido no ha llegado todavía y ya han pasado dos semanas.", language="es"
    )
    (ack,) = await bot_api.wait_for_texts(ANN, 1)
    assert ack.startswith("Gracias, hemos recibido su mensaje. Su número de ticket es #"), ack
    reference = re.search(r"#(\d+)", ack)
    assert reference is not None
    await bot_api.customer_says(ANN, "/status", language="es")
    status = (await bot_api.wait_for_texts(ANN, 2))[1]
    assert status == f"Sus tickets abiertos:\n#{reference.group(1)} - nuevo - telegram", status
    assert telegram.store.rows("SELECT language FROM contacts") == [("es",)]


async def test_a_spanish_customer_gets_the_bot_answers_buttons_in_spanish(
    telegram: Telegram, bot_api: BotApi
) -> None:
    await bot_api.customer_says(
        ANN, "Olvidé mi contraseña y no puedo entrar en mi cuenta desde ayer.", language="es"
    )
    await bot_api.wait_for_texts(ANN, 1)
    await queue_bot_answer(telegram.engine, "telegram", str(ANN), "Abra Ajustes y elija Seguridad.")
    await bot_api.wait_for(lambda: bot_api.buttons_of(ANN) != [])
    assert [text for text, _data in bot_api.buttons_of(ANN)] == [
        "Sí, se ha resuelto",
        "No, no me ha ayudado",
        "Quiero hablar con una persona",
    ]
    await bot_api.customer_presses(ANN, bot_api.last_sent(ANN).message_id, "choice:human")
    inbound = "SELECT text FROM messages WHERE direction='in' ORDER BY id"
    await until(lambda: telegram.store.rows(inbound)[-1:] == [("Quiero hablar con una persona",)])
    assert exact_verdict("Quiero hablar con una persona") is Verdict.HUMAN


async def test_a_new_telegram_customer_is_answered_in_their_apps_language(
    telegram: Telegram, bot_api: BotApi
) -> None:
    await bot_api.customer_says(ANN + 1, "/status", language="es")
    (status,) = await bot_api.wait_for_texts(ANN + 1, 1)
    assert status.startswith("Todavía no tiene ningún ticket con nosotros."), status
    await bot_api.customer_says(ANN + 2, "/start", name="Zoé", language="fr")
    (hello,) = await bot_api.wait_for_texts(ANN + 2, 1)
    assert hello.startswith("Bonjour Zoé ! Ici le service client.") and "/status" in hello


async def test_a_later_message_confidently_in_another_language_changes_the_kept_one(
    telegram: Telegram, bot_api: BotApi
) -> None:
    await bot_api.customer_says(ANN, "My parcel never arrived and it has been two weeks now.")
    await bot_api.wait_for_texts(ANN, 1)
    assert telegram.store.rows("SELECT language FROM contacts") == [("en",)]
    await bot_api.customer_says(
        ANN, "Ich möchte außerdem wissen, wann meine Rechnung endlich korrigiert wird."
    )
    await until(lambda: telegram.store.rows("SELECT language FROM contacts") == [("de",)])
    await bot_api.customer_says(ANN, "/status")
    status = (await bot_api.wait_for_texts(ANN, 2))[-1]
    assert status.startswith("Ihre offenen Tickets:"), status


async def test_a_french_chat_visitor_sees_the_widget_in_french(
    running: Running, browser: Browser
) -> None:
    context = await browser.new_context(locale="fr-FR")
    page = await context.new_page()
    await page.goto(f"{running.base}/chat")
    await page.wait_for_selector("#chat-status:has-text('Connecté')")
    assert await page.get_attribute("html", "lang") == "fr"
    assert await page.inner_text("h1") == "Discuter avec le service client"
    assert await page.get_attribute("#chat-input", "placeholder") == "Écrivez votre message"
    assert await page.inner_text("#chat-form button") == "Envoyer"
    assert await page.inner_text("label[for=chat-name]") == "Votre nom (facultatif)"
    # "Bonjour" alone is too short to tell: the browser's language answers it.
    await page.fill("#chat-input", "Bonjour")
    await page.press("#chat-input", "Enter")
    await page.wait_for_selector("#chat-log li.customer .who:has-text('Vous')")
    ack = page.locator("#chat-log li:not(.customer)").last
    await ack.locator("p:has-text('Merci, nous avons bien reçu votre message.')").wait_for()
    assert await ack.locator(".who").inner_text() == "Service client"
    store = store_of(running.service.settings)
    assert store.rows("SELECT language FROM contacts") == [("fr",)]
    await context.close()
