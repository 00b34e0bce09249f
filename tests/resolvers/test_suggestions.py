"""Suggested needs read growing rings around the offer, and answer exactly as ranking every need in reach."""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from sqlalchemy import select

from aidmap.db.engine import make_engine, make_read_sessionmaker
from aidmap.db.reader import Reader
from aidmap.events.match_index import MatchIndex
from aidmap.models import Need, Offer
from aidmap.resolvers import suggestions
from aidmap.resolvers.accounts import Viewer

CENTRE = (105.8542, 21.0285)


def _dense_city(db: psycopg.Connection[Any], rng: random.Random) -> tuple[int, list[int]]:
    """A dense core of 400 needs around the centre and 3,600 spread over 20 km (various urgency, age,
    quantity, owners, some helped already); FOOD offers of several radii at the centre (the first 8:
    300 m to 10 km, then quantity 1 or 50) and 24 more at random places."""
    db.execute(
        "INSERT INTO accounts (display_name, phone, password_hash, roles) "
        "SELECT 'p' || i, '+8490000' || lpad(i::text, 4, '0'), 'x', '{}' FROM generate_series(1, 400) AS i"
    )
    owners = [r[0] for r in db.execute("SELECT id FROM accounts ORDER BY id")]
    donor = owners.pop()
    now = datetime.now(UTC)
    with db.cursor().copy(
        "COPY needs (owner_id, category, title, quantity, quantity_pledged, unit, urgency, location, contact_phone,"
        " expires_at, status, created_at) FROM STDIN"
    ) as copy:
        for i in range(4000):
            if i < 400:
                lon, lat = CENTRE[0] + rng.gauss(0, 0.003), CENTRE[1] + rng.gauss(0, 0.003)
            else:
                lon, lat = CENTRE[0] + rng.uniform(-0.1, 0.1), CENTRE[1] + rng.uniform(-0.09, 0.09)
            quantity = rng.randint(1, 20)
            copy.write_row((
                rng.choice(owners), rng.choice(["FOOD", "FOOD", "MEDICINE"]), f"n{i}", quantity,
                rng.randint(0, quantity - 1), "kg", rng.choice(["LOW", "NORMAL", "HIGH", "CRITICAL"]),
                f"SRID=4326;POINT({lon} {lat})", "+84900000001", "2099-01-01",
                rng.choice(["OPEN", "OPEN", "PARTLY_PLEDGED", "CANCELLED"]), now - timedelta(hours=rng.uniform(0, 120)),
            ))  # fmt: skip
    # Some requesters were helped recently: the fairness part differs between them.
    db.execute(
        "INSERT INTO pledges (need_id, donor_id, quantity, status, delivered_at) "
        "SELECT id, %(donor)s, 1, 'DELIVERED', now() - interval '1 day' FROM needs WHERE id %% 40 = 0",
        {"donor": donor},
    )
    offers = []
    spots = [CENTRE] * 8 + [
        (CENTRE[0] + rng.uniform(-0.08, 0.08), CENTRE[1] + rng.uniform(-0.07, 0.07)) for _ in range(24)
    ]
    for i, (lon, lat) in enumerate(spots):
        radius = (300.0, 2000.0, 5000.0, 10000.0)[i % 4] if i < 8 else rng.uniform(200, 10000)
        quantity = (1, 50)[i // 4 % 2] if i < 8 else rng.randint(1, 30)
        offers.append(db.execute(
            "INSERT INTO offers (donor_id, category, title, quantity, unit, location, radius_meters, available_until) "
            "VALUES (%s, 'FOOD', 'o', %s, 'kg', ST_MakePoint(%s, %s)::geography, %s, '2099-01-01') RETURNING id",
            (donor, quantity, lon, lat, radius),
        ).fetchone()[0])  # type: ignore[index]  # fmt: skip
    return donor, offers


def test_rings_answer_like_ranking_everything(
    database_url: str, db: psycopg.Connection[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    donor, offers = _dense_city(db, random.Random(7))
    index = MatchIndex()
    index.load(database_url)
    viewer = Viewer(account_id=donor, display_name="d", roles=())
    now = datetime.now(UTC)
    monkeypatch.setattr(suggestions, "utcnow", lambda: now)  # the waiting part must not move between runs

    async def answers(first_ring: float) -> list[list[tuple[int, float]]]:
        monkeypatch.setattr(suggestions, "FIRST_RING_M", first_ring)
        engine = make_engine(database_url, pool_size=2)
        sessions = make_read_sessionmaker(engine)
        reader = Reader(database_url, max_size=2)
        await reader.open()
        out = []
        try:
            for offer_id in offers:
                for first in (1, 10, 50):
                    async with sessions() as session:
                        found = await suggestions.needs_for_offer(
                            session=session, reader=reader, index=index, viewer=viewer, offer_id=offer_id, first=first
                        )
                    out.append([(s.need.id, s.parts.total) for s in found])
        finally:
            await reader.close()
            await engine.dispose()
        return out

    async def reference() -> list[list[tuple[int, float]]]:
        """Every open need within reach, each scored with its requester's history, sorted."""
        engine = make_engine(database_url, pool_size=2)
        out = []
        try:
            async with make_read_sessionmaker(engine)() as session:
                for offer_id in offers:
                    offer = await session.get(Offer, offer_id)
                    ids = index.needs_within("FOOD", offer.cell_lon, offer.cell_lat, offer.radius_meters)
                    needs = list((await session.execute(select(Need).where(Need.id.in_(ids)))).scalars())
                    needs = [n for n in needs if n.status in ("OPEN", "PARTLY_PLEDGED") and n.owner_id != donor]
                    received = await suggestions.help_received(
                        session=session, beneficiaries={n.beneficiary_key for n in needs}
                    )
                    scored = [suggestions._suggestion(n, offer, received.get(n.beneficiary_key, 0), now) for n in needs]
                    for first in (1, 10, 50):
                        out.append([(s.need.id, s.parts.total) for s in suggestions._ranked(scored, first)])
        finally:
            await engine.dispose()
        return out

    everything = asyncio.run(answers(first_ring=1e9))  # one ring holding the whole radius
    rings = asyncio.run(answers(first_ring=suggestions.FIRST_RING_M))
    assert rings == everything == asyncio.run(reference())
    assert all(everything), "every offer should have suggestions in this city"
    assert max(len(a) for a in everything) == 50


def test_the_search_stops_early_in_a_dense_city(database_url: str, db: psycopg.Connection[Any]) -> None:
    donor, offers = _dense_city(db, random.Random(8))
    index = MatchIndex()
    index.load(database_url)
    asked: list[int] = []
    within = index.needs_within

    def counting(category: str, lon: float, lat: float, radius_m: float) -> list[int]:
        found = within(category, lon, lat, radius_m)
        asked.append(len(found))
        return found

    index.needs_within = counting  # type: ignore[method-assign]

    async def run() -> None:
        engine = make_engine(database_url, pool_size=2)
        reader = Reader(database_url, max_size=2)
        await reader.open()
        try:
            async with make_read_sessionmaker(engine)() as session:
                await suggestions.needs_for_offer(
                    session=session, reader=reader, index=index, viewer=Viewer(account_id=donor, display_name="d", roles=()),
                    offer_id=offers[7], first=10,  # 10 km, quantity 50
                )  # fmt: skip
        finally:
            await reader.close()
            await engine.dispose()

    asyncio.run(run())
    in_reach = len(within("FOOD", *CENTRE, 10_000.0))
    assert asked[-1] < in_reach / 4, (asked, in_reach)  # the 10 km offer stopped well inside its radius


def test_waiting_needs_beyond_the_radius_rank_as_if_every_need_in_reach_were_scored(
    database_url: str, db: psycopg.Connection[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    donor, offers = _dense_city(db, random.Random(9))
    # A fifth of the needs waited: the job announced 1 to 8 km more reach for them.
    db.execute("UPDATE needs SET waiting_reach_m = 1000 * (1 + id % 8) WHERE id % 5 = 0 AND status = 'OPEN'")
    index = MatchIndex()
    index.load(database_url)
    viewer = Viewer(account_id=donor, display_name="d", roles=())
    now = datetime.now(UTC)
    monkeypatch.setattr(suggestions, "utcnow", lambda: now)
    max_reach = 12_000.0

    async def run() -> tuple[list[list[tuple[int, float]]], list[list[tuple[int, float]]], int]:
        engine = make_engine(database_url, pool_size=2)
        reader = Reader(database_url, max_size=2)
        await reader.open()
        served, reference, beyond = [], [], 0
        try:
            async with make_read_sessionmaker(engine)() as session:
                for offer_id in offers:
                    for first in (1, 10, 50):
                        found = await suggestions.needs_for_offer(
                            session=session, reader=reader, index=index, viewer=viewer, offer_id=offer_id,
                            first=first, max_reach_m=max_reach,
                        )  # fmt: skip
                        served.append([(s.need.id, s.parts.total) for s in found])
                    offer = await session.get(Offer, offer_id)
                    ids = index.needs_within(
                        "FOOD", offer.cell_lon, offer.cell_lat, max(offer.radius_meters, max_reach)
                    )
                    needs = list((await session.execute(select(Need).where(Need.id.in_(ids)))).scalars())
                    needs = [n for n in needs if n.status in ("OPEN", "PARTLY_PLEDGED") and n.owner_id != donor]
                    received = await suggestions.help_received(
                        session=session, beneficiaries={n.beneficiary_key for n in needs}
                    )
                    scored = [
                        suggestions._suggestion(n, offer, received.get(n.beneficiary_key, 0), now, max_reach)
                        for n in needs
                    ]
                    for first in (1, 10, 50):
                        ranked = suggestions._ranked(scored, first)
                        reference.append([(s.need.id, s.parts.total) for s in ranked])
                        beyond += sum(1 for s in ranked if s.distance_m > offer.radius_meters)
        finally:
            await reader.close()
            await engine.dispose()
        return served, reference, beyond

    served, reference, beyond = asyncio.run(run())
    assert served == reference
    assert beyond > 0, "some waiting needs beyond a radius should rank"
