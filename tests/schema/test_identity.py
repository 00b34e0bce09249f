"""Identity and abuse (issue 14), tried as a hostile user would: one phone is one person."""

from __future__ import annotations

import importlib.util
from typing import Any

import psycopg

from aidmap.db.migrate import MIGRATIONS_DIR
from tests.conftest import Api
from tests.factories import CREATE_NEED as PLAIN_CREATE_NEED
from tests.factories import SIGN_UP, need_input, sign_up

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

    command.downgrade(alembic_config(database_url), "0016_read_channels")
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


# createNeed with the claim code that filing on someone's behalf returns once.
CREATE_NEED = PLAIN_CREATE_NEED.replace("createNeed(input: $input) {", "createNeed(input: $input) { claimCode", 1)
CLAIM = """mutation ($input: ClaimNeedInput!) { claimNeed(input: $input) {
  need { isMine exactLocation { lat } contactPhone } errors { field code retryAfterSeconds } } }"""
ISSUE = "mutation ($id: ID!) { issueClaimCode(input: {needId: $id}) { claimCode errors { field code } } }"


def _filed_for(api: Api, operator: str, phone: str) -> tuple[str, str]:
    filed = api.data(CREATE_NEED, {"input": need_input(onBehalfOf={"displayName": "Bà Lan", "phone": phone})}, operator)  # fmt: skip
    assert filed["createNeed"]["errors"] == []
    return filed["createNeed"]["need"]["id"], filed["createNeed"]["claimCode"]


def test_a_squatter_with_the_phone_but_not_the_code_cannot_claim(api: Api, db: psycopg.Connection[Any]) -> None:
    operator = sign_up(api, "Tổng đài")
    need_id, code = _filed_for(api, operator, "0955 000 001")
    # Anyone may sign up with a phone they do not hold.
    squatter = _sign_up(api, "+84 955 000 001")["token"]
    assert code is not None and len(code) == 8 and code.isdigit()
    assert code not in str(db.execute("SELECT * FROM need_claim_codes").fetchall())  # only a hash at rest

    no_code = api.data(CLAIM, {"input": {"needId": need_id}}, squatter)["claimNeed"]
    guesses = [
        api.data(CLAIM, {"input": {"needId": need_id, "code": f"{n:08d}"}}, squatter)["claimNeed"]
        for n in range(7)
        if f"{n:08d}" != code
    ][:6]

    assert no_code["need"] is None and no_code["errors"] == [
        {"field": "code", "code": "REQUIRED", "retryAfterSeconds": None}
    ]
    assert [g["errors"][0]["code"] for g in guesses] == ["CLAIM_CODE_WRONG"] * 5 + ["TOO_MANY_ATTEMPTS"]
    assert 800 < guesses[-1]["errors"][0]["retryAfterSeconds"] <= 900
    # Locked: even the right code waits, so a guesser gets 5 tries per 15 minutes.
    locked = api.data(CLAIM, {"input": {"needId": need_id, "code": code}}, squatter)["claimNeed"]
    assert locked["errors"][0]["code"] == "TOO_MANY_ATTEMPTS"
    owner, filed_by = db.execute("SELECT owner_id, filed_by_id FROM needs").fetchone()  # type: ignore[misc]
    assert owner == filed_by  # still the operator's

    # The locks pass (the need's and the account's); the person who was read the code claims it, once.
    db.execute("UPDATE need_claim_codes SET locked_until = now() - interval '1 second'")
    db.execute("UPDATE sign_in_backoff SET locked_until = now() - interval '1 second', failures = 0")
    claimed = api.data(CLAIM, {"input": {"needId": need_id, "code": code[:4] + " " + code[4:]}}, squatter)["claimNeed"]
    assert claimed["errors"] == [] and claimed["need"]["isMine"]
    assert db.execute("SELECT count(*) FROM need_claim_codes").fetchone() == (0,)


def test_parallel_guesses_are_all_counted(live_server: Any, db: psycopg.Connection[Any]) -> None:
    from concurrent.futures import ThreadPoolExecutor

    import httpx2

    def post(query: str, variables: dict[str, Any], token: str | None = None) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        body: dict[str, Any] = httpx2.post(
            live_server.url + "/graphql", json={"query": query, "variables": variables}, headers=headers, timeout=30
        ).json()
        return body["data"]

    operator = post(SIGN_UP, {"input": {"displayName": "Op", "phone": "0911 000 009", "password": "correct horse"}})
    filed = post(
        CREATE_NEED,
        {"input": need_input(onBehalfOf={"displayName": "Lan", "phone": "0955 000 009"})},
        operator["signUp"]["token"],
    )["createNeed"]
    squatter = post(SIGN_UP, {"input": {"displayName": "X", "phone": "0955000009", "password": "correct horse"}})
    wrong = [f"{n:08d}" for n in range(30) if f"{n:08d}" != filed["claimCode"]][:20]
    with ThreadPoolExecutor(10) as pool:
        results = list(
            pool.map(
                lambda c: post(
                    CLAIM, {"input": {"needId": filed["need"]["id"], "code": c}}, squatter["signUp"]["token"]
                ),
                wrong,
            )
        )
    codes = [r["claimNeed"]["errors"][0]["code"] for r in results]
    assert codes.count("CLAIM_CODE_WRONG") == 5, codes
    assert db.execute("SELECT failed_attempts FROM need_claim_codes").fetchone() == (5,)


