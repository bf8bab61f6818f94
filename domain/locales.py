"""Which language a message is written in: the customer's, else the business's, else English.

Catalogs exist for ``CATALOG_LANGUAGES`` (English is the source language; the others are gettext catalogs in
``activities/locales``). A locale keeps its region for formatting (``de_AT`` formats dates the Austrian way
and reads the ``de`` catalog); a language without a catalog falls back as a whole, so a message never mixes
languages.
"""

from __future__ import annotations

import functools
from typing import Annotated

from babel import Locale, UnknownLocaleError
from pydantic import AfterValidator, Field, WithJsonSchema

from domain.limits import COMPONENT_MARK, known_locale, locale_names

SOURCE_LANGUAGE = "en"
CATALOG_LANGUAGES: tuple[str, ...] = ("en", "de", "es")


def language_of(name: str) -> str | None:
    """``de_AT`` -> ``de``; None when Babel does not know the locale."""
    try:
        return Locale.parse(name).language
    except (UnknownLocaleError, ValueError, TypeError):
        return None


def catalog_language(locale: str) -> str:
    """The catalog a locale reads: its language's, or the source language's when there is none."""
    language = language_of(locale)
    return language if language in CATALOG_LANGUAGES else SOURCE_LANGUAGE


def message_locale(customer_locale: str | None, business_locale: str | None) -> str:
    """The locale a message is rendered and formatted in: the first of the customer's and the business's
    locales whose language has a catalog, else English."""
    for candidate in (customer_locale, business_locale):
        if candidate and language_of(candidate) in CATALOG_LANGUAGES:
            return candidate
    return SOURCE_LANGUAGE


def catalog_locale(name: str) -> str:
    """A business's default locale must have a catalog: it is what every other locale falls back to."""
    known_locale(name)
    if language_of(name) not in CATALOG_LANGUAGES:
        raise ValueError(f"no message catalog for {name!r}; available: {', '.join(CATALOG_LANGUAGES)}")
    return name


@functools.cache
def catalog_locale_names() -> tuple[str, ...]:
    """The locales a business may fall back to: those whose language has a catalog (en, de_AT, es_MX...)."""
    return tuple(name for name in locale_names() if language_of(name) in CATALOG_LANGUAGES)


CatalogLocaleName = Annotated[
    str,
    Field(min_length=2, max_length=16),
    AfterValidator(catalog_locale),
    WithJsonSchema({"type": "string", COMPONENT_MARK: "CatalogLocale"}),
]
