"""Keyset pages for the list routes (domain.pages holds the cursor): each list names its order once, as
the columns it sorts by, and a page is the rows after a position in that order, with one row more read to
know whether another page follows. No offset: a page costs the same however deep it is, and a row
inserted or moved meanwhile never makes a reader see another one twice or skip one that stayed put."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Generic, TypeVar

from sqlalchemy import ColumnElement, Select, and_, or_
from sqlalchemy.orm import InstrumentedAttribute

from domain.pages import BadCursor, decode, encode

Row = TypeVar("Row")
Statement = TypeVar("Statement", bound=Select[*tuple[Any, ...]])


@dataclass(frozen=True)
class Key:
    """One sort column: its SQL expression, direction, how to read it from a row, its Python type."""

    column: ColumnElement[Any] | InstrumentedAttribute[Any]
    read: Callable[[Any], Any]
    kind: type = int
    descending: bool = False


@dataclass(frozen=True)
class Order(Generic[Row]):
    name: str
    keys: tuple[Key, ...]  # the last is the row's id: the order is total

    def position(self, cursor: str) -> list[Any]:
        """The sort key a cursor holds, typed (``BadCursor`` when it does not fit this order)."""
        values = decode(cursor, self.name, len(self.keys))
        try:
            return [_typed(key, value) for key, value in zip(self.keys, values, strict=True)]
        except (TypeError, ValueError) as exc:
            raise BadCursor(f"not a cursor of this list in its {self.name} order") from exc

    def cursor(self, row: Row) -> str:
        return encode(self.name, tuple(key.read(row) for key in self.keys))


# What a row's key can be (a cursor only ever holds one): bigint ids and amounts, instants and days of
# these years. Anything else an edited cursor carries is refused before it reaches a query.
_INT_RANGE = (-(2**63), 2**63 - 1)
_YEARS = (1970, 2200)


def _typed(key: Key, value: Any) -> Any:
    if key.kind is datetime or key.kind is date:
        if not isinstance(value, str) or len(value) > 40:
            raise TypeError(value)
        parsed: date = datetime.fromisoformat(value) if key.kind is datetime else date.fromisoformat(value)
        if isinstance(parsed, datetime) and parsed.utcoffset() is None:
            raise ValueError(value)
        if not _YEARS[0] <= parsed.year <= _YEARS[1]:
            raise ValueError(value)
        return parsed
    if key.kind is int:
        if (
            not isinstance(value, int)
            or isinstance(value, bool)
            or not _INT_RANGE[0] <= value <= _INT_RANGE[1]
        ):
            raise TypeError(value)
        return value
    raise TypeError(f"no cursor values of {key.kind.__name__}")


def ordered(statement: Statement, order: Order[Any], after: list[Any] | None, limit: int) -> Statement:
    """``statement`` in ``order``, after ``after`` (a position), ``limit`` + 1 rows (one tells of more)."""
    if after is not None:
        statement = statement.where(_after(order.keys, after))
    columns = [key.column.desc() if key.descending else key.column.asc() for key in order.keys]
    return statement.order_by(*columns).limit(limit + 1)


def _after(keys: Sequence[Key], values: Sequence[Any]) -> ColumnElement[bool]:
    """Lexicographically after ``values``: the first key that differs decides, in its own direction (the
    keys are never NULL: an order sorts by columns that always have a value)."""
    key, value = keys[0], values[0]
    beyond: ColumnElement[bool] = key.column < value if key.descending else key.column > value
    if len(keys) == 1:
        return beyond
    return or_(beyond, and_(key.column == value, _after(keys[1:], values[1:])))


def page(rows: list[Row], order: Order[Row], limit: int) -> tuple[list[Row], str | None]:
    """The page of rows read by ``ordered``, and the cursor to continue from (None: the last page)."""
    return rows[:limit], order.cursor(rows[limit - 1]) if len(rows) > limit else None
