"""The range of every value that enters Keeptime, defined once and enforced where it enters.

Each range is what the whole system can carry: PostgreSQL's column types (``BIGINT`` ids, ``INTEGER``
money and counts), Python's ``datetime`` arithmetic in the workflows (an instant plus the longest delay must
stay a valid datetime), and Babel's locale data (a customer's messages are formatted with it). The API's
request models use these types, so the OpenAPI document shows the ranges, and the readers of stored rows use
the same ones to spot a row that is bad anyway (an older row, a manual SQL edit).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from datetime import UTC, date, datetime, time
from typing import Annotated

from babel import Locale, UnknownLocaleError
from babel.localedata import locale_identifiers
from pydantic import AfterValidator, BeforeValidator, Field, WithJsonSchema

MAX_DB_ID = 2**63 - 1  # BIGINT
MAX_INT32 = 2**31 - 1  # INTEGER
DAY_S = 24 * 3600
MAX_OFFSET_S = 366 * DAY_S  # reminders at most a year (and a day) ahead
MAX_DELAY_S = 90 * DAY_S  # grace, auto-complete and review delays
MAX_FEE_CENTS = 100_000_000  # one million in the business's currency
MAX_STOCK = 10**12  # units of one inventory item (BIGINT; sums of movements stay far from its limit)
MAX_INVOICE_CENTS = 10**13  # a hundred billion in the company's currency (fits BIGINT and JSON numbers)
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(2100, 1, 1, tzinfo=UTC)  # plus every delay above, still far from datetime.max
EARLIEST_DAY = EARLIEST.date()
LATEST_DAY = LATEST.date()

# Plain ints: the API validates bodies in pydantic's strict JSON mode (``api.errors.validate``), so ``true``
# is refused there, while query strings and stored rows are read in the lax mode that parses "42".
DbId = Annotated[int, Field(ge=1, le=MAX_DB_ID, description="a database id (1 to 2^63-1)")]
Seconds = Annotated[int, Field(ge=0, le=MAX_DELAY_S, description=f"seconds, 0 to {MAX_DELAY_S}")]
OffsetSeconds = Annotated[
    int, Field(ge=1, le=MAX_OFFSET_S, description=f"seconds before start, 1 to {MAX_OFFSET_S}")
]
Cents = Annotated[int, Field(ge=0, le=MAX_FEE_CENTS, description=f"0 to {MAX_FEE_CENTS}")]


class FieldValueError(ValueError):
    """A rule across fields that blames one of them: the API's 422 names ``field``, not the whole body."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


class Inconsistent(FieldValueError):
    """Fields each valid but not fitting together (an end before its start): a rule JSON Schema cannot
    state, so the API answers it with its own error code, ``inconsistent``, and the field's description
    says it. Every rule that a schema *can* state is declared in the model instead."""


def in_range_instant(value: datetime) -> datetime:
    """An aware instant written in the years 2000 to 2099 (ValueError otherwise).

    The range is on the date as written, offset and all, which is what the OpenAPI document can declare
    (``INSTANT_PATTERN``): ``2000-01-01T00:00:00+05:00`` is in, though it is 1999 in UTC. In UTC the
    range is therefore a day wider at each end, which every delay and column still carries."""
    if value.tzinfo is None:
        raise ValueError("must include a UTC offset, e.g. 2030-01-01T09:00:00Z")
    if not EARLIEST_DAY <= value.date() < LATEST_DAY:
        raise ValueError("must be between 2000-01-01 and 2100-01-01")
    return value


def in_range_day(value: date) -> date:
    if not EARLIEST_DAY <= value < LATEST_DAY:
        raise ValueError("must be between 2000-01-01 and 2100-01-01")
    return value


# A day and an instant as RFC 3339 writes them (sec. 5.6), in the years 2000-2099, every month with its own
# days and 29 February in the leap years (2000 included), so the document's pattern admits exactly what the
# validation does: a generated client, or a fuzzer, drawing from the pattern draws only valid values. The
# validation refuses what the pattern does not match, though pydantic alone would take more (``09:00Z``,
# a space for the ``T``, ``+0100``).
_DAY_2000_2099 = (
    "20[0-9]{2}-(0[13578]|1[02])-(0[1-9]|[12][0-9]|3[01])"
    "|20[0-9]{2}-(0[469]|11)-(0[1-9]|[12][0-9]|30)"
    "|20[0-9]{2}-02-(0[1-9]|1[0-9]|2[0-8])"
    "|20([02468][048]|[13579][26])-02-29"
)
_TIME = "([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\\.[0-9]+)?([Zz]|[+-]([01][0-9]|2[0-3]):[0-5][0-9])"
DAY_PATTERN = f"^({_DAY_2000_2099})$"
INSTANT_PATTERN = f"^({_DAY_2000_2099})[Tt]{_TIME}$"


