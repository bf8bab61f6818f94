"""The message catalogs: complete, in step with the templates, and used: every event renders on every channel
in every catalog language, dates and times follow the locale, and the language falls back customer ->
business -> English (issue 12, part 4)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

from activities.notification_context import local_time_text
from activities.templates import render_message, sample_context
from activities.translations import LOCALE_DIR, catalog_path
from domain.locales import CATALOG_LANGUAGES, SOURCE_LANGUAGE, catalog_locale, message_locale
from domain.notification_events import EVENTS, TEMPLATE_PARTS

ROOT = Path(__file__).resolve().parent.parent
TRANSLATED = [language for language in CATALOG_LANGUAGES if language != SOURCE_LANGUAGE]
PLACEHOLDER = re.compile(r"%\((\w+)\)s")


def _source_messages() -> set[str]:
    """What ``make catalogs`` extracts now (babel.cfg over the templates and the Python)."""
    with (ROOT / "babel.cfg").open() as config:
        method_map, options_map = parse_mapping_cfg(config)  # type: ignore[no-untyped-call]
    found = set()
    for _, _, message, _, _ in extract_from_dir(str(ROOT), method_map, options_map):
        found.add(message if isinstance(message, str) else message[0])
    return found


def test_the_template_is_in_step_with_the_sources_and_the_catalog_dirs_with_the_domain() -> None:
    with (LOCALE_DIR / "messages.pot").open("rb") as pot:
        template = {m.id for m in read_po(pot) if m.id}
    assert template == _source_messages(), "run `make catalogs` and translate the new entries"
    assert sorted(p.name for p in LOCALE_DIR.iterdir() if p.is_dir()) == sorted(TRANSLATED)


@pytest.mark.parametrize("language", TRANSLATED)
def test_every_catalog_translates_every_message_with_the_same_placeholders(language: str) -> None:
    with catalog_path(language).open("rb") as source:
        catalog = read_po(source, locale=language)
    entries = {m.id: m for m in catalog if m.id}
    assert set(entries) == _source_messages()
    for message_id, entry in entries.items():
        assert entry.string and not entry.fuzzy, f"{language}: untranslated or fuzzy: {message_id!r}"
        assert set(PLACEHOLDER.findall(str(entry.string))) == set(PLACEHOLDER.findall(str(message_id))), (
            f"{language}: placeholders differ in {message_id!r}"
        )


@pytest.mark.parametrize("language", TRANSLATED)
@pytest.mark.parametrize("event", sorted(EVENTS))
def test_every_event_renders_in_every_language_and_differs_from_english(event: str, language: str) -> None:
    spec = EVENTS[event]
    channels = ["email"] if spec.audience in ("admin", "staff") else list(spec.channels or TEMPLATE_PARTS)
    for channel in channels:
        context = sample_context(event)
        english = render_message(event, channel, context)
        context["customer"]["locale"] = language
        translated = render_message(event, channel, context, locale=language)
        assert translated.text and "%(" not in translated.text and "{{" not in translated.text
        if event != "broadcast.message" or channel == "email":  # a broadcast's words are the business's
            assert (translated.subject, translated.text) != (english.subject, english.text), (
                f"{event}/{channel} is not translated to {language}"
            )
        if channel == "email":
            assert translated.html is not None and f'<html lang="{language}">' in translated.html


def test_dates_and_times_follow_the_locale_in_the_recipients_zone() -> None:
    at = datetime(2031, 3, 14, 13, 0, tzinfo=UTC)  # 14:00 in Berlin, 09:00 in New York
    now = datetime(2031, 3, 13, 9, 0, tzinfo=UTC)
    berlin, new_york = ZoneInfo("Europe/Berlin"), ZoneInfo("America/New_York")
    assert local_time_text(at, berlin, "de", now=now)["datetime"] == "Fr., 14. März 2031, 14:00"
    assert local_time_text(at, berlin, "de", now=now)["relative"] == "morgen um 14:00"
    assert local_time_text(at, berlin, "es", now=now)["relative"] == "mañana a las 14:00"
    assert local_time_text(at, new_york, "en", now=now)["datetime"] == "Fri, Mar 14, 2031, 9:00 AM"
    assert local_time_text(at, berlin, "en_GB", now=now)["time"] == "14:00"


@pytest.mark.parametrize(
    ("customer", "business", "expected"),
    [
        ("de_AT", "en", "de_AT"),  # the catalog of its language, the Austrian formats
        ("es", "de", "es"),
        ("pt_BR", "es", "es"),  # no Portuguese catalog: the business's language, not a mix
        ("pt_BR", "en", "en"),
        (None, "de", "de"),  # admin messages, customers without a locale
        ("xx_YY", "de", "de"),  # an old row Babel does not know
        ("fr", "pt", "en"),  # neither has a catalog (the API refuses such a business locale)
    ],
)
def test_the_language_falls_back_from_customer_to_business_to_english(
    customer: str | None, business: str, expected: str
) -> None:
    assert message_locale(customer, business) == expected


def test_a_business_locale_needs_a_catalog() -> None:
    assert catalog_locale("de_CH") == "de_CH"
    for bad in ("pt_BR", "fr", "xx"):
        with pytest.raises(ValueError):
            catalog_locale(bad)


def test_every_locale_of_every_catalog_language_formats_dates_and_times() -> None:
    """The class behind a skeleton that one locale lacks: every CLDR locale of en, de and es (about 200)
    formats the ``when`` variables and the digest's lines without an error."""
    from babel.localedata import locale_identifiers

    from activities.notification_context import _day_and_time

    at = datetime(2031, 3, 14, 13, 0, tzinfo=UTC)
    locales = [name for name in locale_identifiers() if name.split("_")[0] in CATALOG_LANGUAGES]
    assert len(locales) > 100
    for name in locales:
        when = local_time_text(at, ZoneInfo("Europe/Berlin"), name, now=at)
        assert when["datetime"] and when["relative"], name
        assert _day_and_time(at.astimezone(ZoneInfo("Europe/Berlin")), name), name
