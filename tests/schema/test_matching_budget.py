"""A matching round's cost is bounded and off the event loop: at most AIDMAP_MATCHING_MAX_OFFERS
offers per round, round-robin so none is starved, and the solve runs in a thread."""

from __future__ import annotations

import asyncio
import threading
from datetime import timedelta
from typing import Any

import psycopg
import pytest
from sqlalchemy.ext.asyncio import create_async_engine

from aidmap.db.engine import make_sessionmaker
from aidmap.fairness import matching
from aidmap.resolvers import proposals
from aidmap.resolvers.proposals import RoundReport, run_round
from aidmap.settings import Settings
from tests.conftest import Api
from tests.factories import CREATE_NEED, create_offer, need_input, sign_up

SAIGON = {"lat": 10.7769, "lon": 106.7009}  # far from every need below (they are in Hà Nội)


def _round(settings: Settings, **kwargs: Any) -> RoundReport:
    async def go() -> RoundReport:
        engine = create_async_engine(settings.database_url or "")
        try:
            report = await run_round(sessions=make_sessionmaker(engine), fairness_weight=0.5, reach=None,
                                     proposal_ttl=timedelta(hours=24), **kwargs)  # fmt: skip
            assert report is not None
            return report
        finally:
            await engine.dispose()

    return asyncio.run(go())


def _proposed(db: psycopg.Connection[Any]) -> list[int]:
    return [r[0] for r in db.execute("SELECT offer_id FROM match_proposals ORDER BY offer_id").fetchall()]


def test_offers_that_match_nothing_do_not_starve_newer_ones(
    api: Api, settings: Settings, db: psycopg.Connection[Any]
) -> None:
    requester = sign_up(api, "Requester")
    assert api.data(CREATE_NEED, {"input": need_input(quantity=5)}, requester)["createNeed"]["errors"] == []
    donors = [sign_up(api, f"Donor {i}") for i in range(3)]
    for i in range(2):
        create_offer(api, donors[i], location=SAIGON)
    create_offer(api, donors[2], quantity=2, radiusMeters=3000)
    far_a, far_b, near = (r[0] for r in db.execute("SELECT id FROM offers ORDER BY id").fetchall())

    first = _round(settings, max_offers=2)
    # Oldest first would look at the two far offers forever; the next turn starts after them.
    second = _round(settings, max_offers=2, after_offer_id=first.last_offer_id)

    assert (first.offers, first.proposals, first.last_offer_id) == (2, 0, far_b)
    assert (second.offers, second.proposals, second.last_offer_id) == (2, 1, far_a)  # wrapped round to the oldest
    assert _proposed(db) == [near]


def test_the_event_loop_runs_while_a_round_solves(
    api: Api, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    requester, donor = sign_up(api, "Requester"), sign_up(api, "Donor")
    assert api.data(CREATE_NEED, {"input": need_input(quantity=2)}, requester)["createNeed"]["errors"] == []
    create_offer(api, donor, quantity=2, radiusMeters=3000)
    solving, loop_ran = threading.Event(), threading.Event()
    seen: dict[str, Any] = {}

    def propose(*args: Any, **kwargs: Any) -> list[matching.Proposal]:
        # Holds the solve until a coroutine on the loop has run: on the loop itself this would
        # wait for a loop it blocks (and give up after the safety timeout).
        seen["thread"] = threading.get_ident()
        solving.set()
        seen["loop_ran_meanwhile"] = loop_ran.wait(timeout=30)
        return matching.propose(*args, **kwargs)

    monkeypatch.setattr(proposals, "propose", propose)

    async def go() -> RoundReport | None:
        engine = create_async_engine(settings.database_url or "")
        try:
            seen["loop"] = threading.get_ident()

            async def other_request() -> None:
                while not solving.is_set():
                    await asyncio.sleep(0.005)
                loop_ran.set()

            other = asyncio.create_task(other_request())
            report = await run_round(sessions=make_sessionmaker(engine), fairness_weight=0.5, reach=None,
                                     proposal_ttl=timedelta(hours=24))  # fmt: skip
            await other
            return report
        finally:
            await engine.dispose()

    report = asyncio.run(go())
    assert report is not None and report.proposals == 1
    assert seen["loop_ran_meanwhile"] is True and seen["thread"] != seen["loop"]
