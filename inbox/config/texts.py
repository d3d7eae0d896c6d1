"""``[texts.<language>]``: a shop's own wording for customer texts, checked at start.

Each entry names a text of the catalogue (``inbox.texts.keys``) in a shipped language and
may use only that text's placeholders; anything else stops start-up with the key named.
"""

from __future__ import annotations

from types import MappingProxyType

from inbox.config.reader import TableReader
from inbox.errors import ConfigError
from inbox.texts import SHIPPED_LANGUAGES, Catalogue, Key, check_override


def parse_texts(r: TableReader) -> Catalogue:
    """The catalogue with the file's overrides over the shipped texts."""
    overrides: dict[str, MappingProxyType[Key, str]] = {}
    for language in list(r.table):
        table = r.table_of(language)
        if language not in SHIPPED_LANGUAGES:
            raise ConfigError(
                f"{table.path}: no texts in language '{language}'; the languages are "
                + ", ".join(SHIPPED_LANGUAGES)
            )
        own: dict[Key, str] = {}
        for name in list(table.table):
            template = table.string(name)
            try:
                own[check_override(language, name, template)] = template
            except ValueError as err:
                raise ConfigError(f"{table.key(name)}: {err}") from None
        table.finish()
        overrides[language] = MappingProxyType(own)
    r.finish()
    return Catalogue(MappingProxyType(overrides))
