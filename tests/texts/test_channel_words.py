"""The words channels add in the customer's language: a mail's own subject, the bot's
choices as buttons, and a pressed choice read back in any language."""

from __future__ import annotations

from types import MappingProxyType

from connectors.mail.smtp import reply_subject
from connectors.telegram.presses import keyboard
from inbox.bot_words import CHOICES, Verdict, choice_texts, exact_verdict
from inbox.texts import Catalogue, Key


def test_a_mail_without_subject_is_named_in_the_customers_words() -> None:
    texts = Catalogue()
    assert reply_subject("", 12) == "Your request [#12]"  # as before, in English
    assert reply_subject("", 12, texts.wording("de")) == "Ihre Anfrage [#12]"
    assert reply_subject("Re: Rechnung [#12]", 12, texts.wording("de")) == "Re: Rechnung [#12]"


def test_the_choices_in_each_language_read_back_as_their_verdict() -> None:
    texts = Catalogue()
    for language in ("en", "de", "fr", "es"):
        words = choice_texts(texts, language)
        assert [exact_verdict(w) for w in words] == [Verdict.YES, Verdict.NO, Verdict.HUMAN]
        assert exact_verdict(f"  {words[0].upper()} ") is Verdict.YES
    assert choice_texts(texts, "en") == tuple(c.text for c in CHOICES)
    assert exact_verdict("Ja") is None  # only a choice's whole words are exact


def test_a_shops_own_choice_words_are_recognised_with_its_catalogue() -> None:
    own = Catalogue(MappingProxyType({"de": MappingProxyType({Key.CHOICE_YES: "Passt, danke"})}))
    assert choice_texts(own, "de")[0] == "Passt, danke"
    assert exact_verdict("Passt, danke", own) is Verdict.YES
    assert exact_verdict("Passt, danke") is None


def test_buttons_carry_the_customers_words_and_the_verdict_as_data() -> None:
    markup = keyboard(choice_texts(Catalogue(), "fr"))
    assert markup is not None
    rows = [(row[0].text, row[0].callback_data) for row in markup.inline_keyboard]
    assert rows == [
        ("Oui, c'est résolu", "choice:yes"),
        ("Non, cela n'a pas aidé", "choice:no"),
        ("Je veux parler à une personne", "choice:human"),
    ]
    assert keyboard(("only one",)) is None
