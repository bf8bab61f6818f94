"""List pages (issue 33): keyset cursors that skip nothing and repeat nothing, whatever the ties and the
page size, in every order a list route uses (ascending, descending, mixed as the overdue invoices'
collection order is); a cursor that is not one the list answered is refused."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from db import invoices as invoice_store
from db.engine import SessionFactory
from db.models import Invoice
from domain import pages as cursors
from domain.pages import BadCursor
from domain.statuses import InvoiceStatus
from tests.factories import make_business


def test_a_cursor_round_trips_and_anything_else_is_refused() -> None:
    at = datetime(2031, 3, 14, 9, 0, 0, 123456, tzinfo=UTC)
    cursor = cursors.encode("starts_at", (at, 17))
    assert cursors.decode(cursor, "starts_at", 2) == [at.isoformat(), 17]
    for bad, order, width in (
        (cursor, "updated_at", 2),  # another order's
        (cursor, "starts_at", 3),  # another shape
        ("not base64!", "starts_at", 2),
        (cursors.encode("starts_at", (1,)), "starts_at", 2),
        ("x" * (cursors.MAX_CURSOR_CHARS + 1), "starts_at", 2),
        ("bnVsbA", "starts_at", 2),  # "null"
        ("", "starts_at", 2),
    ):
        with pytest.raises(BadCursor):
            cursors.decode(bad, order, width)


@pytest.mark.parametrize(
    "values",
    [
        ["2031-03-14", 5, 17],  # a date where an instant belongs
        ["2031-03-14T09:00:00", 17],  # no offset
        [None, 17],
        ["2031-03-14T09:00:00+00:00", "17"],
        ["2031-03-14T09:00:00+00:00", True],
        ["2031-03-14T09:00:00+00:00", 2**63],  # beyond bigint: it would fail in the query, a 500
        ["0001-01-01T00:00:00+14:00", 17],  # before year 1 in UTC
        ["9999-12-31T23:59:59-14:00", 17],
        [[1], 17],
    ],
)
def test_an_edited_cursor_is_refused_where_its_values_do_not_fit_the_order(values: list[object]) -> None:
    from db.appointments import BY_START

    edited = cursors.encode("starts_at", tuple(values))
    with pytest.raises(BadCursor):
        BY_START.position(edited)


invoice_rows = st.lists(
    st.tuples(st.integers(0, 4), st.sampled_from([100, 200, 300]), st.sampled_from(["sent", "overdue"])),
    min_size=0,
    max_size=25,
)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
    phases=[Phase.explicit, Phase.generate],
    print_blob=True,
)
@given(rows=invoice_rows, limit=st.integers(1, 7), seed=st.integers(0, 2**16))
async def test_paging_through_any_rows_sees_each_once_in_the_lists_order(
    sessions: SessionFactory, rows: list[tuple[int, int, str]], limit: int, seed: int
) -> None:
    """Many ties (five due dates, three amounts): the id breaks them; the overdue list's mixed order (due
    date up, amount down, id up) and the change order come out page by page as one sorted read would."""
    business = await make_business(sessions)
    start = date(2031, 1, 1)
    async with sessions() as session, session.begin():
        made = [
            Invoice(
                business_id=business.id,
                number=f"INV-{n}",
                amount_cents=amount,
                currency="EUR",
                due_on=start + timedelta(days=day),
                status=InvoiceStatus(status),
            )
            for n, (day, amount, status) in enumerate(rows)
        ]
        session.add_all(made)
    rng = random.Random(seed)
    overdue = [i for i in made if i.status == InvoiceStatus.OVERDUE]
    expected = {
        None: [i.id for i in sorted(made, key=lambda i: (i.due_on, i.id))],
        InvoiceStatus.OVERDUE: [
            i.id for i in sorted(overdue, key=lambda i: (i.due_on, -i.amount_cents, i.id))
        ],
    }
    for status, want in expected.items():
        seen: list[int] = []
        after: str | None = None
        for _ in range(len(rows) + 2):
            async with sessions() as session:
                page, after = await invoice_store.list_invoices(
                    session,
                    business.id,
                    status=status,
                    external_id=None,
                    updated_after=None,
                    after=after,
                    limit=rng.randint(1, limit),
                )
            seen += [i.id for i in page]
            if after is None:
                break
        assert seen == want, (status, rows)
    # in the order of their last change: all of them (one transaction: one updated_at, ids break the tie)
    changed: list[int] = []
    after = None
    while True:
        async with sessions() as session:
            page, after = await invoice_store.list_invoices(
                session,
                business.id,
                status=None,
                external_id=None,
                updated_after=datetime(2000, 1, 1, tzinfo=UTC),
                after=after,
                limit=limit,
            )
        changed += [i.id for i in page]
        if after is None:
            break
    assert changed == sorted(i.id for i in made)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=3),
    max_leaves=6,
)


@given(
    values=st.lists(json_values, max_size=4),
    order=st.sampled_from(["starts_at", "updated_at", "x"]),
    raw=st.text(max_size=80),
)
def test_any_cursor_is_a_position_in_range_or_refused(values: list[object], order: str, raw: str) -> None:
    """The class of an edited cursor: whatever it holds, a typed position the query can carry, or
    ``BadCursor`` (a 422); never another exception (a 500)."""
    from db.appointments import BY_CHANGE, BY_START

    for cursor in (cursors.encode(order, tuple(values)), raw):
        for known in (BY_START, BY_CHANGE):
            try:
                position = known.position(cursor)
            except BadCursor:
                continue
            at, row_id = position
            assert isinstance(at, datetime) and at.utcoffset() is not None and 1970 <= at.year <= 2200
            assert isinstance(row_id, int) and -(2**63) <= row_id < 2**63