def _written(pattern: str, example: str, kind: type) -> Callable[[object], object]:
    """Before pydantic: a string as the pattern writes it, parsed here (pydantic's strict mode takes the
    parsed value; it would refuse a string handed on by a before-validator), or a value read from a row."""
    compiled = re.compile(pattern)

    def check(value: object) -> object:
        if isinstance(value, str):
            if not compiled.fullmatch(value):
                raise ValueError(f"must be written as RFC 3339, e.g. {example}, in the years 2000 to 2099")
            return _parse(value.upper(), kind)
        if type(value) is not kind:
            raise ValueError(f"must be a string such as {example}")
        return value

    return check


def _parse(text: str, kind: type) -> date:
    if kind is date:
        return date.fromisoformat(text)
    # fromisoformat takes at most 6 digits of a second (microseconds); RFC 3339 allows more: cut them.
    text = re.sub(r"(\.[0-9]{6})[0-9]+", r"\1", text)
    return datetime.fromisoformat(text)


def local_time(value: time) -> time:
    """A wall-clock time in the business's or recipient's zone: no UTC offset of its own."""
    if value.tzinfo is not None:
        raise ValueError("a local time without a UTC offset, e.g. 10:00 (the business's zone applies)")
    return value


# Where the API's document lists a set of names once, as a component (``api.openapi.COMPONENTS``), and
# refers to it: ``{"type": "string", COMPONENT_MARK: "Locale"}`` becomes ``{"$ref": ".../Locale"}``.
COMPONENT_MARK = "x-keeptime-component"


@functools.cache
def locale_names() -> tuple[str, ...]:
    """Every locale Babel has data for (``babel.localedata.locale_identifiers``), sorted: what the API
    accepts and its document lists. ``Locale.parse`` alone would also take ``EN`` or ``root``."""
    return tuple(sorted(locale_identifiers()))


def known_locale(name: str) -> str:
    """The locale if Babel can format messages in it (ValueError otherwise), e.g. ``de`` or ``pt_BR``."""
    try:
        if name not in locale_names():
            raise ValueError(name)
        Locale.parse(name)
    except (UnknownLocaleError, ValueError, TypeError) as exc:
        raise ValueError(f"unknown locale {name!r}; use a CLDR locale such as en, de or pt_BR") from exc
    return name


def usable_locale(name: str | None) -> str:
    """The locale to format with: the stored one when Babel knows it, else ``en`` (defence for old rows)."""
    try:
        return known_locale(name) if name else "en"
    except ValueError:
        return "en"


def no_nul(value: str) -> str:
    """PostgreSQL text cannot hold NUL characters."""
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


Instant = Annotated[
    datetime,
    BeforeValidator(_written(INSTANT_PATTERN, "2030-01-01T09:00:00Z", datetime)),
    AfterValidator(in_range_instant),
    Field(json_schema_extra={"pattern": INSTANT_PATTERN}, description="RFC 3339, years 2000 to 2099"),
]
Day = Annotated[
    date,
    BeforeValidator(_written(DAY_PATTERN, "2030-01-01", date)),
    AfterValidator(in_range_day),
    Field(json_schema_extra={"pattern": DAY_PATTERN}, description="YYYY-MM-DD, years 2000 to 2099"),
]
# JSON Schema's "time" format is RFC 3339's full-time, which needs an offset; ours never has one.
LocalTime = Annotated[
    time,
    AfterValidator(local_time),
    WithJsonSchema(
        {"type": "string", "pattern": "^([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\\.[0-9]{1,6})?)?$"}
    ),
]
LocaleName = Annotated[
    str,
    Field(min_length=2, max_length=16),
    AfterValidator(known_locale),
    WithJsonSchema({"type": "string", COMPONENT_MARK: "Locale"}),
]

# The business's own id of a row: printable, no control characters or spaces at either end (it appears in
# URLs: PUT /v1/appointments/by-external-id/{external_id}, so no "/" either).
EXTERNAL_ID_PATTERN = r"^[^\x00-\x20\x7f/][^\x00-\x1f\x7f/]{0,253}[^\x00-\x20\x7f/]$|^[^\x00-\x20\x7f/]$"
ExternalId = Annotated[
    str,
    Field(
        min_length=1,
        max_length=255,
        pattern=EXTERNAL_ID_PATTERN,
        description="your own id of it: unique among yours of this kind (1-255 characters, no '/')",
    ),
]
# Bounded as Stripe bounds its metadata (https://docs.stripe.com/api/metadata: "up to 50 keys, with key
# names up to 40 characters long and values up to 500 characters long"): strings only, and no NUL (JSONB
# cannot hold one).
METADATA_SCHEMA = {
    "type": "object",
    "maxProperties": 50,
    "propertyNames": {"minLength": 1, "maxLength": 40, "pattern": "^[^\\x00]+$"},
    "additionalProperties": {"type": "string", "maxLength": 500, "pattern": "^[^\\x00]*$"},
    "description": "your own key-value pairs, kept and returned as given (at most 50 keys of up to 40 "
    "characters, values strings of up to 500)",
}
MetadataKey = Annotated[str, Field(min_length=1, max_length=40, pattern=r"^[^\x00]+$")]
MetadataValue = Annotated[str, Field(max_length=500, pattern=r"^[^\x00]*$")]
Metadata = Annotated[dict[MetadataKey, MetadataValue], Field(max_length=50), WithJsonSchema(METADATA_SCHEMA)]
