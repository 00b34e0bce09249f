from __future__ import annotations

from datetime import UTC, datetime

import pytest

from aidmap.resolvers.cursors import created_cursor, distance_cursor, parse_created_cursor, parse_distance_cursor
from aidmap.resolvers.problems import UserInputError


def test_round_trips() -> None:
    assert parse_distance_cursor(distance_cursor(42)) == 42
    when = datetime(2026, 11, 21, 8, 30, 1, 123456, tzinfo=UTC)
    assert parse_created_cursor(created_cursor(when, 7)) == (when, 7)


def test_a_distance_cursor_does_not_carry_the_distance() -> None:
    import base64

    text = base64.urlsafe_b64decode(distance_cursor(42) + "==").decode()
    assert text == "d|42|"


@pytest.mark.parametrize("bad", ["", "!!!", distance_cursor(1)[:-2] + "zz", created_cursor(datetime.now(UTC), 1)])
def test_garbage_is_a_user_input_error(bad: str) -> None:
    with pytest.raises(UserInputError):
        parse_distance_cursor(bad)
