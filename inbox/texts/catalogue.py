"""The catalogue: every customer text in every shipped language, with a shop's own
wording from config.toml over it."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from inbox.texts import english, french, german, spanish
from inbox.texts.formatting import fill, placeholders_of
from inbox.texts.keys import PLACEHOLDERS, Key
from inbox.texts.languages import DEFAULT_LANGUAGE, SHIPPED_LANGUAGES, supported

SHIPPED: Mapping[str, Mapping[Key, str]] = MappingProxyType(
    {"en": english.TEXTS, "de": german.TEXTS, "fr": french.TEXTS, "es": spanish.TEXTS}
)

Overrides = Mapping[str, Mapping[Key, str]]
"""A shop's own texts: language code -> key -> template, as ``[texts.<language>]`` says."""


def check_override(language: str, name: str, template: str) -> Key:
    """The key a ``[texts.<language>] <name> = template`` entry overrides; ValueError
    naming what is wrong (a language or key that does not exist, a placeholder the key
    does not offer, a malformed template)."""
    if language not in SHIPPED_LANGUAGES:
        raise ValueError(
            f"no texts in language '{language}'; the languages are " + ", ".join(SHIPPED_LANGUAGES)
        )
    try:
        key = Key(name)
    except ValueError:
        raise ValueError(f"'{name}' is not the name of a text") from None
    used = placeholders_of(template)
    allowed = PLACEHOLDERS[key]
    unknown = sorted(used - allowed)
    if unknown:
        offered = ", ".join(f"{{{p}}}" for p in sorted(allowed)) or "none"
        raise ValueError(
            f"placeholder {', '.join(f'{{{p}}}' for p in unknown)} is not offered "
            f"for '{name}' (offered: {offered})"
        )
    return key


@dataclass(frozen=True)
class Catalogue:
    """Looks texts up by language and key, and fills them in; a language without texts
    reads English."""

    overrides: Overrides = field(default_factory=lambda: MappingProxyType({}))

    def template(self, language: str, key: Key) -> str:
        """The text's template in ``language``: the shop's own, else the shipped one."""
        code = supported(language) or DEFAULT_LANGUAGE
        own = self.overrides.get(code, {}).get(key)
        return own if own is not None else SHIPPED[code][key]

    def text(self, language: str, key: Key, **values: str | int) -> str:
        """The text in ``language`` with its placeholders filled by ``values`` (as is:
        a value is never read as a template)."""
        shown = {name: str(value) for name, value in values.items()}
        return "".join(fill(self.template(language, key), shown))

    def wording(self, language: str) -> Wording:
        """The texts in one language, for code that writes several to one customer."""
        return Wording(self, supported(language) or DEFAULT_LANGUAGE)

    def plain(self, language: str, keys: Iterable[Key]) -> dict[str, str]:
        """Texts without placeholders, by key name: for a page or a script to show."""
        return {key.value: self.text(language, key) for key in keys}


@dataclass(frozen=True)
class Wording:
    """The catalogue's texts in one language."""

    catalogue: Catalogue
    language: str

    def __call__(self, key: Key, **values: str | int) -> str:
        """The text, filled in (see ``Catalogue.text``)."""
        return self.catalogue.text(self.language, key, **values)
