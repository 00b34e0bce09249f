"""models/need_fields.py is the one description of a need's fields: the schema, the input checks,
the verification badge, webhooks, exports and live snapshots are checked against it here, through
the real API, a real webhook endpoint and the real export command.

A field added to FIELDS shows up in each of these tests without editing them."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import random
import re
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from graphql import is_non_null_type
from psycopg.rows import namedtuple_row

from aidmap import cli
from aidmap.cli import partners
from aidmap.db.reader import located_columns
from aidmap.models import Need as NeedModel
from aidmap.models.need import ANONYMOUS, Principal
from aidmap.models.need_fields import (
    EXPORT_FIELDS,
    FIELDS,
    INPUT_FIELDS,
    TYPE_FIELDS,
    WEBHOOK_FIELDS,
    Kind,
    NeedField,
    Reset,
    select_list,
)
from aidmap.models.projection import project_need
from aidmap.resolvers.areas import BUNDLED, import_files
from aidmap.schema import schema
from aidmap.schema.types import Need as NeedView
from aidmap.settings import Settings
from tests.conftest import Api
from tests.factories import CREATE_NEED, SIGN_UP, account_pk, create_need, give_role, need_input, new_phone, sign_up
from tests.resolvers.conftest import Receiver
from tests.schema.test_privacy_invariance import moved_within_cell

HOAN_KIEM_LAKE = {"lat": 21.0288, "lon": 105.8525}
PHONE = "0912 345 678"
PHONE_E164 = "+84912345678"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return dataclasses.replace(
        settings, webhook_interval_seconds=0.1, webhook_retry_seconds=0.2, webhook_allow_private=True
    )


@pytest.fixture
def receiver() -> Any:
    found = Receiver()
    yield found
    found.server.shutdown()
    found.server.server_close()


def _api_names(f: NeedField) -> set[str]:
    """What the field is called where the API shows it (a point as its public and its exact location)."""
    return {"approximateLocation", "exactLocation"} if f.kind is Kind.POINT else {f.graphql}


def _private_names() -> set[str]:
    return {"exactLocation" if f.kind is Kind.POINT else f.graphql for f in FIELDS if f.private}


def _wait(condition: Any, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.05)


# -- the description itself and the schema ----------------------------------------------------


def test_each_field_is_a_column_named_as_the_api_names_it() -> None:
    columns = NeedModel.__table__.c
    for f in FIELDS:
        assert f.graphql == re.sub(r"_([a-z])", lambda m: m.group(1).upper(), f.name), f
        assert f.name in columns, f
        if f.kind is Kind.TEXT and f.max_len is not None:
            assert f.max_len <= columns[f.name].type.length, f  # the check refuses what the column cannot hold
    # The exact point and the phone are private; the rule for who sees them is models.need.may_see_private.
    assert _private_names() == {"exactLocation", "contactPhone"}


def test_the_need_type_and_inputs_agree_with_fields() -> None:
    types = schema._schema.type_map
    need, create, update = types["Need"].fields, types["CreateNeedInput"].fields, types["UpdateNeedInput"].fields
    for f in FIELDS:
        assert _api_names(f) - {"wardCode"} <= set(need), f  # the ward is Need.ward { code name }
    for f in TYPE_FIELDS:
        assert is_non_null_type(need[f.graphql].type) == (not NeedModel.__table__.c[f.name].nullable), f
    inputs = {f.graphql for f in INPUT_FIELDS}
    assert set(create) - inputs == {"onBehalfOf", "idempotencyKey", "attestation"}
    assert set(update) - inputs == {"needId"}
    for f in INPUT_FIELDS:
        assert not f.required or is_non_null_type(create[f.graphql].type), f
        assert not is_non_null_type(update[f.graphql].type), f  # an edit gives only what changes


# -- input bounds, through the API -------------------------------------------------------------


def _bound_cases() -> list[tuple[NeedField, Any, str | None]]:
    """(field, value, the error code or None for accepted) at and beyond each field's bounds."""
    cases: list[tuple[NeedField, Any, str | None]] = []
    for f in INPUT_FIELDS:
        if f.kind is Kind.TEXT and f.max_len is not None:
            cases += [(f, "x" * f.max_len, None), (f, "x" * (f.max_len + 1), "TOO_LONG"), (f, "a\x00b", "INVALID")]
            if f.required:
                cases.append((f, "   ", "REQUIRED"))
        elif f.kind is Kind.COUNT and f.maximum is not None:
            cases += [(f, f.maximum, None), (f, f.maximum + 1, "OUT_OF_RANGE"), (f, 0, "OUT_OF_RANGE")]
        elif f.kind is Kind.PHONE:
            cases += [(f, PHONE, None), (f, "12", "INVALID"), (f, "0" * (f.max_len or 0) + "1", "TOO_LONG")]
        elif f.kind is Kind.POINT:
            cases += [(f, {"lat": 91, "lon": 0}, "OUT_OF_RANGE"), (f, {"lat": 0, "lon": 180.5}, "OUT_OF_RANGE")]
        elif f.kind is Kind.TIME:
            past = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
            cases += [
                (f, past, "OUT_OF_RANGE"),
                (f, (datetime.now(UTC) + timedelta(days=91)).isoformat(), "OUT_OF_RANGE"),
            ]
    return cases