def test_only_the_filer_issues_a_new_code_and_the_old_one_stops_working(api: Api, db: psycopg.Connection[Any]) -> None:
    operator, stranger = sign_up(api, "Tổng đài"), sign_up(api, "Người lạ")
    need_id, old = _filed_for(api, operator, "0955 000 002")
    db.execute("UPDATE need_claim_codes SET created_at = created_at - interval '61 seconds'")  # one a minute
    person = _sign_up(api, "0955000002")["token"]

    refused = api.data(ISSUE, {"id": need_id}, stranger)["issueClaimCode"]
    by_person = api.data(ISSUE, {"id": need_id}, person)["issueClaimCode"]
    new = api.data(ISSUE, {"id": need_id}, operator)["issueClaimCode"]

    assert refused == by_person == {"claimCode": None, "errors": [{"field": "needId", "code": "NOT_FOUND"}]}
    assert new["errors"] == [] and new["claimCode"] != old
    stale = api.data(CLAIM, {"input": {"needId": need_id, "code": old}}, person)["claimNeed"]
    assert stale["errors"][0]["code"] == "CLAIM_CODE_WRONG"
    assert (
        api.data(CLAIM, {"input": {"needId": need_id, "code": new["claimCode"]}}, person)["claimNeed"]["errors"] == []
    )
    after = api.data(ISSUE, {"id": need_id}, operator)["issueClaimCode"]
    assert after["errors"] == [{"field": "needId", "code": "INVALID_STATE"}]


def test_an_expired_code_is_refused(api: Api, db: psycopg.Connection[Any]) -> None:
    operator = sign_up(api, "Tổng đài")
    need_id, code = _filed_for(api, operator, "0955 000 003")
    person = _sign_up(api, "0955000003")["token"]
    db.execute("UPDATE need_claim_codes SET expires_at = now() - interval '1 second'")
    expired = api.data(CLAIM, {"input": {"needId": need_id, "code": code}}, person)["claimNeed"]
    # The same answer as a wrong code or a need not filed for this phone (test_claim_oracle.py).
    assert expired["need"] is None and expired["errors"][0]["code"] == "CLAIM_CODE_WRONG"


SIGN_IN_TIMED = """mutation ($input: SignInInput!) { signIn(input: $input) {
  token errors { field code retryAfterSeconds } } }"""


def test_password_guessing_is_throttled_per_phone_in_every_process(make_api: Any, db: psycopg.Connection[Any]) -> None:
    one, two = make_api(), make_api()  # two processes on one database
    assert _sign_up(one, "0900000007")["errors"] == []

    def attempt(api: Api, phone: str, password: str) -> dict[str, Any]:
        result: dict[str, Any] = api.data(SIGN_IN_TIMED, {"input": {"phone": phone, "password": password}})["signIn"]
        return result

    spellings = ["0900000007", "+84 0900000007", "0900000007".translate(ARABIC_INDIC)]
    wrong = [attempt((one, two)[i % 2], spellings[i % 3], f"guess {i}")["errors"][0]["code"] for i in range(5)]
    right = attempt(two, "+84900000007", "correct horse")

    assert wrong == ["INVALID_CREDENTIALS"] * 5
    assert right["token"] is None and right["errors"][0]["code"] == "TOO_MANY_ATTEMPTS"
    assert 10 < right["errors"][0]["retryAfterSeconds"] <= 15  # the first back-off step
    # No phone is stored; the wait passes and the right password works again.
    assert "900000007" not in str(db.execute("SELECT * FROM sign_in_backoff").fetchall())
    db.execute("UPDATE sign_in_backoff SET locked_until = now() - interval '1 second'")
    assert attempt(one, "0900000007", "correct horse")["token"]


def test_unknown_phones_are_throttled_alike(api: Api) -> None:
    answers = [
        api.data(SIGN_IN_TIMED, {"input": {"phone": "0900000008", "password": "x" * 10}})["signIn"]["errors"][0]["code"]
        for _ in range(6)
    ]
    assert answers == ["INVALID_CREDENTIALS"] * 5 + ["TOO_MANY_ATTEMPTS"]


