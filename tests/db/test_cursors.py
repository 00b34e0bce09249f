from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from aidmap.db.cursors import created_cursor, distance_cursor, parse_created_cursor, parse_distance_cursor
from aidmap.problems import UserInputError
from aidmap.schema.ids import from_global_id
from tests.conftest import Api
from tests.factories import create_need, sign_up


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


def test_a_made_up_cursor_costs_one_look_up_not_a_scan(api: Api, database_url: str) -> None:
    # Left to the search, a cursor whose row is unknown (or hidden, or beyond the radius) matched no
    # row, and the nearest-first scan walked the whole index: one request, a full scan, 24 aliases a
    # document. Its place is looked up first, and such a cursor ends the list there.
    import asyncio

    from aidmap.db.cursors import distance_cursor
    from aidmap.db.reader import Reader
    from aidmap.resolvers.needs import search_rows

    requester = sign_up(api)
    made = [create_need(api, requester, title=f"n{i}", location={"lat": 21.0285 + i * 0.01, "lon": 105.8542})
            for i in range(4)]  # fmt: skip
    far_id = from_global_id(made[3]["id"])[1]  # ~3.3 km from the origin
    near_id = from_global_id(made[0]["id"])[1]

    class Recording:
        def __init__(self, reader: Reader) -> None:
            self.reader, self.statements = reader, []

        async def fetch(self, sql: str, params: dict[str, Any], *, binary: bool = False) -> list[Any]:
            self.statements.append(sql)
            return await self.reader.fetch(sql, params, binary=binary)

    async def page(after: str, radius_m: float) -> tuple[list[int], bool, int]:
        reader = Reader(database_url, max_size=1)
        await reader.open()
        try:
            recording = Recording(reader)
            rows = await search_rows(
                reader=recording, lat=21.0285, lon=105.8542, radius_m=radius_m, categories=None, statuses=None,
                first=10, after=after, columns="id",
            )  # fmt: skip
            # How many nearest-first scans ran (the look-up of the cursor's place is no scan).
            return [r.id for r in rows.rows], rows.has_next, sum("ORDER BY" in q for q in recording.statements)
        finally:
            await reader.close()

    assert asyncio.run(page(distance_cursor(10**12), 50_000)) == ([], False, 0)  # unknown: no scan
    assert asyncio.run(page(distance_cursor(far_id), 1_000)) == ([], False, 0)  # beyond the radius
    ids, more, scans = asyncio.run(page(distance_cursor(near_id), 50_000))  # a real bookmark
    assert len(ids) == 3 and near_id not in ids and not more and scans == 1