UPDATE = """mutation ($input: UpdateNeedInput!) { updateNeed(input: $input) {
  need { id } errors { field code } } }"""


def test_bounds_refuse_bad_input_with_typed_errors_on_create_and_on_edit(api: Api) -> None:
    token = sign_up(api)
    need_id = create_need(api, token)["id"]
    cases = _bound_cases()
    assert {f.name for f, _, _ in cases} == {f.name for f in INPUT_FIELDS if f.kind is not Kind.CHOICE}
    for f, value, code in cases:
        created = api.post(CREATE_NEED, {"input": need_input(**{f.graphql: value})}, token)
        edited = api.post(UPDATE, {"input": {"needId": need_id, f.graphql: value}}, token)
        for answer, name in ((created, "createNeed"), (edited, "updateNeed")):
            assert "errors" not in answer, (f.name, value, answer)  # a typed error, never a GraphQL one
            payload = answer["data"][name]
            if code is None:
                assert payload["errors"] == [] and payload["need"] is not None, (f.name, value, payload)
            else:
                errors = [{"field": e["field"], "code": e["code"]} for e in payload["errors"]]
                assert payload["need"] is None and errors[0] == {"field": f.graphql, "code": code}, (f.name, payload)
                assert {e["field"] for e in errors} == {f.graphql}, (f.name, payload)


# -- who sees the private fields ---------------------------------------------------------------

READ = """query ($id: ID!) { node(id: $id) { ... on Need { exactLocation { lat lon } contactPhone
  approximateLocation { lat lon } } } }"""


def test_private_fields_are_null_to_anyone_but_those_who_may_see_them(api: Api) -> None:
    owner, stranger = sign_up(api), sign_up(api)
    need_id = create_need(api, owner, location=HOAN_KIEM_LAKE, contactPhone=PHONE)["id"]
    private = _private_names()
    for who in (None, stranger):
        seen = api.data(READ, {"id": need_id}, who)["node"]
        assert {name: seen[name] for name in private} == dict.fromkeys(private), who
        assert seen["approximateLocation"] != HOAN_KIEM_LAKE
    mine = api.data(READ, {"id": need_id}, owner)["node"]
    assert mine["exactLocation"] == HOAN_KIEM_LAKE and mine["contactPhone"] == PHONE_E164


# -- webhooks ----------------------------------------------------------------------------------

CREATE_WEBHOOK = """mutation ($input: CreateWebhookInput!) { createWebhook(input: $input) {
  webhook { id } errors { field code } } }"""


def _with_key(api: Api, key: str, query: str, variables: dict[str, Any], act_as: str | None = None) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {key}", **({"Aidmap-Act-As": act_as} if act_as else {})}
    body: dict[str, Any] = api.http.post(
        "/graphql", json={"query": query, "variables": variables}, headers=headers
    ).json()
    assert "errors" not in body, body
    return body["data"]


