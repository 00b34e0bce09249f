"""Every state change writes one event in its own transaction; a rolled-back change writes none."""

from __future__ import annotations

from typing import Any

import psycopg

from tests.conftest import Api
from tests.factories import CREATE_NEED, create_need, create_offer, need_input, pledge, sign_up

CONFIRM = "mutation ($input: ConfirmDeliveryInput!) { confirmDelivery(input: $input) { errors { code } } }"
CANCEL_NEED = "mutation ($input: CancelNeedInput!) { cancelNeed(input: $input) { errors { code } } }"


def _events(db: psycopg.Connection[Any]) -> list[tuple[Any, ...]]:
    return db.execute("SELECT seq, kind, status, audience, location IS NOT NULL FROM events ORDER BY seq").fetchall()


def test_each_change_writes_one_event_in_order(api: Api, db: psycopg.Connection[Any]) -> None:
    requester, donor = sign_up(api), sign_up(api)
    requester_id, donor_id = (r[0] for r in db.execute("SELECT id FROM accounts ORDER BY id"))
    need = create_need(api, requester, quantity=2)
    create_offer(api, donor)
    made = pledge(api, donor, need["id"], 2)["pledge"]
    api.data(CONFIRM, {"input": {"pledgeId": made["id"]}}, requester)

    events = _events(db)

    assert [e[1:] for e in events] == [
        ("NEED_CREATED", "OPEN", [], True),
        ("OFFER_CREATED", "ACTIVE", [], True),
        ("PLEDGE_CREATED", "PLEDGED", [requester_id, donor_id], True),
        ("PLEDGE_DELIVERED", "FULFILLED", [requester_id, donor_id], True),
    ]
    assert [e[0] for e in events] == sorted(e[0] for e in events)


def test_a_failed_change_writes_no_event(api: Api, db: psycopg.Connection[Any]) -> None:
    requester, donor = sign_up(api), sign_up(api)
    need = create_need(api, requester, quantity=2)
    before = _events(db)

    too_much = pledge(api, donor, need["id"], 3)
    bad_need = api.data(CREATE_NEED, {"input": need_input(quantity=0)}, requester)["createNeed"]
    cancel_foreign = api.data(CANCEL_NEED, {"input": {"needId": need["id"]}}, donor)["cancelNeed"]

    assert too_much["errors"] and bad_need["errors"] and cancel_foreign["errors"]
    assert _events(db) == before


def test_rolled_back_transaction_leaves_no_event_and_no_notification(
    database_url: str, db: psycopg.Connection[Any]
) -> None:
    import asyncio

    from sqlalchemy.ext.asyncio import create_async_engine

    from aidmap.db.engine import make_sessionmaker
    from aidmap.events.outbox import CHANNEL, emit
    from aidmap.models import Account, EventKind, Need

    db.execute(f"LISTEN {CHANNEL}")

    async def write_then_roll_back() -> None:
        engine = create_async_engine(database_url)
        sessions = make_sessionmaker(engine)
        async with sessions() as session, session.begin():
            account = Account(display_name="x", phone="+84900000000", password_hash="x", roles=[])
            session.add(account)
            await session.flush()
            need = Need(
                owner_id=account.id, category="FOOD", title="t", quantity=1, unit="kg", urgency="LOW",
                location="SRID=4326;POINT(105 21)", contact_phone="+84900000000", expires_at="2099-01-01",
            )  # fmt: skip
            session.add(need)
            await session.flush()
            await emit(session=session, kind=EventKind.NEED_CREATED, need=need)
            await session.rollback()
        await engine.dispose()

    asyncio.run(write_then_roll_back())

    assert _events(db) == []
    assert list(db.notifies(timeout=0.3, stop_after=1)) == []


def test_events_keep_the_public_cell_never_the_exact_point(api: Api, db: psycopg.Connection[Any]) -> None:
    """The fan-out, the match index, replays and webhook circles all read an event's location: it is the cell."""
    requester, donor = sign_up(api), sign_up(api)
    need = create_need(api, requester, location={"lat": 21.03112, "lon": 105.85077})
    create_offer(api, donor, location={"lat": 21.02011, "lon": 105.84466})
    pledge(api, donor, need["id"], 1)
    rows = db.execute(
        "SELECT e.kind, ST_Equals(geometry(e.location), geometry(coalesce(n.cell, o.cell))), "
        "ST_Equals(geometry(e.location), geometry(coalesce(n.location, o.location))) "
        "FROM events e LEFT JOIN needs n ON n.id = e.need_id LEFT JOIN offers o ON o.id = e.offer_id "
        "WHERE e.location IS NOT NULL"
    ).fetchall()
    assert {kind for kind, _, _ in rows} >= {"NEED_CREATED", "OFFER_CREATED", "PLEDGE_CREATED"}
    assert all(is_cell and not is_exact for _, is_cell, is_exact in rows), rows
