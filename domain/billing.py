"""Calendar and money arithmetic for terms and the seat add-on (SPEC R-T1, R-T4, R-S2, R-S3, R-K1).

Pure functions only: no clock, no I/O, so replaying history always yields the same dates and amounts.
Money is Decimal quantized to cents with ROUND_HALF_UP; dates are plan dates, instants are aware UTC.
"""

from __future__ import annotations

import calendar
from datetime import UTC, date, datetime, time
from decimal import ROUND_HALF_UP, Decimal

SEAT_ADDON_KIND = "user-seats"
SEAT_ADDON_SEATS = 15
SEAT_ADDON_MONTHLY_PRICE = Decimal("49.00")

_CENT = Decimal("0.01")
_INTERVAL_MONTHS = {"monthly": 1, "yearly": 12}


def _to_cents(amount: Decimal) -> Decimal:
    return amount.quantize(_CENT, rounding=ROUND_HALF_UP)


def days_in_month(year: int, month: int) -> int:
    """Number of days in the given month (leap years included)."""
    return calendar.monthrange(year, month)[1]


def first_of_next_month(d: date) -> date:
    """The 1st of the month following d's month."""
    if d.month == 12:
        return date(d.year + 1, 1, 1)
    return date(d.year, d.month + 1, 1)


def prorated_charge(monthly_price: Decimal, purchase_day: date) -> Decimal:
    """R-S2: price for purchase_day through the month's last day, rounded half-up to cents."""
    month_days = days_in_month(purchase_day.year, purchase_day.month)
    # The purchase day itself is paid for, so a purchase on the last day still costs one day.
    days_left = month_days - purchase_day.day + 1
    # Multiply before dividing so the only rounding is the final one to cents.
    return _to_cents(monthly_price * days_left / month_days)


def add_months(d: date, months: int, anchor_day: int | None = None) -> date:
    """Calendar month addition, clamping the day to the target month's last day (R-T4).

    anchor_day keeps the original day across repeated renewals (31 Jan -> 28 Feb -> 31 Mar).
    """
    index = d.year * 12 + (d.month - 1) + months
    year, month = divmod(index, 12)
    month += 1
    day = min(anchor_day or d.day, days_in_month(year, month))
    return date(year, month, day)


def _interval_months(billing_interval: str) -> int:
    try:
        return _INTERVAL_MONTHS[billing_interval]
    except KeyError:
        raise ValueError(f"unknown billing interval: {billing_interval!r}") from None


def next_term_end(term_end: date, billing_interval: str, anchor_day: int) -> date:
    """R-T4: the term end after a renewal; ValueError for an unknown interval."""
    return add_months(term_end, _interval_months(billing_interval), anchor_day)


def default_term_end(term_start: date, billing_interval: str) -> date:
    """R-T1: term_start plus one billing interval, clamped to the target month's last day."""
    return add_months(term_start, _interval_months(billing_interval), term_start.day)


def monthly_charge_dates(after: datetime, until: datetime) -> list[datetime]:
    """R-S2/R-K1: each 1st-of-month 00:00 UTC instant with after < instant <= until, ascending.

    Both bounds must be timezone-aware; a naive datetime raises ValueError.
    """
    if after.tzinfo is None or until.tzinfo is None:
        # astimezone() would read a naive value as host-local time and silently shift the boundaries.
        raise ValueError("monthly_charge_dates needs timezone-aware datetimes")
    # Normalise to UTC so a caller's offset cannot shift which midnight counts as "the 1st".
    after_utc = after.astimezone(UTC)
    until_utc = until.astimezone(UTC)
    instants: list[datetime] = []
    # The 1st of after's own month is at or before after, so the first candidate is next month's 1st.
    current = first_of_next_month(after_utc.date())
    instant = datetime.combine(current, time(), tzinfo=UTC)
    while instant <= until_utc:
        instants.append(instant)
        current = first_of_next_month(current)
        instant = datetime.combine(current, time(), tzinfo=UTC)
    return instants


def format_money(amount: Decimal) -> str:
    """API money format: a decimal string with two places, e.g. "24.50"."""
    return f"{_to_cents(amount):.2f}"


def month_period(d: date) -> tuple[date, date]:
    """Charge period of a monthly charge: (1st of d's month, 1st of the next month)."""
    return d.replace(day=1), first_of_next_month(d)


def prorated_period(d: date) -> tuple[date, date]:
    """Charge period of a prorated purchase: (d, 1st of the next month)."""
    return d, first_of_next_month(d)