def test_every_webhook_field_reaches_the_endpoint_as_the_api_shows_it(
    api: Api, database_url: str, receiver: Receiver
) -> None:
    """Both needs carry every WEBHOOK_FIELDS entry; the exact point and the phone only for the need filed
    through the partner (with `private:read`), as the API would show them to that key."""
    key = partners.create(
        url=database_url, name="Hue-S", rate_limit_per_minute=10_000, allowed_origins=[],
        scopes=["webhooks", "accounts", "needs:read", "needs:write", "private:read"],
    )[1]  # fmt: skip
    assert (
        _with_key(api, key, CREATE_WEBHOOK, {"input": {"url": receiver.url, "events": ["NEED_CREATED"]}})[
            "createWebhook"
        ]["errors"]
        == []
    )
    person = _with_key(
        api, key, SIGN_UP, {"input": {"displayName": "Bà Lan", "phone": new_phone(), "password": "long enough"}}
    )["signUp"]["account"]["id"]
    filed = _with_key(api, key, CREATE_NEED, {"input": need_input(contactPhone=PHONE, householdSize=3)}, person)[
        "createNeed"
    ]["need"]
    other = create_need(api, sign_up(api), title="not through the partner")
    _wait(lambda: len(receiver.accepted()) == 2)

    bodies = {body["need"]["id"]: body["need"] for body in (json.loads(r["body"]) for r in receiver.accepted())}
    expected = set().union(*(_api_names(f) for f in WEBHOOK_FIELDS))
    assert set(bodies[filed["id"]]) == expected and set(bodies[other["id"]]) == expected
    shown = [f.graphql for f in WEBHOOK_FIELDS if f.in_type]
    query = "query ($id: ID!) { node(id: $id) { ... on Need { " + " ".join(shown) + " } } }"
    for need_id, body in bodies.items():
        as_the_api = _with_key(api, key, query, {"id": need_id})["node"]
        assert {name: body[name] for name in shown} == as_the_api
    assert bodies[filed["id"]]["exactLocation"] == filed["exactLocation"]
    assert bodies[filed["id"]]["contactPhone"] == PHONE_E164
    assert bodies[filed["id"]]["approximateLocation"] == filed["approximateLocation"]
    private = _private_names()
    assert {name: bodies[other["id"]][name] for name in private} == dict.fromkeys(private)


# -- export ------------------------------------------------------------------------------------


def _export(tmp_path: Path, name: str, *extra: str) -> list[dict[str, str]]:
    out = tmp_path / name
    assert cli.main(["export", "needs", "--area", "01", "--format", "csv", "--output", str(out), *extra]) == 0
    return list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8"))))


