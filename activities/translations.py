"""The gettext catalogs of the message templates, compiled by Babel when first used.

Sources: ``activities/locales/<language>/LC_MESSAGES/messages.po`` (``make catalogs`` extracts the template
strings into ``messages.pot`` and updates them). They are compiled in memory (Babel's ``write_mo``) so a
catalog can never be stale against its ``.po``; fuzzy entries are left out, untranslated ones fall back to
English (``tests/test_translations.py`` keeps every catalog complete).
"""

from __future__ import annotations

from functools import cache
from gettext import NullTranslations
from io import BytesIO
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

from domain.locales import SOURCE_LANGUAGE, catalog_language

LOCALE_DIR = Path(__file__).resolve().parent / "locales"
DOMAIN = "messages"


def catalog_path(language: str) -> Path:
    return LOCALE_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po"


@cache
def translations(language: str) -> NullTranslations:
    """The compiled catalog of ``language`` (English, the source, translates to itself)."""
    if language == SOURCE_LANGUAGE:
        return NullTranslations()
    with catalog_path(language).open("rb") as source:
        catalog = read_po(source, locale=language, domain=DOMAIN)
    compiled = BytesIO()
    write_mo(compiled, catalog, use_fuzzy=False)
    compiled.seek(0)
    return Translations(compiled, domain=DOMAIN)


def translations_for(locale: str) -> NullTranslations:
    """The catalog of ``locale``'s language; English for a language without one."""
    return translations(catalog_language(locale))
