"""claimNeed is no oracle for "which need was filed for my phone", tried as the tester did it.

Anyone may sign up with someone else's phone (nothing proves they hold it). Before, one mutation of 30
aliased claimNeed calls without a code answered REQUIRED for the need filed for that phone and
NOT_FOUND for the 29 others, and counted nothing: knowing a person's phone found their need (and its
exact location after a claim). Now the answers to an attacker's account are the same whether or not
one of the needs was filed for its phone, and scanning ids is throttled per account and address.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest
from starlette.testclient import TestClient

from aidmap.app import create_app
from aidmap.schema.ids import to_global_id
from aidmap.settings import Settings
from tests.conftest import Api
from tests.factories import CREATE_NEED as PLAIN_CREATE_NEED
from tests.factories import SIGN_UP, create_need, need_input, sign_up

CREATE_NEED = PLAIN_CREATE_NEED.replace("createNeed(input: $input) {", "createNeed(input: $input) { claimCode", 1)
ATTACKER_PHONE = "0955 200 017"
VICTIM_AT = 17  # the position, among the filed needs, of the one filed for the attacker's phone (one world only)
FILED = 27  # with a plain need, an unknown id and the victim again: 30 ids
PER_DOCUMENT = 10  # claimNeed calls per mutation (each costs 200 of the 5,000, and tokens are 800)


@dataclasses.dataclass
class World:
    api: Api
    db: psycopg.Connection[Any]
    need_ids: list[str]
    codes: list[str]
    attacker: str


@pytest.fixture
def two_worlds(fresh_database: Callable[[], str], settings: Settings) -> Iterator[tuple[World, World]]:
    """Two databases built the same way by an operator, except that in the first the 18th need was filed
    for the attacker's phone and in the second for someone else's; in each, the attacker signs up."""
    worlds: list[World] = []
    clients: list[TestClient] = []
    connections: list[psycopg.Connection[Any]] = []
    try:
        for victim_phone in (ATTACKER_PHONE, "0955 300 017"):
            url = fresh_database()
            app = create_app(dataclasses.replace(settings, database_url=url), database_url=url)
            client = TestClient(app)
            client.__enter__()
            clients.append(client)
            db = psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True)
            connections.append(db)
            api = Api(client)
            operator = sign_up(api, "Tổng đài")
            ids, codes = [], []
            for n in range(FILED):
                phone = victim_phone if n == VICTIM_AT else f"0955 100 {n:03d}"
                filed = api.data(
                    CREATE_NEED,
                    {"input": need_input(title=f"Gạo {n}", onBehalfOf={"displayName": f"Bà {n}", "phone": phone})},
                    operator,
                )["createNeed"]
                assert filed["errors"] == [], filed
                ids.append(filed["need"]["id"])
                codes.append(filed["claimCode"])
            plain = create_need(api, operator, title="Không gửi giúp ai")["id"]  # filed for nobody
            pk = int(db.execute("SELECT max(id) FROM needs").fetchone()[0])  # type: ignore[index]
            ids += [plain, to_global_id("Need", pk + 1000)]  # and one id of no need at all
            attacker = api.data(
                SIGN_UP, {"input": {"displayName": "Kẻ dò", "phone": ATTACKER_PHONE, "password": "correct horse"}}
            )["signUp"]["token"]
            worlds.append(World(api, db, ids, codes, attacker))
        yield worlds[0], worlds[1]
    finally:
        for client in clients:
            client.__exit__(None, None, None)
        for db in connections:
            db.close()


def _aliased(count: int, code: str | None) -> str:
    code_arg = "" if code is None else f', code: "{code}"'
    fields = "\n".join(
        f"c{i}: claimNeed(input: {{needId: $n{i}{code_arg}}}) {{ need {{ id }} errors {{ field message code retryAfterSeconds }} }}"
        for i in range(count)
    )
    declared = ", ".join(f"$n{i}: ID!" for i in range(count))
    return f"mutation ({declared}) {{\n{fields}\n}}"


def _answers(world: World, code: str | None, ids: list[str] | None = None) -> list[tuple[Any, ...]]:
    """What the attacker learns from one aliased mutation over the ids: every field of every answer, the
    seconds to wait reduced to "some" (the clock is not the database's state)."""
    ids = world.need_ids if ids is None else ids
    payloads = []
    for start in range(0, len(ids), PER_DOCUMENT):  # as many aliases as the document limits allow
        chunk = ids[start : start + PER_DOCUMENT]
        data = world.api.data(
            _aliased(len(chunk), code), {f"n{i}": need_id for i, need_id in enumerate(chunk)}, world.attacker
        )
        payloads += [data[f"c{i}"] for i in range(len(chunk))]
    answers = []
    for payload in payloads:
        errors = tuple(
            (e["field"], e["code"], re.sub(r"\d+", "N", e["message"]), e["retryAfterSeconds"] is not None)
            for e in payload["errors"]
        )
        answers.append((payload["need"] is not None, errors))
    return answers


def _release_account_locks(world: World) -> None:
    """As if the attacker waited out its own back-off (the account's and the address's); the need's own
    lock stays."""
    world.db.execute("UPDATE sign_in_backoff SET locked_until = NULL, failures = 0")


def test_claim_answers_do_not_depend_on_which_need_was_filed_for_the_callers_phone(
    two_worlds: tuple[World, World],
) -> None:
    matching, other = two_worlds
    wrong = next(f"{n:08d}" for n in range(100) if f"{n:08d}" not in matching.codes + other.codes)
    sequence: list[tuple[str, str | None, list[str] | None]] = [
        ("no code", None, None),
        ("blank code", "  ", None),
        ("not a code", "12ab", None),
        ("wrong code", wrong, None),  # 5 counted, then the account waits
        ("wrong code while locked", wrong, None),
        ("the victim's need alone", wrong, [matching.need_ids[VICTIM_AT]]),
    ]
    for label, code, ids in sequence:
        assert _answers(matching, code, ids) == _answers(other, code, ids), label

    # The attacker waits its own locks out and tries the victim's need 5 times: in the first world
    # that locks the need's claim (5 wrong codes for its phone); it must answer as in the second.
    victim = [matching.need_ids[VICTIM_AT]]
    for attempt in range(3):
        _release_account_locks(matching)
        _release_account_locks(other)
        assert _answers(matching, wrong, victim * 5) == _answers(other, wrong, victim * 5), attempt
    locked = matching.db.execute("SELECT locked_until > now() FROM need_claim_codes WHERE locked_until IS NOT NULL")
    assert locked.fetchall() == [(True,)]  # the first world's need is locked, silently
    _release_account_locks(matching)
    _release_account_locks(other)
    everything = matching.need_ids + victim
    assert _answers(matching, wrong, everything) == _answers(other, wrong, everything)

    # Nobody took anything over, in either world.
    for world in (matching, other):
        assert world.db.execute("SELECT count(*) FROM needs WHERE owner_id <> filed_by_id").fetchone() == (0,)


def test_every_refusal_is_one_answer_and_scanning_is_throttled(api: Api, db: psycopg.Connection[Any]) -> None:
    operator = sign_up(api, "Tổng đài")
    filed = api.data(
        CREATE_NEED, {"input": need_input(onBehalfOf={"displayName": "Bà Lan", "phone": "0955 400 001"})}, operator
    )["createNeed"]
    others = [
        api.data(
            CREATE_NEED,
            {"input": need_input(onBehalfOf={"displayName": "Ông Ba", "phone": f"0955 400 1{n:02d}"})},
            operator,
        )["createNeed"]["need"]["id"]
        for n in range(29)
    ]
    lan = api.data(SIGN_UP, {"input": {"displayName": "Lan", "phone": "0955400001", "password": "correct horse"}})[
        "signUp"
    ]["token"]
    db.execute(
        "UPDATE need_claim_codes SET expires_at = now() - interval '1 second' WHERE need_id = (SELECT min(id) FROM needs)"
    )
    wrong = next(f"{n:08d}" for n in range(10) if f"{n:08d}" != filed["claimCode"])

    claim = "mutation ($id: ID!, $code: String) { claimNeed(input: {needId: $id, code: $code}) { errors { field message code } } }"
    expired = api.data(claim, {"id": filed["need"]["id"], "code": filed["claimCode"]}, lan)["claimNeed"]["errors"]
    not_hers = api.data(claim, {"id": others[0], "code": wrong}, lan)["claimNeed"]["errors"]
    assert expired == not_hers and [e["code"] for e in expired] == ["CLAIM_CODE_WRONG"]

    # One mutation of 30 aliased claims with a code: 3 more refusals, then the account waits, whatever the id.
    world = World(api, db, others, [], lan)
    codes = [errors[0][1] for _, errors in _answers(world, wrong)]
    assert codes == ["CLAIM_CODE_WRONG"] * 3 + ["TOO_MANY_ATTEMPTS"] * 26
    backoff = db.execute("SELECT failures, coalesce(locked_until > now(), false) FROM sign_in_backoff").fetchall()
    assert sorted(backoff) == [(5, False), (5, True)]  # the address (20 free) and the account (5), both counted

    # Fresh accounts from the same address share its budget: 20 failed claims, then every account waits.
    for n in range(4):
        world.attacker = sign_up(api, f"Kẻ dò {n}")
        codes = [errors[0][1] for _, errors in _answers(world, wrong, others[:5])]
        expected = ["CLAIM_CODE_WRONG"] * 5 if n < 3 else ["TOO_MANY_ATTEMPTS"] * 5
        assert codes == expected, n