def test_every_export_field_is_a_column_and_a_public_export_carries_no_private_value(
    api: Api, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIDMAP_DATABASE_URL", database_url)
    monkeypatch.setenv("AIDMAP_SECRET_KEY", "test-secret")
    import_files(database_url, [BUNDLED / "01_ha_noi.geojson"])
    signed_up = api.data(
        SIGN_UP, {"input": {"displayName": "Bà Lan", "phone": "0988 102 201", "password": "long enough"}}
    )
    need = create_need(api, signed_up["signUp"]["token"], location=HOAN_KIEM_LAKE, contactPhone=PHONE)

    public, own = _export(tmp_path, "public.csv"), _export(tmp_path, "own.csv", "--as", "0988102201")

    columns = [
        c for f in EXPORT_FIELDS for c in (("lat", "lon", "location_precision") if f.kind is Kind.POINT else (f.name,))
    ]
    assert list(public[0]) == columns and list(own[0]) == columns
    approximate = need["approximateLocation"]
    assert (float(public[0]["lat"]), float(public[0]["lon"])) == (approximate["lat"], approximate["lon"])
    assert public[0]["location_precision"] == "approximate_500m" and public[0]["contact_phone"] == ""
    assert (float(own[0]["lat"]), float(own[0]["lon"])) == (HOAN_KIEM_LAKE["lat"], HOAN_KIEM_LAKE["lon"])
    assert own[0]["location_precision"] == "exact" and own[0]["contact_phone"] == PHONE_E164
    assert public[0]["title"] == need["title"] and public[0]["ward_code"] == "00070"


# -- the verification badge --------------------------------------------------------------------

BADGE = "query ($id: ID!) { node(id: $id) { ... on Need { verification { verifiedAt } } } }"
VERIFY = "mutation ($id: ID!) { verifyNeed(input: {needId: $id}) { errors { code } } }"


def _edits(f: NeedField) -> list[tuple[Any, bool]]:
    """(a new value, whether it takes the badge away) for a need made with need_input(householdSize=4)."""
    if f.kind is Kind.TEXT:
        return [(f"{f.name} changed", True)]
    if f.kind is Kind.COUNT:
        return [(5, True)] if f.resets is Reset.ON_CHANGE else [(3, False), (5, True)]  # base 10 or 4
    if f.kind is Kind.CHOICE:
        return [("MEDICINE", True)] if f.resets is Reset.ON_CHANGE else [("NORMAL", False), ("CRITICAL", True)]
    if f.kind is Kind.PHONE:
        return [("0912 000 999", True)]
    if f.kind is Kind.POINT:
        # The verifier vouched for the place as the public sees it: a move to another cell (~670 m
        # south) takes the badge away, one within the cell must not (it would show that the point moved).
        lon, lat = moved_within_cell((HOAN_KIEM_LAKE["lon"], HOAN_KIEM_LAKE["lat"]), random.Random(5))
        return [({"lat": HOAN_KIEM_LAKE["lat"] - 0.006, "lon": HOAN_KIEM_LAKE["lon"]}, True),
                ({"lat": lat, "lon": lon}, False)]  # fmt: skip
    return [((datetime.now(UTC) + timedelta(days=30)).isoformat(), False)]


def test_an_edit_takes_the_badge_away_exactly_as_resets_says(
    make_api: Any, database_url: str, db: psycopg.Connection[Any]
) -> None:
    api = make_api(require_verification=True)
    import_files(database_url, [BUNDLED / "01_ha_noi.geojson"])
    requester, verifier = sign_up(api), sign_up(api)
    give_role(db, verifier, "VERIFIER", ("00070",))
    for f in INPUT_FIELDS:
        for value, resets in _edits(f):
            base = {"location": HOAN_KIEM_LAKE, "householdSize": 4, "urgency": "HIGH", "category": "FOOD"}
            need_id = create_need(api, requester, **base)["id"]
            assert api.data(VERIFY, {"id": need_id}, verifier)["verifyNeed"]["errors"] == []
            edited = api.data(UPDATE, {"input": {"needId": need_id, f.graphql: value}}, requester)["updateNeed"]
            assert edited["errors"] == [], (f.name, value, edited)
            badge = api.data(BADGE, {"id": need_id}, requester)["node"]["verification"]
            assert (badge is None) == resets, (f.name, value, f.resets)


# -- live snapshots ----------------------------------------------------------------------------


def test_a_snapshot_row_builds_the_same_view_as_the_whole_row(api: Api, db: psycopg.Connection[Any]) -> None:
    """events/snapshots.py reads only need_fields.VIEW_COLUMNS: every viewer's view of it is the view
    of the whole row."""
    owner = sign_up(api)
    create_need(api, owner, details="Ngõ 5", householdSize=4, contactPhone=PHONE)
    with db.cursor(row_factory=namedtuple_row) as cursor:
        narrow = cursor.execute(f"SELECT {select_list('n')} FROM needs n").fetchone()
        whole = cursor.execute(f"SELECT {located_columns(NeedModel.__table__, 'n')} FROM needs n").fetchone()
    for who in (ANONYMOUS, Principal(account_id=account_pk(db, owner))):
        views = [
            NeedView.from_projection(project_need(who, row, active_donor=False), is_mine=False)
            for row in (narrow, whole)
        ]
        assert views[0] == views[1], who
