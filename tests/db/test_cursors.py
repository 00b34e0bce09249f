from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from aidmap.db.cursors import created_cursor, distance_cursor, parse_created_cursor, parse_distance_cursor
from aidmap.problems import UserInputError


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


def _raw(text: str) -> str:
    import base64

    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "text", ["d|99999999999999999999|", "d|+1052|", "d|1_052|", "d|-1|", "d|\u0663|", "d|9223372036854775808|"]
)
def test_ids_a_server_never_wrote_are_refused(text: str) -> None:
    """Found by an outside attacker: an id past a bigint reached PostgreSQL ("Unexpected error.")."""
    with pytest.raises(UserInputError):
        parse_distance_cursor(_raw(text))


def test_an_out_of_range_cursor_is_a_typed_error_over_graphql(api: Any) -> None:
    for order, text in (("URGENCY", "u|99999999999999999999|LOW"), ("DISTANCE", "d|99999999999999999999|")):
        body = api.http.post(
            "/graphql",
            json={
                "query": "query ($a: String) { needs(near: {lat: 21.03, lon: 105.85}, radiusMeters: 1000, first: 5, "
                f"orderBy: {order}, after: $a) {{ edges {{ cursor }} }} }}",
                "variables": {"a": _raw(text)},
            },
        ).json()
        assert body["errors"][0].get("extensions") == {"code": "INVALID", "field": "after"}, body
        assert parse_distance_cursor(distance_cursor(2**63 - 1)) == 2**63 - 1
