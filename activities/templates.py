"""Message templates: Jinja2, one file per (event, channel) with ``subject``/``text`` blocks, optional HTML.

Missing variables are errors (StrictUndefined), HTML is autoescaped, and a business's overrides are rendered
in Jinja's sandbox. ``validate_override`` renders an override against sample data before it is saved.
Every sentence is ``_("... %(name)s ...", name=...)`` (Jinja2's i18n extension, new-style gettext): one set
of environments per language, with that language's catalog installed (``activities/translations.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, TemplateError, TemplateNotFound
from jinja2.sandbox import SandboxedEnvironment

from activities.providers import RenderedMessage
from activities.translations import translations
from domain.locales import SOURCE_LANGUAGE, catalog_language
from domain.notification_events import EVENTS, TEMPLATE_PARTS

TEMPLATE_DIR = Path(__file__).resolve().parent / "templates"
LAYOUT = "layout/email.html.j2"
UNSUBSCRIBE_FOOTER = "layout/unsubscribe.j2"


class TemplateRenderError(Exception):
    """A template could not be rendered (a missing variable, a syntax error): never sent half-filled."""


def _environment(cls: type[Environment], language: str, *, autoescape: bool) -> Environment:
    environment = cls(
        loader=FileSystemLoader(TEMPLATE_DIR),
        undefined=StrictUndefined,
        autoescape=autoescape,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
        extensions=["jinja2.ext.i18n"],
    )
    environment.install_gettext_translations(translations(language), newstyle=True)  # type: ignore[attr-defined]
    return environment


@dataclass(frozen=True)
class Environments:
    text: Environment
    html: Environment
    sandbox_text: Environment
    sandbox_html: Environment


@cache
def environments(language: str) -> Environments:
    return Environments(
        text=_environment(Environment, language, autoescape=False),
        html=_environment(Environment, language, autoescape=True),
        sandbox_text=_environment(SandboxedEnvironment, language, autoescape=False),
        sandbox_html=_environment(SandboxedEnvironment, language, autoescape=True),
    )


def render_message(
    event: str,
    channel: str,
    context: dict[str, Any],
    overrides: dict[str, str] | None = None,
    *,
    locale: str = SOURCE_LANGUAGE,
) -> RenderedMessage:
    """Render every part of ``event`` for ``channel`` in ``locale``'s language (a language without a catalog
    renders in English); ``overrides`` maps a part name to a business's text."""
    overrides = overrides or {}
    envs = environments(catalog_language(locale))
    try:
        template = envs.text.get_template(f"{event}/{channel}.j2")
        parts: dict[str, str] = {}
        for part in ("subject", "text"):
            if part in overrides:
                parts[part] = envs.sandbox_text.from_string(overrides[part]).render(context).strip()
            elif part in template.blocks:
                parts[part] = "".join(template.blocks[part](template.new_context(context))).strip()
        html = _render_html(envs, event, channel, context, parts, overrides.get("html"))
    except TemplateNotFound as exc:
        raise TemplateRenderError(f"no template for {event} on {channel}") from exc
    except TemplateError as exc:
        raise TemplateRenderError(f"{event}/{channel}: {exc}") from exc
    if not parts.get("text"):
        raise TemplateRenderError(f"{event}/{channel}: the message text is empty")
    unsubscribe = context.get("links", {}).get("unsubscribe") if channel == "email" else None
    if not unsubscribe:
        return RenderedMessage(subject=parts.get("subject", ""), text=parts["text"], html=html)
    text, html = _with_unsubscribe_footer(envs, context, unsubscribe, parts["text"], html)
    return RenderedMessage(parts.get("subject", ""), text, html, unsubscribe_url=unsubscribe)


def _with_unsubscribe_footer(
    envs: Environments, context: dict[str, Any], url: str, text: str, html: str | None
) -> tuple[str, str | None]:
    """A visible link beside the List-Unsubscribe header (a person may not know the mail client's button),
    added after the template or a business's override, so no override can leave it out."""
    footer_context = {**context, "url": url}
    text_footer = envs.text.get_template(UNSUBSCRIBE_FOOTER)
    text += "\n\n" + "".join(text_footer.blocks["text"](text_footer.new_context(footer_context))).strip()
    if html is not None:
        html_footer = envs.html.get_template(UNSUBSCRIBE_FOOTER)
        block = "".join(html_footer.blocks["html"](html_footer.new_context(footer_context))).strip()
        end = html.lower().rfind("</body>")
        html = html[:end] + block + "\n" + html[end:] if end >= 0 else html + block
    return text, html


