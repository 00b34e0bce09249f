"""Input rules shared by the mutations: each check appends Problems instead of raising."""

from __future__ import annotations

import math
import re
import unicodedata
from datetime import UTC, datetime, timedelta

import phonenumbers

from aidmap.geo.distance import is_valid_point
from aidmap.i18n import msg
from aidmap.models.need_fields import MAX_QUANTITY, NEED_TTL
from aidmap.problems import Code, Problem, UserInputError

MAX_RADIUS_M = 50_000.0
MAX_EXPIRY = timedelta(days=90)
DEFAULT_NEED_TTL = NEED_TTL  # models/need_fields.py
DEFAULT_OFFER_TTL = timedelta(days=30)

# What a person may type around the digits (ASCII only: any other character is refused).
_PHONE_CHARS = re.compile(r"^\+?[0-9 \-.()]+$")
DEFAULT_PHONE_REGION = "VN"


def _storable(value: str) -> bool:
    """PostgreSQL text holds neither NUL nor a lone UTF-16 surrogate (JSON can carry both as escapes)."""
    if "\x00" in value:
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


class Checker:
    """Collects problems for one input object."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def add(self, field: str | None, message: str, code: Code) -> None:
        self.problems.append(Problem(field, message, code))

    def text(
        self, field: str, value: str | None, *, max_len: int, required: bool = True, min_len: int = 1
    ) -> str | None:
        """Trimmed text, or None (with a problem) when empty or too long."""
        if value is None:
            if required:
                self.add(field, msg("{field} is required.", field=field), Code.REQUIRED)
            return None
        value = value.strip()
        if not value:
            if required:
                self.add(field, msg("{field} must not be empty.", field=field), Code.REQUIRED)
            return None
        if not _storable(value):
            self.add(
                field, msg("{field} must not contain NUL characters or unpaired surrogates.", field=field), Code.INVALID
            )
        elif len(value) > max_len:
            self.add(field, msg("{field} must be at most {n} characters.", field=field, n=max_len), Code.TOO_LONG)
        elif len(value) < min_len:
            self.add(field, msg("{field} must be at least {n} characters.", field=field, n=min_len), Code.TOO_SHORT)
        return value

    def positive_int(
        self, field: str, value: int | None, *, maximum: int = MAX_QUANTITY, required: bool = True
    ) -> int | None:
        if value is None:
            if required:
                self.add(field, msg("{field} is required.", field=field), Code.REQUIRED)
            return None
        if value <= 0 or value > maximum:
            self.add(field, msg("{field} must be between 1 and {n}.", field=field, n=maximum), Code.OUT_OF_RANGE)
        return value

    def point(self, field: str, lat: float, lon: float) -> None:
        if not (math.isfinite(lat) and math.isfinite(lon)):
            self.add(field, msg("Latitude and longitude must be finite numbers."), Code.INVALID)
        elif not is_valid_point(lon, lat):
            self.add(
                field, msg("Latitude must be within [-90, 90] and longitude within [-180, 180]."), Code.OUT_OF_RANGE
            )

    def radius(self, field: str, meters: float, *, maximum: float = MAX_RADIUS_M) -> None:
        if not math.isfinite(meters) or meters <= 0 or meters > maximum:
            self.add(
                field,
                msg("{field} must be more than 0 and at most {n} metres.", field=field, n=f"{maximum:.0f}"),
                Code.OUT_OF_RANGE,
            )

    def phone(self, field: str, value: str | None, *, required: bool = True) -> str | None:
        raw = self.text(field, value, max_len=32, required=required)
        if raw is None:
            return None
        normalised = normalise_phone(raw)
        if normalised is None:
            self.add(field, msg("Enter a phone number like 0912 345 678 or +84912345678."), Code.INVALID)
        return normalised

    def future_time(self, field: str, value: datetime | None, *, default: timedelta, now: datetime) -> datetime:
        if value is None:
            return now + default
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        if value <= now:
            self.add(field, msg("{field} must be in the future.", field=field), Code.OUT_OF_RANGE)
        elif value > now + MAX_EXPIRY:
            self.add(field, msg("{field} must be within {n} days.", field=field, n=MAX_EXPIRY.days), Code.OUT_OF_RANGE)
        return value


def check_search_area(*, lat: float, lon: float, radius_m: float) -> None:
    """Raises UserInputError for an invalid centre or radius."""
    check = Checker()
    check.point("near", lat, lon)
    check.radius("radiusMeters", radius_m)
    if check.problems:
        problem = check.problems[0]
        raise UserInputError(problem.field or "near", problem.message, problem.code)


def normalise_phone(raw: str, region: str = DEFAULT_PHONE_REGION) -> str | None:
    """The E.164 form of a phone number (national numbers are read in `region`), or None.

    One number, one identity: "+84 0900000005", "0900000005", "0084 900 000 005" and the same
    digits typed on an Arabic-Indic or fullwidth keyboard all give "+84900000005". Other
    Unicode decimal digits are read as the digits they are (a keyboard's choice, not a
    different number; libphonenumber alone reads a fullwidth leading 0 as a digit of the
    number, not as the national prefix, so they are mapped before parsing). Anything else
    that is not an ASCII digit or a separator is refused. Numbers are checked for a possible
    length, not against the current prefix ranges, which change (VN renumbered in 2018).
    """
    ascii_digits = "".join(
        str(unicodedata.decimal(c)) if not c.isascii() and unicodedata.category(c) == "Nd" else c for c in raw
    )
    # NBSP and other Unicode spaces are separators too; everything left must be ASCII.
    ascii_digits = "".join(" " if c.isspace() else c for c in ascii_digits).strip()
    if not _PHONE_CHARS.match(ascii_digits):
        return None
    try:
        parsed = phonenumbers.parse(ascii_digits, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(parsed):
        return None
    formatted = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    return formatted if formatted.isascii() and len(formatted) <= 16 else None


def utcnow() -> datetime:
    return datetime.now(UTC)
