"""Unit tests for domain.billing: term dates (R-T1, R-T4, R-S3), seat add-on charges (R-S2, R-K1)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.billing import (
    SEAT_ADDON_KIND,
    SEAT_ADDON_MONTHLY_PRICE,
    SEAT_ADDON_SEATS,
    add_months,
    days_in_month,
    default_term_end,
    first_of_next_month,
    format_money,
    month_period,
    monthly_charge_dates,
    next_term_end,
    prorated_charge,
    prorated_period,
)

PRICE = SEAT_ADDON_MONTHLY_PRICE
LEAP_MONTHS = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
COMMON_MONTHS = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_R_S2_seat_addon_constants() -> None:
    assert SEAT_ADDON_KIND == "user-seats"
    assert SEAT_ADDON_SEATS == 15
    assert str(SEAT_ADDON_MONTHLY_PRICE) == "49.00"  # stored with two places, not just equal in value
    assert format_money(SEAT_ADDON_MONTHLY_PRICE) == "49.00"


@pytest.mark.parametrize(
    ("year", "month", "expected"),
    [(2028, m, n) for m, n in enumerate(LEAP_MONTHS, start=1)]
    + [(2027, m, n) for m, n in enumerate(COMMON_MONTHS, start=1)]
    + [(2100, 2, 28), (2000, 2, 29)],  # century rules: 2100 is not leap, 2000 is
)
def test_R_S2_days_in_month(year: int, month: int, expected: int) -> None:
    assert days_in_month(year, month) == expected


@pytest.mark.parametrize(
    ("d", "expected"),
    [
        (date(2030, 11, 16), date(2030, 12, 1)),
        (date(2030, 12, 1), date(2031, 1, 1)),
        (date(2030, 12, 31), date(2031, 1, 1)),
        (date(2028, 2, 29), date(2028, 3, 1)),
        (date(2027, 2, 28), date(2027, 3, 1)),
        (date(2031, 1, 31), date(2031, 2, 1)),
    ],
)
def test_R_S2_first_of_next_month(d: date, expected: date) -> None:
    assert first_of_next_month(d) == expected


@pytest.mark.parametrize(
    ("purchase_day", "expected"),
    [
        (date(2030, 11, 16), "24.50"),  # SPEC example: 49.00 x 15/30
        (date(2031, 2, 10), "33.25"),  # 49 x 19/28
        (date(2031, 1, 31), "1.58"),  # last day of a month counts as one day: 49 x 1/31
        (date(2028, 2, 29), "1.69"),  # leap day is the last day: 49 x 1/29
        (date(2027, 2, 28), "1.75"),  # no 29 Feb in 2027: 49 x 1/28
        (date(2030, 4, 30), "1.63"),  # 49 x 1/30 = 1.6333
        (date(2030, 11, 1), "49.00"),  # 1st of month: full price
        (date(2028, 2, 1), "49.00"),
        (date(2030, 7, 18), "22.13"),  # 49 x 14/31 = 22.129
    ],
)
def test_R_S2_prorated_charge(purchase_day: date, expected: str) -> None:
    charge = prorated_charge(PRICE, purchase_day)
    assert charge == Decimal(expected)
    assert format_money(charge) == expected


@pytest.mark.parametrize(
    ("price", "purchase_day", "expected"),
    [
        (Decimal("10.00"), date(2030, 11, 28), "1.00"),  # 10 x 3/30 = 1.000
        (Decimal("0.10"), date(2030, 11, 16), "0.05"),  # 0.10 x 15/30 = 0.05 exactly
        (Decimal("0.15"), date(2030, 11, 1), "0.15"),
        (Decimal("0.03"), date(2030, 11, 16), "0.02"),  # 0.015 rounds half-up, not to even
    ],
)
def test_R_S2_prorated_charge_rounds_half_up(price: Decimal, purchase_day: date, expected: str) -> None:
    assert prorated_charge(price, purchase_day) == Decimal(expected)


@given(st.dates(min_value=date(2000, 1, 1), max_value=date(2200, 12, 31)))
def test_R_S2_prorated_charge_property_bounded_and_non_increasing(d: date) -> None:
    """R-S2: within a month the charge stays in [0.01, price] and never rises as the month goes on."""
    month_days = days_in_month(d.year, d.month)
    charges = [prorated_charge(PRICE, d.replace(day=day)) for day in range(1, month_days + 1)]
    assert charges[0] == PRICE
    assert all(Decimal("0.01") <= c <= PRICE for c in charges)
    assert all(a >= b for a, b in zip(charges, charges[1:], strict=False))
    assert prorated_charge(PRICE, d) == charges[d.day - 1]


@pytest.mark.parametrize(
    ("d", "months", "anchor_day", "expected"),
    [
        (date(2031, 1, 31), 1, None, date(2031, 2, 28)),  # 31st + 1 month, common year
        (date(2028, 1, 31), 1, None, date(2028, 2, 29)),  # leap year
        (date(2030, 3, 31), 1, None, date(2030, 4, 30)),
        (date(2030, 5, 31), 1, None, date(2030, 6, 30)),
        (date(2030, 8, 31), 1, None, date(2030, 9, 30)),
        (date(2030, 10, 31), 1, None, date(2030, 11, 30)),
        (date(2030, 12, 31), 1, None, date(2031, 1, 31)),  # year rollover
        (date(2030, 11, 16), 1, None, date(2030, 12, 16)),
        (date(2030, 12, 16), 1, None, date(2031, 1, 16)),
        (date(2031, 2, 28), 1, 31, date(2031, 3, 31)),  # anchor restores the original day
        (date(2031, 2, 28), 1, None, date(2031, 3, 28)),  # without an anchor the day drifts
        (date(2028, 2, 29), 12, None, date(2029, 2, 28)),
        (date(2028, 2, 29), 48, None, date(2032, 2, 29)),
        (date(2030, 1, 15), 0, None, date(2030, 1, 15)),
        (date(2030, 1, 15), 25, None, date(2032, 2, 15)),
        (date(2030, 3, 31), -1, None, date(2030, 2, 28)),
        (date(2030, 1, 31), -2, None, date(2029, 11, 30)),
    ],
)
def test_R_T4_add_months(d: date, months: int, anchor_day: int | None, expected: date) -> None:
    assert add_months(d, months, anchor_day) == expected


def test_R_T4_anchor_day_renewals_over_14_months_from_31_jan() -> None:
    """R-T4: renewing a 31 Jan monthly term 14 times clamps short months but returns to the 31st."""
    expected = [
        date(2031, 2, 28),
        date(2031, 3, 31),
        date(2031, 4, 30),
        date(2031, 5, 31),
        date(2031, 6, 30),
        date(2031, 7, 31),
        date(2031, 8, 31),
        date(2031, 9, 30),
        date(2031, 10, 31),
        date(2031, 11, 30),
        date(2031, 12, 31),
        date(2032, 1, 31),
        date(2032, 2, 29),  # 2032 is a leap year
        date(2032, 3, 31),
    ]
    term_end = date(2031, 1, 31)
    seen = []
    for _ in range(14):
        term_end = next_term_end(term_end, "monthly", anchor_day=31)
        seen.append(term_end)
    assert seen == expected


@pytest.mark.parametrize(
    ("term_end", "interval", "anchor_day", "expected"),
    [
        (date(2028, 2, 29), "yearly", 29, date(2029, 2, 28)),  # no 29 Feb in 2029
        (date(2029, 2, 28), "yearly", 29, date(2030, 2, 28)),
        (date(2031, 2, 28), "yearly", 29, date(2032, 2, 29)),  # anchor brings the leap day back
        (date(2030, 11, 16), "yearly", 16, date(2031, 11, 16)),
        (date(2030, 11, 16), "monthly", 16, date(2030, 12, 16)),
        (date(2031, 1, 31), "monthly", 31, date(2031, 2, 28)),
        (date(2028, 1, 31), "monthly", 31, date(2028, 2, 29)),
        (date(2031, 4, 30), "monthly", 31, date(2031, 5, 31)),
    ],
)
def test_R_T4_next_term_end(term_end: date, interval: str, anchor_day: int, expected: date) -> None:
    assert next_term_end(term_end, interval, anchor_day) == expected


@pytest.mark.parametrize(
    ("term_start", "interval", "expected"),
    [
        (date(2030, 11, 16), "monthly", date(2030, 12, 16)),
        (date(2030, 11, 16), "yearly", date(2031, 11, 16)),
        (date(2031, 1, 31), "monthly", date(2031, 2, 28)),
        (date(2028, 1, 31), "monthly", date(2028, 2, 29)),
        (date(2028, 2, 29), "yearly", date(2029, 2, 28)),
        (date(2028, 2, 29), "monthly", date(2028, 3, 29)),
        (date(2030, 12, 31), "monthly", date(2031, 1, 31)),
    ],
)
def test_R_T1_default_term_end(term_start: date, interval: str, expected: date) -> None:
    assert default_term_end(term_start, interval) == expected


@pytest.mark.parametrize("interval", ["weekly", "Monthly", "", "annual", "quarterly"])
def test_R_T4_unknown_interval_raises(interval: str) -> None:
    with pytest.raises(ValueError, match="billing interval"):
        next_term_end(date(2030, 1, 1), interval, 1)
    with pytest.raises(ValueError, match="billing interval"):
        default_term_end(date(2030, 1, 1), interval)


def test_R_K1_monthly_charge_dates_over_14_idle_months() -> None:
    """R-K1/R-S2: a tenant idle for 14 months gets exactly 14 first-of-month charges, in order."""
    after = utc(2030, 11, 16, 9, 30)
    until = utc(2032, 1, 1)  # inclusive bound, itself a 1st at 00:00
    dates = monthly_charge_dates(after, until)
    assert len(dates) == 14
    assert dates[0] == utc(2030, 12, 1)
    assert dates[-1] == utc(2032, 1, 1)
    assert dates == sorted(dates)
    assert all(d.day == 1 and d.time() == datetime.min.time() and d.tzinfo == UTC for d in dates)
    assert all(after < d <= until for d in dates)


@pytest.mark.parametrize(
    ("after", "until", "expected"),
    [
        (utc(2030, 12, 1), utc(2030, 12, 1), []),  # after is exclusive
        (utc(2030, 12, 1), utc(2031, 1, 1), [utc(2031, 1, 1)]),
        (utc(2030, 11, 30, 23, 59, 59), utc(2030, 12, 1), [utc(2030, 12, 1)]),  # until inclusive
        (utc(2030, 11, 30), utc(2030, 11, 30, 23, 59, 59), []),
        (utc(2030, 12, 1), utc(2030, 11, 1), []),  # empty when until precedes after
        (utc(2027, 12, 31), utc(2028, 3, 15), [utc(2028, 1, 1), utc(2028, 2, 1), utc(2028, 3, 1)]),
        # Offsets are normalised: 01:00+01:00 on 1 Dec is exactly 00:00 UTC, so it is excluded.
        (
            datetime(2030, 12, 1, 1, tzinfo=timezone(timedelta(hours=1))),
            datetime(2031, 1, 1, 1, tzinfo=timezone(timedelta(hours=1))),
            [utc(2031, 1, 1)],
        ),
    ],
)
def test_R_K1_monthly_charge_dates_bounds(after: datetime, until: datetime, expected: list[datetime]) -> None:
    assert monthly_charge_dates(after, until) == expected


def test_R_K1_monthly_charge_dates_rejects_naive_datetimes() -> None:
    with pytest.raises(ValueError):
        monthly_charge_dates(datetime(2030, 1, 1), utc(2030, 3, 1))


@pytest.mark.parametrize(
    ("amount", "expected"),
    [
        (Decimal("24.5"), "24.50"),
        (Decimal("49"), "49.00"),
        (Decimal("49.00"), "49.00"),
        (Decimal("0"), "0.00"),
        (Decimal("1.005"), "1.01"),  # half-up
        (Decimal("1.004"), "1.00"),
        (Decimal("1234567.891"), "1234567.89"),
    ],
)
def test_R_S2_format_money(amount: Decimal, expected: str) -> None:
    assert format_money(amount) == expected


@pytest.mark.parametrize(
    ("d", "expected"),
    [
        (date(2030, 11, 16), (date(2030, 11, 1), date(2030, 12, 1))),
        (date(2030, 12, 1), (date(2030, 12, 1), date(2031, 1, 1))),
        (date(2028, 2, 29), (date(2028, 2, 1), date(2028, 3, 1))),
    ],
)
def test_R_S2_month_period(d: date, expected: tuple[date, date]) -> None:
    assert month_period(d) == expected


@pytest.mark.parametrize(
    ("d", "expected"),
    [
        (date(2030, 11, 16), (date(2030, 11, 16), date(2030, 12, 1))),
        (date(2030, 12, 31), (date(2030, 12, 31), date(2031, 1, 1))),
        (date(2028, 2, 29), (date(2028, 2, 29), date(2028, 3, 1))),
    ],
)
def test_R_S2_prorated_period(d: date, expected: tuple[date, date]) -> None:
    assert prorated_period(d) == expected
