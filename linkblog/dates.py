"""Timestamps as text: RFC 3339 for documents (feeds, ActivityStreams, API, exports) and HTTP-date for headers.

One home so every writer agrees: naive datetimes are UTC (how every table stores time), aware ones are
converted to UTC, and RFC 3339 ends in ``Z`` the way Atom, JSON Feed and Mastodon write it.
"""
from __future__ import annotations

import email.utils
import re
from datetime import datetime, timezone


def as_utc(moment: datetime) -> datetime:
    """Naive datetimes are taken as UTC rather than rejected: every clock in this app is UTC."""
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment.astimezone(timezone.utc)


def rfc3339(moment: datetime, *, timespec: str = "seconds") -> str:
    """``2026-03-02T10:00:00Z``; ``timespec="microseconds"`` keeps the fraction (backups need exact times)."""
    return as_utc(moment).isoformat(timespec=timespec).replace("+00:00", "Z")


def format_http_date(moment: datetime) -> str:
    """IMF-fixdate (``Mon, 02 Mar 2026 10:00:05 GMT``): the only HTTP-date every reader parses, and the
    RFC 822 date RSS 2.0 asks for."""
    return email.utils.format_datetime(as_utc(moment), usegmt=True)


_DAY = r"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)"
_MONTHS = {name: number for number, name in enumerate(
    ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), start=1)}
_MONTH = "(" + "|".join(_MONTHS) + ")"
_TIME = r"(\d\d):(\d\d):(\d\d)"
_IMF_FIXDATE = re.compile(rf"{_DAY}, (\d\d) {_MONTH} (\d{{4}}) {_TIME} GMT")
_RFC850_DATE = re.compile(r"(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday), "
                          rf"(\d\d)-{_MONTH}-(\d\d) {_TIME} GMT")
_ASCTIME_DATE = re.compile(rf"{_DAY} {_MONTH} ([ \d]\d) {_TIME} (\d{{4}})")


def parse_http_date(value: str) -> datetime | None:
    """The three HTTP-date forms of RFC 9110 §5.6.7 (what Ruby's Time.httpdate accepts), or None."""
    try:
        if match := _IMF_FIXDATE.fullmatch(value):
            day, month, year, hour, minute, second = match.groups()
        elif match := _RFC850_DATE.fullmatch(value):
            day, month, short_year, hour, minute, second = match.groups()
            year = str(1900 + int(short_year) if int(short_year) >= 70 else 2000 + int(short_year))
        elif match := _ASCTIME_DATE.fullmatch(value):
            month, day, hour, minute, second, year = match.groups()
        else:
            return None
        return datetime(int(year), _MONTHS[month], int(day), int(hour), int(minute), int(second),
                        tzinfo=timezone.utc)
    except ValueError:   # 31 Feb, hour 25, ...
        return None


__all__ = ["as_utc", "format_http_date", "parse_http_date", "rfc3339"]


def parse_iso_datetime(value: object) -> datetime | None:
    """An ISO 8601 / RFC 3339 time (``Z`` allowed) as naive UTC, how every table stores time; anything
    else (not a string, empty, malformed) is None, so a stranger's odd timestamp never raises."""
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        return as_utc(moment).replace(tzinfo=None) if moment.tzinfo is not None else moment
    except (ValueError, OverflowError):   # OverflowError: 0001-01-01T00:00+14:00 is before year 1 in UTC
        return None