def _render_html(
    envs: Environments,
    event: str,
    channel: str,
    context: dict[str, Any],
    parts: dict[str, str],
    override: str | None,
) -> str | None:
    if channel != "email":
        return None
    if override is not None:
        return envs.sandbox_html.from_string(override).render(context)
    name = f"{event}/email.html.j2" if (TEMPLATE_DIR / event / "email.html.j2").exists() else LAYOUT
    return envs.html.get_template(name).render(
        {**context, "subject": parts.get("subject", ""), "text": parts["text"]}
    )


def sample_context(event: str) -> dict[str, Any]:
    """Realistic placeholder data of the exact shape activities pass (used to validate overrides)."""
    context: dict[str, Any] = {
        "customer": {"name": "Alex Example", "first_name": "Alex", "locale": "en"},
        "business": {"name": "Example Studio", "time_zone": "Europe/Berlin"},
        "when": {
            "datetime": "Fri 14 Mar 2031, 14:00",
            "date": "Fri 14 Mar 2031",
            "time": "14:00",
            "time_zone": "Europe/Berlin",
            "relative": "tomorrow at 14:00",
        },
        "links": {
            "cancel": "https://example.test/c",
            "reschedule": "https://example.test/r",
            "review": "https://example.test/v",
            "book": "https://example.test/b",
            "admin": "https://example.test/a",
            "unsubscribe": "https://example.test/u",
            "base": "https://example.test",
        },
        "variant": "24h",
    }
    if event.startswith("appointment."):
        context["appointment"] = {
            "id": 123,
            "service": "Haircut",
            "resource": "Chair 1",
            "status": "confirmed",
            "no_show_fee": "",
        }
    if event.startswith("vaccination."):
        context["vaccination"] = {"vaccine": "Rabies"}
        context["pet"] = {"name": "Bello", "species": "dog"}
    if event.startswith("policy."):
        context["policy"] = {"number": "MOT-1001", "product": "Motor", "end_date": "2031-03-31"}
    if event.startswith("business."):
        booking = {"id": 123, "when": "Fri, Mar 14, 14:00", "service": "Haircut", "customer": "Alex Example"}
        context["digest"] = {
            "date": "Fri, Mar 14, 2031",
            "since": "Thu, Mar 13, 18:00",
            "bookings": {"count": 2, "more": 1, "items": [booking]},
            "cancellations": {"count": 0, "more": 0, "items": []},
            "no_shows": {"count": 1, "more": 0, "items": [{**booking, "id": 124}]},
        }
    if event == "staff.notification":
        context["notice"] = {
            "title": "Invoice INV-7 is overdue",
            "event": "invoice.overdue",
            "link": "/v1/invoices/7",
        }
    if event == "staff.digest":
        notice = {"title": "Invoice INV-7 is overdue", "link": "/v1/invoices/7", "at": "Fri, Mar 14, 09:00"}
        context["notices"] = {
            "count": 3,
            "more": 1,
            "items": [notice, {**notice, "title": "Cement: 3 bags left"}],
        }
    if event.startswith("staff."):
        project = {
            "project_id": 7,
            "name": "Harbour Bridge",
            "ends_on": "2031-06-30",
            "open_touch_ups": 4,
            "serious_touch_ups": 3,
            "plans_last_week": 5,
            "plans_submitted": 4,
            "weather_today": "slight rain, 3 to 12 °C",
        }
        context["projects_digest"] = {
            "first_day": "Mar 3, 2031",
            "last_day": "Mar 9, 2031",
            "projects": [project, {**project, "project_id": 8, "ends_on": None, "weather_today": None}],
        }
    if event.startswith("broadcast."):
        context["broadcast"] = {
            "subject": "We are open on Sunday",
            "body": "Come by between 10:00 and 16:00.",
        }
    return context


def validate_override(event: str, channel: str, part: str, body: str) -> None:
    """Raise ValueError (with the reason) unless ``body`` renders for this event with real-shaped data."""
    if event not in EVENTS:
        raise ValueError(f"unknown event {event!r}")
    if part not in TEMPLATE_PARTS.get(channel, ()):
        raise ValueError(f"{channel} templates have the parts {list(TEMPLATE_PARTS.get(channel, ()))}")
    try:
        render_message(event, channel, sample_context(event), {part: body})
    except TemplateRenderError as exc:
        raise ValueError(str(exc.__cause__ or exc)) from exc
