"""Templates: every (event, channel) renders with real-shaped data; gaps are errors, not blanks."""

from __future__ import annotations

import pytest

from activities.templates import TemplateRenderError, render_message, sample_context, validate_override
from domain.notification_events import EVENTS, TEMPLATE_PARTS


@pytest.mark.parametrize("event", sorted(EVENTS))
def test_every_event_renders_on_its_channels(event: str) -> None:
    spec = EVENTS[event]
    channels = ["email"] if spec.audience in ("admin", "staff") else list(spec.channels or TEMPLATE_PARTS)
    for channel in channels:
        message = render_message(event, channel, sample_context(event))
        assert message.text and "{{" not in message.text
        if channel != "sms":
            assert message.subject
        assert (message.html is not None) == (channel == "email")


def test_a_missing_variable_is_an_error_not_an_empty_string() -> None:
    context = sample_context("appointment.reminder")
    del context["appointment"]["service"]
    with pytest.raises(TemplateRenderError, match="service"):
        render_message("appointment.reminder", "sms", context)


def test_an_override_replaces_one_part_and_is_sandboxed() -> None:
    context = sample_context("appointment.reminder")
    message = render_message(
        "appointment.reminder",
        "sms",
        context,
        {"text": "Hi {{ customer.first_name }}, see you {{ when.relative }}!"},
    )
    assert message.text == "Hi Alex, see you tomorrow at 14:00!"
    with pytest.raises(TemplateRenderError):
        render_message("appointment.reminder", "sms", context, {"text": "{{ ''.__class__.__mro__ }}"})


@pytest.mark.parametrize(
    ("body", "complaint"),
    [
        ("Hi {{ customer.nickname }}", "nickname"),
        ("Hi {{ customer.first_name ", "end of print statement"),
        ("{% for x in %}", "Expected an expression"),
    ],
)
def test_override_validation_names_the_problem(body: str, complaint: str) -> None:
    with pytest.raises(ValueError, match=complaint):
        validate_override("appointment.reminder", "sms", "text", body)


def test_override_validation_checks_event_and_part() -> None:
    validate_override("appointment.reminder", "email", "subject", "See you {{ when.relative }}")
    with pytest.raises(ValueError, match="unknown event"):
        validate_override("appointment.nope", "sms", "text", "x")
    with pytest.raises(ValueError, match="parts"):
        validate_override("appointment.reminder", "sms", "subject", "x")
