"""Identity and abuse (issue 14), tried as a hostile user would: one phone is one person."""

from __future__ import annotations

import importlib.util
from typing import Any

import psycopg

from aidmap.db.migrate import MIGRATIONS_DIR
from tests.conftest import Api
from tests.factories import CREATE_NEED, SIGN_UP, need_input, sign_up

SIGN_IN = "mutation ($input: SignInInput!) { signIn(input: $input) { token errors { field message code } } }"
ARABIC_INDIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")
FULLWIDTH = str.maketrans("0123456789", "０１２３４５６７８９")


def _sign_up(api: Api, phone: str) -> dict[str, Any]:
    payload: dict[str, Any] = api.data(
        SIGN_UP, {"input": {"displayName": "Kẻ mạo danh", "phone": phone, "password": "correct horse"}}
    )["signUp"]
    return payload


def test_every_spelling_of_a_number_is_the_same_account(api: Api, db: psycopg.Connection[Any]) -> None:
    assert _sign_up(api, "0900000005")["errors"] == []
    spellings = [
        "+84 0900000005",  # the national 0 kept after the country code
        "+84900000005",
        "0084 900 000 005",
        "0900000005".translate(ARABIC_INDIC),
        "0900000005".translate(FULLWIDTH),
        "+84 090000000" + "5".translate(ARABIC_INDIC),  # one odd digit
        "0900 000 005\u00a0",
    ]
    for phone in spellings:
        taken = _sign_up(api, phone)
        assert taken["token"] is None and [e["code"] for e in taken["errors"]] == ["PHONE_TAKEN"], phone
        signed_in = api.data(SIGN_IN, {"input": {"phone": phone, "password": "correct horse"}})["signIn"]
        assert signed_in["errors"] == [] and signed_in["token"], phone
    assert db.execute("SELECT phone FROM accounts").fetchall() == [("+84900000005",)]


def test_characters_that_are_not_digits_are_refused(api: Api, db: psycopg.Connection[Any]) -> None:
    for phone in ["09²0000005", "0900000005\u200b", "①900000005", "+84 9OO OOO OO5"]:
        refused = _sign_up(api, phone)
        assert [(e["field"], e["code"]) for e in refused["errors"]] == [("phone", "INVALID")], phone
    assert db.execute("SELECT count(*) FROM accounts").fetchone() == (0,)


def test_the_per_beneficiary_quota_cannot_be_evaded_by_spelling(make_api: Any) -> None:
    api = make_api(max_open_needs_per_category=1)
    operator = sign_up(api, "Tổng đài")
    first = api.data(CREATE_NEED, {"input": need_input(onBehalfOf={"displayName": "Bà Lan", "phone": "0977 111 222"})}, operator)  # fmt: skip
    assert first["createNeed"]["errors"] == []
    for phone in ["+84 0977111222", "0977111222".translate(ARABIC_INDIC), "0977111222".translate(FULLWIDTH)]:
        again = api.data(CREATE_NEED, {"input": need_input(onBehalfOf={"displayName": "Bà Lan", "phone": phone})}, operator)  # fmt: skip
        assert [e["code"] for e in again["createNeed"]["errors"]] == ["QUOTA_EXCEEDED"], phone


def test_the_migration_rewrites_old_spellings_and_reports_collisions_without_merging() -> None:
    spec = importlib.util.spec_from_file_location("m0017", MIGRATIONS_DIR / "versions" / "0017_identity.py")
    assert spec is not None and spec.loader is not None
    migration = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(migration)
    old = [(1, "+840900000005"), (2, "+84900000005"), (3, "+84٩٠٠٠٠٠٠٠٥"), (4, "+840912345678")]
    changes, collisions = migration.renormalise_account_phones(old)
    # Account 2 was already spelled right and keeps the number; 1 and 3 are reported, not merged.
    assert changes == {4: "+84912345678"}
    assert collisions == [("+84900000005", 2, [1, 2, 3])]


def test_the_migration_on_a_real_database(database_url: str, db: psycopg.Connection[Any]) -> None:
    from alembic import command

    from aidmap.db.migrate import alembic_config, upgrade

    command.downgrade(alembic_config(database_url), "0015_public_cells")
    for phone in ("+840900000005", "+84900000005", "+840912345678"):
        db.execute(
            "INSERT INTO accounts (display_name, phone, password_hash, roles) VALUES ('x', %s, 'h', ARRAY['DONOR'])",
            (phone,),
        )
    upgrade(database_url)
    assert db.execute("SELECT phone FROM accounts ORDER BY id").fetchall() == [
        ("+840900000005",),  # collides with the next one: left as it was, reported
        ("+84900000005",),
        ("+84912345678",),
    ]