def test_parallel_password_guesses_are_all_counted(live_server: Any) -> None:
    from concurrent.futures import ThreadPoolExecutor

    import httpx2

    def post(variables: dict[str, Any], query: str = SIGN_IN_TIMED) -> dict[str, Any]:
        body: dict[str, Any] = httpx2.post(
            live_server.url + "/graphql", json={"query": query, "variables": variables}, timeout=60
        ).json()
        return body["data"]

    post({"input": {"displayName": "A", "phone": "0900000009", "password": "correct horse"}}, SIGN_UP)
    with ThreadPoolExecutor(10) as pool:
        results = list(
            pool.map(lambda i: post({"input": {"phone": "0900000009", "password": f"guess {i}"}}), range(20))
        )
    codes = [r["signIn"]["errors"][0]["code"] for r in results]
    assert codes.count("INVALID_CREDENTIALS") == 5, codes


def test_a_partner_key_never_gets_a_user_token_from_sign_in(api: Api, database_url: str) -> None:
    from aidmap.cli import partners

    key = partners.create(
        url=database_url, name="Only accounts", scopes=["accounts"], rate_limit_per_minute=1000, allowed_origins=[]
    )[1]
    assert _sign_up(api, "0900000011")["errors"] == []  # someone else's account
    own = api.http.post(
        "/graphql",
        json={"query": SIGN_UP, "variables": {"input": {"displayName": "B", "phone": "0900000012", "password": "correct horse"}}},
        headers={"Authorization": f"Bearer {key}"},
    ).json()["data"]["signUp"]  # fmt: skip
    assert own["errors"] == [] and own["token"] is None

    for phone, password in [("0900000011", "correct horse"), ("0900000012", "correct horse"), ("0900000011", "wrong")]:
        body = api.http.post(
            "/graphql",
            json={"query": SIGN_IN_TIMED, "variables": {"input": {"phone": phone, "password": password}}},
            headers={"Authorization": f"Bearer {key}"},
        ).json()
        answer = body["data"]["signIn"]
        # Refused alike for right and wrong passwords: the key is no oracle either.
        assert answer == {"token": None, "errors": [{"field": None, "code": "FORBIDDEN", "retryAfterSeconds": None}]}


def test_sequential_account_ids_do_not_list_everyones_name(api: Api, db: psycopg.Connection[Any]) -> None:
    from aidmap.schema.ids import to_global_id
    from tests.factories import account_pk, create_need, pledge

    requester, donor, stranger = sign_up(api, "Bà Lan"), sign_up(api, "Anh Minh"), sign_up(api, "Người lạ")
    admin = sign_up(api, "Admin A")
    db.execute("UPDATE accounts SET roles = array_append(roles, 'ADMIN') WHERE id = %s", (account_pk(db, admin),))
    ids = [to_global_id("Account", pk) for pk in range(1, 101)]
    nodes = "query ($ids: [ID!]!) { nodes(ids: $ids) { ... on Account { displayName } } }"

    def names(token: str | None) -> set[str]:
        return {n["displayName"] for n in api.data(nodes, {"ids": ids}, token)["nodes"] if n}

    assert names(None) == set()
    assert names(stranger) == {"Người lạ"}  # only itself
    assert names(admin) == {"Bà Lan", "Anh Minh", "Người lạ", "Admin A"}
    need = create_need(api, requester)
    assert pledge(api, donor, need["id"], 1)["errors"] == []
    assert names(donor) == {"Anh Minh", "Bà Lan"}  # they share a pledge
    assert names(requester) == {"Bà Lan", "Anh Minh"}
    # A hidden account answers exactly like an id nobody has.
    hidden = api.post(nodes, {"ids": [ids[account_pk(db, requester) - 1], to_global_id("Account", 99_999)]}, stranger)
    assert hidden == {"data": {"nodes": [None, None]}}


def test_the_expiry_job_forgets_old_failures_and_expired_codes(
    api: Api, settings: Any, db: psycopg.Connection[Any]
) -> None:
    import asyncio

    from aidmap.db.engine import make_engine, make_sessionmaker
    from aidmap.jobs.expiry import run_expiry

    operator = sign_up(api, "Tổng đài")
    _filed_for(api, operator, "0955 000 004")
    _filed_for(api, operator, "0955 000 005")
    for _ in range(2):
        api.data(SIGN_IN_TIMED, {"input": {"phone": "0900000013", "password": "x" * 10}})
    db.execute("UPDATE sign_in_backoff SET last_failure_at = now() - interval '25 hours' WHERE key_hash = (SELECT min(key_hash) FROM sign_in_backoff)")  # fmt: skip
    db.execute("UPDATE need_claim_codes SET expires_at = now() WHERE need_id = (SELECT min(need_id) FROM need_claim_codes)")  # fmt: skip

    async def run() -> None:
        engine = make_engine(settings.database_url)
        await run_expiry(sessions=make_sessionmaker(engine))
        await engine.dispose()

    asyncio.run(run())
    assert db.execute("SELECT count(*) FROM sign_in_backoff").fetchone() == (1,)
    assert db.execute("SELECT count(*) FROM need_claim_codes").fetchone() == (1,)
