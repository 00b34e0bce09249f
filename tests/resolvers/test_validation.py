from __future__ import annotations

import pytest

from aidmap.resolvers.validation import normalise_phone


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("0912 345 678", "+84912345678"),
        ("+84 912-345-678", "+84912345678"),
        ("0084912345678", "+84912345678"),
        ("84912345678", "+84912345678"),
        ("(028) 3829 1234", "+842838291234"),
        ("12ab", None),
        ("+0123456789", None),
        ("123", None),
    ],
)
def test_normalise_phone(raw: str, expected: str | None) -> None:
    assert normalise_phone(raw) == expected
