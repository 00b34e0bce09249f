"""Every field of `Need` and `Account`, for every kind of caller, against a real server (issue 14).

The fields are read from the schema itself: a field added to either type fails this test until
someone writes down below who may see it. For each (caller, object, field) the table states one of
  value    the field's value is there,
  hidden   null, an empty list or false (what a caller who may not see it gets),
  unknown  the object answers exactly like an id that does not exist,
  error    the request is refused (a partner key without the scope the root field needs).
The callers: nobody, a signed-in stranger, the owner, a donor with a pledge on the need, a verifier
of its ward, the operator who filed a need for someone, an admin, and a partner key without scopes,
with each scope alone, and with needs:read + private:read.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import psycopg
import pytest
from graphql import GraphQLObjectType, get_named_type, is_leaf_type

from aidmap.cli import partners
from aidmap.models import Scope
from aidmap.resolvers.areas import BUNDLED, import_files
from aidmap.schema import schema
from aidmap.schema.ids import to_global_id
from tests.conftest import Api
from tests.factories import CREATE_NEED, create_need, give_role, need_input, sign_up

HOAN_KIEM_LAKE = {"lat": 21.0288, "lon": 105.8525}
NEARBY = {"lat": 21.0290, "lon": 105.8527}
PEOPLE = ["anonymous", "stranger", "owner", "pledged_donor", "ward_verifier", "filer", "admin"]
PARTNER_SCOPES: dict[str, list[str]] = {
    "partner:none": [],
    **{f"partner:{s.value}": [s.value] for s in Scope},
    "partner:needs:read+private:read": ["needs:read", "private:read"],
}
CALLERS = PEOPLE + list(PARTNER_SCOPES)
# node, like every read of a need, needs needs:read (schema/limits.py ROOT_SCOPES).
REFUSED = {c for c, scopes in PARTNER_SCOPES.items() if "needs:read" not in scopes}
READ_KEYS = {c for c in PARTNER_SCOPES if c not in REFUSED}
EVERYONE = set(CALLERS) - REFUSED

VALUE, HIDDEN, UNKNOWN, ERROR = "value", "hidden", "unknown", "error"

# Who gets the object at all (the others get UNKNOWN, or ERROR when refused before running).
READERS = {
    # Public and verified, with a pledge, a report and a duplicate flag.
    "posted": EVERYONE,
    # Filed by an operator for someone without an account, then rejected: hidden from the public.
    "filed": {"filer", "ward_verifier", "admin"},
    # The owner's account: itself, admins, and who shares a pledge or a need with it.
    "account": {"owner", "admin", "pledged_donor"},
}
PUBLIC = "every reader"
PRIVATE_NEED = {"owner", "pledged_donor", "ward_verifier", "admin"}
REVIEWERS = {"ward_verifier", "admin"}
# Need field -> who among the readers sees a value, for (posted, filed).
NEED_RULES: dict[str, tuple[set[str] | str, set[str] | str]] = {
    "id": (PUBLIC, PUBLIC),
    "category": (PUBLIC, PUBLIC),
    "title": (PUBLIC, PUBLIC),
    "details": (PUBLIC, PUBLIC),
    "quantity": (PUBLIC, PUBLIC),
    "unit": (PUBLIC, PUBLIC),
    "urgency": (PUBLIC, PUBLIC),
    "householdSize": (PUBLIC, PUBLIC),
    "status": (PUBLIC, PUBLIC),
    "quantityPledged": (PUBLIC, PUBLIC),
    "quantityDelivered": (PUBLIC, PUBLIC),
    "expiresAt": (PUBLIC, PUBLIC),
    "createdAt": (PUBLIC, PUBLIC),
    "updatedAt": (PUBLIC, PUBLIC),
    "approximateLocation": (PUBLIC, PUBLIC),  # the ~500 m cell, the same for everyone
    "ward": (PUBLIC, PUBLIC),
    "isMine": ({"owner"}, {"filer"}),
    "filedByMe": (set(), {"filer"}),
    "verification": (PUBLIC, set()),  # a rejected need shows no badge
    "rejectedReason": (set(), PUBLIC),  # PUBLIC here means its readers: the filer and the reviewers
    "possibleDuplicateOf": (REVIEWERS, set()),
    "reports": (REVIEWERS, set()),
    "onBehalfOf": (set(), {"filer"}),
    "exactLocation": (PRIVATE_NEED, PUBLIC),
    "contactPhone": (PRIVATE_NEED, PUBLIC),
    "locationReads": ({"owner"}, {"filer"}),  # the requester only (the filer is the requester until claimed)
    "pledges": ({"owner", "pledged_donor"}, set()),
    # Nobody asked for instant help in this world; who sees a request (requester, filer, no one else):
    # tests/frontend/test_reload.py.
    "helpRequest": (set(), set()),
}
ACCOUNT_RULES: dict[str, set[str] | str] = {
    "id": PUBLIC,
    "displayName": PUBLIC,
    "phone": {"owner"},
    "roles": {"owner", "admin"},
}


def _fields(type_name: str) -> dict[str, str]:
    """Each field of the type with a selection that shows whether it has a value (an object field
    with the plain fields of its type, so a shown exact location can be compared with the truth)."""
    graphql_type = schema._schema.type_map[type_name]
    assert isinstance(graphql_type, GraphQLObjectType)
    selections = {}
    for name, field in graphql_type.fields.items():
        named = get_named_type(field.type)
        if is_leaf_type(named):
            selections[name] = name
        else:
            assert isinstance(named, GraphQLObjectType)
            plain = [n for n, f in named.fields.items() if is_leaf_type(get_named_type(f.type)) and not f.args]
            selections[name] = f"{name} {{ __typename {' '.join(plain)} }}"
    return selections


def _outcome(value: Any) -> str:
    return HIDDEN if value is None or value == [] or value is False else VALUE


def _expected(obj: str, caller: str, seers: set[str] | str) -> str:
    if caller in REFUSED:
        return ERROR
    if caller not in READERS[obj]:
        return UNKNOWN
    return VALUE if seers == PUBLIC or caller in seers else HIDDEN


@pytest.fixture
def world(make_api: Callable[..., Api], database_url: str, db: psycopg.Connection[Any]) -> dict[str, Any]:
    # Needs wait for a verifier: so `posted` can carry a "verified" badge.
    api = make_api(require_verification=True)
    import_files(database_url, [BUNDLED / "01_ha_noi.geojson"])
    tokens = {who: sign_up(api, who) for who in PEOPLE if who != "anonymous"}
    give_role(db, tokens["admin"], "ADMIN")
    give_role(db, tokens["ward_verifier"], "VERIFIER", ("00070",))
    give_role(db, tokens["filer"], "OPERATOR")
    headers: dict[str, dict[str, str]] = {"anonymous": {}} | {
        who: {"Authorization": f"Bearer {token}"} for who, token in tokens.items()
    }
    for name, scopes in PARTNER_SCOPES.items():
        key = partners.create(url=database_url, name=name, scopes=scopes, rate_limit_per_minute=10_000, allowed_origins=[])  # fmt: skip
        headers[name] = {"Authorization": f"Bearer {key[1]}"}

    owner, admin = tokens["owner"], tokens["admin"]
    phone = "0912 345 678"
    first = create_need(api, owner, location=HOAN_KIEM_LAKE, contactPhone=phone)  # what `posted` duplicates
    posted = create_need(
        api, owner, location=NEARBY, contactPhone=phone, title="Gạo và dầu ăn", details="Ngõ 5", householdSize=4
    )
    verify = "mutation ($id: ID!) { verifyNeed(input: {needId: $id}) { errors { code } } }"
    for need in (first, posted):
        assert api.data(verify, {"id": need["id"]}, admin)["verifyNeed"]["errors"] == []
    pledge = "mutation ($id: ID!) { pledge(input: {needId: $id, quantity: 1}) { errors { code } } }"
    assert api.data(pledge, {"id": posted["id"]}, tokens["pledged_donor"])["pledge"]["errors"] == []
    report = 'mutation ($id: ID!) { reportNeed(input: {needId: $id, reason: "Không rõ"}) { errors { code } } }'
    assert api.data(report, {"id": posted["id"]}, tokens["stranger"])["reportNeed"]["errors"] == []
    beneficiary = {"displayName": "Ông Tư", "phone": "0955 000 222"}
    filed = api.data(
        CREATE_NEED,
        {"input": need_input(location=HOAN_KIEM_LAKE, category="MEDICINE", title="Thuốc huyết áp", details="Nhà 12",
                             householdSize=1, contactPhone="0955 000 222", onBehalfOf=beneficiary)},
        tokens["filer"],
    )["createNeed"]["need"]  # fmt: skip
    reject = 'mutation ($id: ID!) { rejectNeed(input: {needId: $id, reason: "Không có thật"}) { errors { code } } }'
    assert api.data(reject, {"id": filed["id"]}, admin)["rejectNeed"]["errors"] == []
    owner_account = api.data("{ me { id } }", token=owner)["me"]["id"]

    # An admin's reads of the exact points, so each requester has a read in locationReads (written
    # by the access log in the background: wait for them before the matrix reads anything).
    reads = "query ($id: ID!) { node(id: $id) { ... on Need { exactLocation { lat } locationReads { field } } } }"
    for need_id, requester in ((posted["id"], owner), (filed["id"], tokens["filer"])):
        assert api.data(reads, {"id": need_id}, admin)["node"]["exactLocation"] is not None
        deadline = time.monotonic() + 10
        while not api.data(reads, {"id": need_id}, requester)["node"]["locationReads"]:
            assert time.monotonic() < deadline, "the access log did not write the read"
            time.sleep(0.1)
    return {
        "api": api, "headers": headers, "phone": owner_phone(db, owner),
        "ids": {"posted": posted["id"], "filed": filed["id"], "account": owner_account},
        "exact": {"posted": NEARBY, "filed": HOAN_KIEM_LAKE},
        "contact": {"posted": posted["contactPhone"], "filed": filed["contactPhone"]},
    }  # fmt: skip


def owner_phone(db: psycopg.Connection[Any], token: str) -> str:
    from tests.factories import account_pk

    row = db.execute("SELECT phone FROM accounts WHERE id = %s", (account_pk(db, token),)).fetchone()
    assert row is not None
    return str(row[0])


def test_every_field_is_classified() -> None:
    assert set(_fields("Need")) == set(NEED_RULES), "classify the new Need fields in NEED_RULES"
    assert set(_fields("Account")) == set(ACCOUNT_RULES), "classify the new Account fields in ACCOUNT_RULES"


def _post(world: dict[str, Any], caller: str, query: str, variables: dict[str, Any]) -> dict[str, Any]:
    response = world["api"].http.post(
        "/graphql", json={"query": query, "variables": variables}, headers=world["headers"][caller]
    )
    body: dict[str, Any] = response.json()
    return body


def test_every_field_of_need_and_account_for_every_caller(world: dict[str, Any]) -> None:
    documents = {
        name: "query ($id: ID!) { node(id: $id) { ... on " + name + " { " + " ".join(_fields(name).values()) + " } } }"
        for name in ("Need", "Account")
    }
    objects = {"posted": "Need", "filed": "Need", "account": "Account"}
    rules: dict[str, dict[str, set[str] | str]] = {
        "posted": {f: r[0] for f, r in NEED_RULES.items()},
        "filed": {f: r[1] for f, r in NEED_RULES.items()},
        "account": dict(ACCOUNT_RULES),
    }
    wrong: list[str] = []
    for caller in CALLERS:
        for obj, type_name in objects.items():
            body = _post(world, caller, documents[type_name], {"id": world["ids"][obj]})
            unknown = _post(world, caller, documents[type_name], {"id": to_global_id(type_name, 987_654_321)})
            for field, seers in rules[obj].items():
                expected = _expected(obj, caller, seers)
                if "errors" in body:
                    codes = {e.get("extensions", {}).get("code") for e in body["errors"]}
                    actual = ERROR if body.get("data") is None and codes == {"FORBIDDEN"} else f"errors {codes}"
                elif body["data"]["node"] is None:
                    actual = UNKNOWN if body == unknown else "null, unlike an unknown id"
                else:
                    value = body["data"]["node"][field]
                    actual = _outcome(value)
                    if actual == VALUE:
                        _check_value(world, obj, field, value, wrong, caller)
                if actual != expected:
                    wrong.append(f"{caller} {obj}.{field}: expected {expected}, got {actual}")
    assert wrong == [], "\n".join(wrong)


def _check_value(world: dict[str, Any], obj: str, field: str, value: Any, wrong: list[str], caller: str) -> None:
    """A private value that is shown is the real one (not a placeholder)."""
    if field == "exactLocation":
        truth = world["exact"][obj]
        if (round(value["lat"], 4), round(value["lon"], 4)) != (truth["lat"], truth["lon"]):
            wrong.append(f"{caller} {obj}.exactLocation: {value} is not {truth}")
    elif field == "contactPhone" and value != world["contact"][obj]:
        wrong.append(f"{caller} {obj}.contactPhone: {value}")
    elif obj == "account" and field == "phone" and value != world["phone"]:
        wrong.append(f"{caller} account.phone: {value}")
