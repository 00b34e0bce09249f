"""The demo data set is realistic and consistent."""

from __future__ import annotations

from typing import Any

import psycopg

from aidmap import demo


def test_demo_seed_covers_every_category_and_city_and_keeps_quantities_consistent(
    database_url: str, db: psycopg.Connection[Any]
) -> None:
    assert demo.database_is_empty(database_url)

    counts = demo.seed(database_url, needs=1500)

    assert counts["needs"] == 1500 and counts["offers"] > 0 and counts["pledges"] > 0
    assert not demo.database_is_empty(database_url)
    categories = {row[0] for row in db.execute("SELECT DISTINCT category FROM needs")}
    assert categories == {"FOOD", "MEDICINE", "STUDY_DEVICE", "MEDICAL_CONSULTATION", "ESSENTIALS", "ERRAND", "OTHER"}
    for _, lat, lon, _, _ in demo.CITIES:
        near = db.execute(
            "SELECT count(*) FROM needs WHERE ST_DWithin(location, ST_MakePoint(%s, %s)::geography, 15000)", (lon, lat)
        ).fetchone()
        assert near is not None and near[0] > 20
    inconsistent = db.execute(
        """SELECT count(*) FROM needs n LEFT JOIN (SELECT need_id, sum(quantity) AS q FROM pledges GROUP BY need_id) p
           ON p.need_id = n.id WHERE n.quantity_pledged <> coalesce(p.q, 0)"""
    ).fetchone()
    assert inconsistent == (0,)
    assert db.execute("SELECT count(DISTINCT status) FROM needs").fetchone()[0] >= 3  # type: ignore[index]


def test_demo_accounts_ask_and_give_and_their_titles_are_vietnamese(
    database_url: str, db: psycopg.Connection[Any]
) -> None:
    demo.seed(database_url, needs=300)
    roles = {tuple(row[0]) for row in db.execute("SELECT DISTINCT roles FROM accounts")}
    assert roles == {("REQUESTER", "DONOR")}  # demo donors pledge: they need the role they use
    english = {vi_en[1] for titles in demo.NEEDS_BY_CATEGORY.values() for vi_en in titles}
    english |= {o[1] for o in demo.OFFERS_BY_CATEGORY.values()}
    titles = {row[0] for row in db.execute("SELECT title FROM needs UNION SELECT title FROM offers")}
    assert titles and not titles & english
