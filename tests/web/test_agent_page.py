"""The agent desk in a real browser: hostile mail is shown, never run; answers go out."""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import make_msgid

import pytest
from playwright.async_api import Browser

from inbox.store.accounts import Accounts
from tests.support.browser import ScriptWatch, open_conversation, sign_in
from tests.support.mailbox import SUPPORT, Mailbox
from tests.support.mailservers import Dovecot
from tests.support.paths import SHARED_DATA
from tests.support.signing_in import TEST_PASSWORD
from tests.support.waiting import until

# Each payload, where script runs, opens a dialog, sets ``top.__pwned`` or calls ``/pwned``.
RUN = "alert('{0}'); top.__pwned = '{0}'; fetch('/pwned/{0}')"
PAYLOADS = [
    "<script>" + RUN.format("script") + "</script>",
    '<img src="x" onerror="' + RUN.format("img") + '">',
    '<svg><script>alert("svg")</script></svg><svg onload="' + RUN.format("svg") + '"></svg>',
    '<details open ontoggle="' + RUN.format("details") + '"><summary>s</summary></details>',
    '<iframe srcdoc="&lt;script&gt;parent.alert(&quot;frame&quot;)&lt;/script&gt;"></iframe>',
    '<input autofocus onfocus="' + RUN.format("focus") + '">',
    '<meta http-equiv="refresh" content="0;url=/pwned/refresh">',
    '<link rel="stylesheet" href="/pwned/css"><style>@import url("/pwned/import");</style>',
    '<object data="/pwned/object"></object><embed src="/pwned/embed">',
    '<form action="/pwned/form"><button formaction="javascript:alert(1)">go</button></form>',
    '<a href="javascript:' + RUN.format("link") + '">harmless words</a>',
    '<body onload="' + RUN.format("body") + '"><p>readable part</p></body>',
]


def payload_mail(index: int, payload: str) -> bytes:
    message = EmailMessage()
    message["From"] = (
        f"\"<img src=x onerror=alert('from{index}')> Mallory {index}\" <mallory{index}@customer.test>"
    )
    message["To"] = SUPPORT
    message["Subject"] = f"<img src=x onerror=\"alert('subject{index}')\"> question {index}"
    message["Message-ID"] = make_msgid(domain="customer.test")
    message.set_content(f"Plain part {index}: where is my parcel?")
    message.add_alternative(
        f"<html><body><p>Visible words {index}</p>{payload}</body></html>", subtype="html"
    )
    message.add_attachment(
        b"not really a picture",
        maintype="application",
        subtype="octet-stream",
        filename=f"<img src=x onerror=alert('file{index}')>.png",
    )
    return message.as_bytes()


async def test_payloads_do_run_in_an_unprotected_page(browser: Browser) -> None:
    """The control: the same payloads and watch catch script when nothing stops it."""
    page = await browser.new_page()
    watch = ScriptWatch()
    watch.attach(page)
    await page.set_content("".join(PAYLOADS))
    await until(lambda: len(watch.dialogs) >= 4)
    assert await watch.flag(page)


@pytest.mark.timeout(600)
async def test_hostile_mail_shown_in_the_agent_desk_never_runs_script(
    mailbox: Mailbox,
    dovecot: Dovecot,
    browser: Browser,
) -> None:
    corpus = sorted(
        p for p in (SHARED_DATA / "hostile-mail").rglob("*") if p.suffix in (".eml", ".txt")
    )
    mails = [p.read_bytes() for p in corpus] + [
        payload_mail(i, payload) for i, payload in enumerate(PAYLOADS)
    ]
    settings, user, store = mailbox.settings, mailbox.user, mailbox.store
    dovecot.save_many(user, mails)
    service = await mailbox.start()
    assert service.engine is not None

    def kept() -> int:
        return store.count("SELECT count(*) FROM attachments WHERE kind='original'")

    await until(lambda: kept() >= len(mails), timeout=120)
    teams = [team.name for team in settings.all_teams]
    await Accounts(service.engine).add_agent("ann", teams, password=TEST_PASSWORD)
    references = [r[0] for r in store.rows("SELECT reference FROM conversations ORDER BY id")]
    with_html = {
        r[0]
        for r in store.rows(
            "SELECT c.reference FROM conversations c JOIN messages m"
            " ON m.conversation_id = c.id WHERE m.html IS NOT NULL"
        )
    }
    assert len(with_html) >= len(PAYLOADS)

    page = await browser.new_page()
    watch = ScriptWatch()
    watch.attach(page)
    await sign_in(page, f"http://127.0.0.1:{service.port}", "ann")
    shown, texts = 0, []
    for reference in references:
        await open_conversation(page, reference)
        frames = page.locator("iframe.mail-html")
        count = await frames.count()
        for i in range(count):
            assert await frames.nth(i).get_attribute("sandbox") == ""
        if reference in with_html:
            assert count >= 1, f"#{reference}: its HTML is not shown"
            shown += 1
        texts += [await frame.inner_text("body") for frame in page.main_frame.child_frames]
    assert shown == len(with_html)
    # The sanitised mail is really rendered: the frames hold the words of every payload mail.
    for i in range(len(PAYLOADS)):
        assert any(f"Visible words {i}" in text for text in texts), i
    # The hostile sender names and file names are on the page, as text.
    await open_conversation(page, max(with_html))
    body = await page.inner_text("body")
    assert "onerror=alert('file" in body and "Mallory" in body
    await page.goto(f"http://127.0.0.1:{service.port}/agent")
    await page.wait_for_selector("#queue li")
    assert "onerror" in await page.inner_text("#queue")  # the subjects, listed as text
    # ... and nothing in any of it ran.
    assert watch.dialogs == [], watch.dialogs
    assert watch.beacons == [], watch.beacons
    assert await watch.flag(page) is None
