"""The compiled path (aidmap/schema/fast/compiled.py) answers exactly as the ordinary pipeline does.

Two real servers on one database, one with the compiled path and one without; every query of
docs/partners.md and a few hundred generated documents (random selections, aliases, fragments,
@include/@skip, variables, operation names, bad input) are sent to both, as anonymous clients,
the requester, a donor with a pledge, an admin and partner keys with and without `private:read`.
The answers (status, data and errors) must be the same JSON, in the same order, and so must the
exact reads each server logged. The compiled server's counter shows it really answered.
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import hashlib
import json
import random
import re
import sys
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from aidmap.app import create_app
from aidmap.cli import partners
from aidmap.db.cursors import urgency_cursor
from aidmap.settings import PROJECT_ROOT, Settings
from tests.conftest import Api, serving
from tests.factories import HANOI, create_need, create_offer, give_role, pledge, sign_up

sys.path.insert(0, str(PROJECT_ROOT / "scripts"))
import partner_docs  # noqa: E402

NEAR_SPOTS = [(0.0, 0.0), (0.004, 0.002), (-0.006, 0.003), (0.01, -0.008), (0.02, 0.015), (-0.002, -0.012)]


@dataclasses.dataclass
class World:
    fast: str
    slow: str
    viewers: dict[str, dict[str, str]]  # name -> headers
    ids: dict[str, str]  # placeholders of the partner guide's variables
    cursor: str


@pytest.fixture
def world(api: Api, settings: Settings, database_url: str, db: Any) -> Iterator[World]:
    requester, donor, admin, operator = (sign_up(api, n) for n in ("Lan", "Minh", "Hà", "Tổng đài"))
    give_role(db, admin, "ADMIN")
    needs = []
    for i, (dlat, dlon) in enumerate(NEAR_SPOTS):
        location = {"lat": HANOI["lat"] + dlat, "lon": HANOI["lon"] + dlon}
        extra: dict[str, Any] = {"householdSize": 3} if i % 2 else {"details": "Ở tầng 3"}
        needs.append(create_need(api, requester, location=location, category=["FOOD", "MEDICINE"][i % 2], **extra))
    create_need(api, operator, location=HANOI, onBehalfOf={"displayName": "Bà Tư", "phone": "0912 000 111"})
    pledged = pledge(api, donor, needs[1]["id"], 1)["pledge"]
    offer = create_offer(api, donor, location={"lat": HANOI["lat"] + 0.003, "lon": HANOI["lon"]})
    create_offer(api, requester, location={"lat": HANOI["lat"] - 0.004, "lon": HANOI["lon"] + 0.002})
    # A partner with private:read, one without, one without needs:read; a need filed through the first.
    all_scopes = ["accounts", "needs:read", "needs:write", "offers:read", "private:read"]
    _, key = partners.create(
        url=database_url, name="Hue-S", scopes=all_scopes, rate_limit_per_minute=100_000, allowed_origins=[]
    )
    _, public_key = partners.create(
        url=database_url, name="Public", scopes=["needs:read", "offers:read"], rate_limit_per_minute=100_000,
        allowed_origins=[],
    )  # fmt: skip
    _, offers_key = partners.create(
        url=database_url, name="Offers", scopes=["offers:read"], rate_limit_per_minute=100_000, allowed_origins=[]
    )
    keyed = {"Authorization": f"Bearer {key}"}
    account = api.http.post(
        "/graphql",
        json={
            "query": 'mutation { signUp(input: {displayName: "Vy", phone: "0977 000 123", password: "a long passphrase"}) { account { id } } }'
        },  # fmt: skip
        headers=keyed,
    ).json()["data"]["signUp"]["account"]["id"]
    acting = {**keyed, "Aidmap-Act-As": account}
    api.http.post(
        "/graphql",
        json={"query": "mutation ($i: CreateNeedInput!) { createNeed(input: $i) { need { id } } }",
              "variables": {"i": {"category": "FOOD", "title": "Sữa", "quantity": 2, "unit": "hộp", "urgency": "LOW",
                                  "location": {"lat": HANOI["lat"] + 0.001, "lon": HANOI["lon"]},
                                  "contactPhone": "0912 222 333"}}},
        headers=acting,
    ).raise_for_status()  # fmt: skip
    cursor = api.data(
        "query ($n: GeoPointInput!) { needs(near: $n, radiusMeters: 5000, first: 2) { pageInfo { endCursor } } }",
        {"n": HANOI},
    )["needs"]["pageInfo"]["endCursor"]
    viewers = {
        "anonymous": {},
        "graphql-response": {"Accept": "application/graphql-response+json"},
        "requester": {"Authorization": f"Bearer {requester}"},
        "donor": {"Authorization": f"Bearer {donor}"},
        "admin": {"Authorization": f"Bearer {admin}"},
        "partner": keyed,
        "partner acting": acting,
        "public partner": {"Authorization": f"Bearer {public_key}"},
        "offers partner": {"Authorization": f"Bearer {offers_key}"},
    }
    ids = {"$NEED_ID": needs[0]["id"], "$OFFER_ID": offer["id"], "$MY_NEED_ID": needs[1]["id"],
           "$PLEDGE_ID": pledged["id"], "$WEBHOOK_ID": "V2ViaG9vazox"}  # fmt: skip
    with contextlib.ExitStack() as stack:
        fast = stack.enter_context(serving(create_app(settings, database_url=database_url)))
        slow_settings = dataclasses.replace(settings, compiled_queries=False)
        slow = stack.enter_context(serving(create_app(slow_settings, database_url=database_url)))
        yield World(fast=fast, slow=slow, viewers=viewers, ids=ids, cursor=cursor)


def _send(base: str, body: dict[str, Any], headers: dict[str, str], method: str = "POST") -> tuple[int, str, str]:
    if method == "GET":
        params = {k: v if isinstance(v, str) else json.dumps(v) for k, v in body.items()}
        response = httpx.get(base + "/graphql", params=params, headers=headers)
    else:
        response = httpx.post(base + "/graphql", json=body, headers=headers)
    # Byte for byte once parsed: the same keys in the same order, the same values; the same media type.
    body = json.dumps(response.json(), ensure_ascii=False)
    return response.status_code, response.headers.get("content-type"), body


def _compiled_count(base: str) -> float:
    for line in httpx.get(base + "/metrics").text.splitlines():
        if line.startswith("aidmap_graphql_compiled_requests_total"):
            return float(line.split()[-1])
    raise AssertionError("no compiled-path counter in /metrics")


def _reads(db: Any, after_id: int) -> collections.Counter[tuple[Any, ...]]:
    rows = db.execute(
        "SELECT need_id, reader_id, partner_id, field, channel FROM location_reads WHERE id > %s", (after_id,)
    ).fetchall()
    return collections.Counter(tuple(r) for r in rows)


def _settled_reads(db: Any, after_id: int) -> collections.Counter[tuple[Any, ...]]:
    """The reads logged after `after_id`, once the servers' access logs (flushed every 0.2 s) are written."""
    seen, stable_since = _reads(db, after_id), time.monotonic()
    while time.monotonic() - stable_since < 0.8:
        time.sleep(0.1)
        now = _reads(db, after_id)
        if now != seen:
            seen, stable_since = now, time.monotonic()
    return seen


def _last_read_id(db: Any) -> int:
    return int(db.execute("SELECT coalesce(max(id), 0) FROM location_reads").fetchone()[0])


def _compare(world: World, db: Any, cases: list[tuple[str, dict[str, Any], str]]) -> int:
    """Send every (viewer, body, method) to both servers; returns how many the compiled path answered.

    The answers are compared case by case, each sent to the compiled server and at once to the
    other (suggestion scores, which neither path compiles, move with the time a need has waited);
    the exact reads each server logged, by sending all of them to one server, then to the other."""
    before = _compiled_count(world.fast)
    for viewer, body, method in cases:
        fast = _send(world.fast, body, world.viewers[viewer], method)
        slow = _send(world.slow, body, world.viewers[viewer], method)
        assert fast == slow, f"{viewer} {method} {json.dumps(body, ensure_ascii=False)}"
    compiled = _compiled_count(world.fast) - before
    logged = []
    for server in (world.fast, world.slow):
        _settled_reads(db, 0)  # what was sent before is written before the mark
        mark = _last_read_id(db)
        for viewer, body, method in cases:
            _send(server, body, world.viewers[viewer], method)
        logged.append(_settled_reads(db, mark))
    assert logged[0] == logged[1]
    return int(compiled)


def _replace(text: str, ids: dict[str, str]) -> str:
    for placeholder, value in ids.items():
        text = text.replace(f'"{placeholder}"', json.dumps(value))
    return text


def test_every_query_of_the_partner_guide_answers_the_same_on_both_paths(world: World, db: Any) -> None:
    queries = [e for e in partner_docs.EXAMPLES if e.kind == "query"]
    assert {"needs", "offers"} <= {e.field for e in queries}
    cases = [
        (viewer, {"query": e.document, "variables": json.loads(_replace(json.dumps(e.variables), world.ids))}, "POST")
        for e in queries
        for viewer in world.viewers
    ]
    compiled = _compare(world, db, cases)
    # needs and offers compile, for every viewer but the key without needs:read (refused the ordinary way).
    assert compiled == (len(world.viewers) - 1) + len(world.viewers)


FRAGMENTS_DOC = """
query Page($near: GeoPointInput!, $first: Int = 4, $yes: Boolean!, $no: Boolean! = false) {
  ...Root
  again: needs(near: $near, radiusMeters: 2500, first: $first) @skip(if: $no) {
    edges { node { ... on Need { id isMine exactLocation @include(if: $yes) { lat lon } } } }
  }
}
fragment Root on Query {
  __typename
  needs(near: $near, radiusMeters: 2500, first: $first) {
    edges { cursor ...Edge node { title } }
    pageInfo { ...Paging }
  }
}
fragment Edge on NeedEdge { distanceMeters node { id title contactPhone @skip(if: $no) } }
fragment Paging on PageInfo { hasNextPage endCursor __typename }
query Other { __typename }
"""

SIMPLE = "query ($n: GeoPointInput!) { needs(near: $n, radiusMeters: 5000, first: 3) { edges { node { id } } } }"
TRIAGE_DOC = """query ($n: GeoPointInput!, $o: NeedOrder!, $u: [Urgency!], $a: String) {
  needs(near: $n, radiusMeters: 5000, first: 2, orderBy: $o, urgencies: $u, after: $a) {
    edges { cursor distanceMeters node { id urgency } } pageInfo { hasNextPage endCursor } } }"""


def test_fragments_directives_and_operation_names_answer_the_same(world: World, db: Any) -> None:
    near = {"lat": HANOI["lat"], "lon": HANOI["lon"]}
    bodies = [
        {"query": FRAGMENTS_DOC, "operationName": "Page", "variables": {"near": near, "yes": True}},
        {"query": FRAGMENTS_DOC, "operationName": "Page", "variables": {"near": near, "yes": False, "no": True}},
        {"query": FRAGMENTS_DOC, "operationName": "Page", "variables": {"near": near, "yes": True, "first": 1}},
        {"query": FRAGMENTS_DOC, "operationName": "Other"},
        {"query": FRAGMENTS_DOC, "variables": {"near": near, "yes": True}},  # two operations, none named
        {"query": FRAGMENTS_DOC, "operationName": "Nope", "variables": {"near": near, "yes": True}},
        {"query": FRAGMENTS_DOC, "operationName": "Page", "variables": {"near": near}},  # $yes missing
        {"query": FRAGMENTS_DOC, "operationName": "Page", "variables": {"near": near, "yes": None}},
        {"query": FRAGMENTS_DOC, "operationName": "Page", "variables": {"near": near, "yes": True, "first": 101}},
        {"query": SIMPLE, "variables": {"n": near}},
        {"query": SIMPLE, "variables": {"n": {"lat": 91, "lon": 0}}},
        {"query": SIMPLE, "variables": {"n": {"lat": "north", "lon": 0}}},
        {"query": SIMPLE, "variables": "not an object"},
        {
            "query": SIMPLE.replace("first: 3", "first: 3, after: $a").replace("!)", "!, $a: String)"),
            "variables": {"n": near, "a": world.cursor},
        },
        {"query": SIMPLE.replace("first: 3", 'first: 3, after: "bm9wZQ"'), "variables": {"n": near}},
        {"query": SIMPLE.replace("first: 3", "first: 3, statuses: [PENDING_VERIFICATION]"), "variables": {"n": near}},
        {
            "query": SIMPLE.replace("first: 3", "first: 3, statuses: [PLEDGED, PARTLY_PLEDGED]"),
            "variables": {"n": near},
        },
        {"query": SIMPLE.replace("5000", "50001"), "variables": {"n": near}},
        {"query": SIMPLE.replace("id }", "id ward { name } }"), "variables": {"n": near}},  # not compiled
        {"query": SIMPLE.replace("id }", "id nope }"), "variables": {"n": near}},  # invalid
        {"query": SIMPLE.replace("{ needs", "{ needs {"), "variables": {"n": near}},  # does not parse
        # Over the cost limit: 100 needs of 51 fields.
        {
            "query": SIMPLE.replace("first: 3", "first: 100").replace(
                "id }", " ".join(f"a{i}: id" for i in range(50)) + " }"
            ),
            "variables": {"n": near},
        },  # fmt: skip
        {"query": "{ __typename }"},
        # Most urgent first, filtered by urgency, and its own cursors (a distance cursor is refused alike).
        {"query": TRIAGE_DOC, "variables": {"n": near, "o": "URGENCY"}},
        {"query": TRIAGE_DOC, "variables": {"n": near, "o": "URGENCY", "u": ["HIGH", "LOW"]}},
        {"query": TRIAGE_DOC, "variables": {"n": near, "o": "DISTANCE", "u": ["CRITICAL", "NORMAL"]}},
        {"query": TRIAGE_DOC, "variables": {"n": near, "o": "URGENCY", "a": world.cursor}},
        *(
            {"query": TRIAGE_DOC, "variables": {"n": near, "o": "URGENCY", "a": urgency_cursor(pk, level)}}
            for pk, level in db.execute("SELECT id, urgency FROM needs ORDER BY id LIMIT 3").fetchall()
        ),
        {"query": TRIAGE_DOC, "variables": {"n": near, "o": "URGENCY", "a": urgency_cursor(1, "SOON")}},
        {
            "query": "query ($n: GeoPointInput!) { __typename needs(near: $n, radiusMeters: 900, first: 2) { __typename } }",
            "variables": {"n": near},
        },  # fmt: skip
    ]
    cases = [
        (viewer, body, "POST") for body in bodies for viewer in ("anonymous", "admin", "partner", "offers partner")
    ]
    cases += [("donor", bodies[0], "GET"), ("anonymous", bodies[9], "GET")]
    assert _compare(world, db, cases) > 0


def test_a_document_seen_before_is_answered_by_the_compiled_path_with_its_reads_logged(world: World, db: Any) -> None:
    doc = (
        "query ($n: GeoPointInput!) { needs(near: $n, radiusMeters: 5000, first: 20) "
        "{ edges { node { id a: exactLocation { lat } b: exactLocation { lon } contactPhone } } } }"
    )
    _settled_reads(db, 0)
    before, mark = _compiled_count(world.fast), _last_read_id(db)
    status, _, body = _send(world.fast, {"query": doc, "variables": {"n": HANOI}}, world.viewers["admin"])
    assert status == 200
    assert _compiled_count(world.fast) == before + 1
    edges = json.loads(body)["data"]["needs"]["edges"]
    exact = [e for e in edges if e["node"]["a"] is not None]
    assert len(exact) == len(edges) > 0  # an admin sees every exact point
    reads = _settled_reads(db, mark)
    fields = collections.Counter(field for (_, _, _, field, _), n in reads.items() for _ in range(n))
    # Each aliased exactLocation is one read, as on the ordinary path; phones only where there is one.
    assert fields["EXACT_LOCATION"] == 2 * len(edges)
    assert fields["CONTACT_PHONE"] == sum(1 for e in edges if e["node"]["contactPhone"] is not None)
    # A stranger gets no exact point, and nothing is logged for them.
    mark = _last_read_id(db)
    status, _, body = _send(world.fast, {"query": doc, "variables": {"n": HANOI}}, world.viewers["anonymous"])
    assert {(e["node"]["a"], e["node"]["contactPhone"]) for e in json.loads(body)["data"]["needs"]["edges"]} == {
        (None, None)
    }
    assert _settled_reads(db, mark) == collections.Counter()


def test_persisted_queries_take_the_compiled_path_and_registered_only_keys_stay_held(
    world: World, db: Any, database_url: str
) -> None:
    digest = hashlib.sha256(SIMPLE.encode()).hexdigest()
    extension = {"persistedQuery": {"version": 1, "sha256Hash": digest}}
    cases = [
        ("anonymous", {"extensions": extension, "variables": {"n": HANOI}}, "POST"),  # not stored yet
        ("anonymous", {"query": SIMPLE, "extensions": extension, "variables": {"n": HANOI}}, "POST"),
        ("anonymous", {"extensions": extension, "variables": {"n": HANOI}}, "POST"),
        ("partner", {"extensions": extension, "variables": {"n": HANOI}}, "GET"),
    ]
    assert _compare(world, db, cases) == 3
    _, held_key = partners.create(
        url=database_url, name="Held", scopes=["needs:read"], rate_limit_per_minute=100_000, allowed_origins=[],
        registered_queries_only=True,
    )  # fmt: skip
    world.viewers["held"] = {"Authorization": f"Bearer {held_key}"}
    held = [("held", {"query": SIMPLE, "variables": {"n": HANOI}}, "POST"),
            ("held", {"extensions": extension, "variables": {"n": HANOI}}, "POST")]  # fmt: skip
    assert _compare(world, db, held) == 0


# -- generated documents

NEED_LEAVES = ["id", "category", "title", "details", "quantity", "unit", "urgency", "householdSize", "status",
               "quantityPledged", "quantityDelivered", "expiresAt", "createdAt", "updatedAt", "isMine", "contactPhone",
               "__typename"]  # fmt: skip
OFFER_LEAVES = ["id", "category", "title", "details", "quantity", "quantityPledged", "unit", "radiusMeters",
                "availableUntil", "status", "createdAt", "isMine", "__typename"]  # fmt: skip
NOT_PLAIN = {"needs": ["filedByMe", "ward { name }", "pledges { id }", "verification { verifiedAt }"],
             "offers": ["donor { displayName }"]}  # fmt: skip
CONDITIONS = ["@include(if: $yes)", "@include(if: $no)", "@skip(if: $yes)", "@skip(if: $no)", "@include(if: true)",
              "@skip(if: true)"]  # fmt: skip


class Generator:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.triage = random.Random(seed + 1)
        self.aliases = 0

    def decorate(self, selection: str) -> str:
        """Sometimes an alias, a condition or an inline fragment around a selection."""
        rng = self.rng
        if rng.random() < 0.2 and self.aliases < 20 and not selection.startswith("..."):
            self.aliases += 1
            selection = f"x{self.aliases}: {selection}"
        if rng.random() < 0.2:
            head, _, rest = selection.partition(" {")
            selection = f"{head} {rng.choice(CONDITIONS)}" + (f" {{{rest}" if rest else "")
        return selection

    def point(self) -> str:
        parts = self.rng.sample(["lat", "lon", "__typename"], self.rng.randint(1, 3))
        return "{ " + " ".join(self.decorate(p) for p in parts) + " }"

    def node(self, kind: str, type_name: str) -> str:
        rng = self.rng
        leaves = NEED_LEAVES if kind == "needs" else OFFER_LEAVES
        parts = [self.decorate(f) for f in rng.sample(leaves, rng.randint(1, 6))]
        for location in ("approximateLocation", "exactLocation"):
            if rng.random() < 0.6:
                parts.append(self.decorate(f"{location} {self.point()}"))
        if kind == "needs" and rng.random() < 0.4:
            parts.append(self.decorate("contactPhone"))
        if rng.random() < 0.1:
            parts.append(rng.choice(NOT_PLAIN[kind]))
        if rng.random() < 0.2:
            parts = [f"... on {type_name} {{ {' '.join(parts)} }}"]
        if rng.random() < 0.15:
            parts.append(parts[0])  # the same field twice: merged
        return "{ " + " ".join(parts) + " }"

    def search(self, kind: str, alias: str | None = None) -> str:
        rng = self.rng
        type_name = "Need" if kind == "needs" else "Offer"
        args = [
            "near: $near",
            f"radiusMeters: {rng.choice([300, 1500, 3000, 5000])}",
            f"first: {rng.choice([1, 2, 5, 20, '$first'])}",
        ]
        if rng.random() < 0.5:
            args.append(rng.choice(["categories: [FOOD]", "categories: [FOOD, MEDICINE]", "categories: $cats"]))
        if kind == "needs" and rng.random() < 0.2:
            args.append(rng.choice(["statuses: [OPEN, PARTLY_PLEDGED]", "statuses: [PLEDGED, OPEN]"]))
        if rng.random() < 0.15:
            args.append("after: $after")
        if kind == "needs" and self.triage.random() < 0.3:  # its own generator: the other documents stay as they were
            args.append(
                self.triage.choice(
                    [
                        "orderBy: URGENCY",
                        "orderBy: DISTANCE",
                        "urgencies: [HIGH, CRITICAL]",
                        "orderBy: URGENCY, urgencies: [NORMAL, LOW]",
                        "orderBy: $order",
                    ]
                )
            )
        edge = [self.decorate(f) for f in rng.sample(["cursor", "distanceMeters", "__typename"], rng.randint(0, 3))]
        edge.append(self.decorate(f"node {self.node(kind, type_name)}"))
        parts = [self.decorate(f"edges {{ {' '.join(edge)} }}")]
        if rng.random() < 0.5:
            page = rng.sample(["hasNextPage", "endCursor", "__typename"], rng.randint(1, 3))
            parts.append(self.decorate(f"pageInfo {{ {' '.join(page)} }}"))
        if rng.random() < 0.2:
            parts.append("__typename")
        field = f"{kind}({', '.join(args)}) {{ {' '.join(parts)} }}"
        return f"{alias}: {field}" if alias else self.decorate(field)

    def document(self) -> tuple[str, str | None]:
        self.aliases = 0
        rng = self.rng
        roots = [self.search(rng.choice(["needs", "offers"]))]
        if rng.random() < 0.3:
            roots.append(self.search(rng.choice(["needs", "offers"]), alias="second"))
        if rng.random() < 0.2:
            roots.append("__typename")
        body = " ".join(roots)
        # Only the variables it uses (an unused one makes the document invalid), some with defaults.
        used = sorted(set(re.findall(r"\$(\w+)", body)))
        variables = ", ".join(f"${name}: {VARIABLE_TYPES[name]}" for name in used)
        if rng.random() < 0.3:
            return f"query Wanted({variables}) {{ {body} }} query Other {{ __typename }}", "Wanted"
        return f"query ({variables}) {{ {body} }}", None


VARIABLE_TYPES = {"near": "GeoPointInput!", "first": "Int = 3", "order": "NeedOrder! = URGENCY", "cats": "[NeedCategory!]", "after": "String",
                  "yes": "Boolean = true", "no": "Boolean! = false"}  # fmt: skip


def test_generated_documents_answer_the_same_on_both_paths(world: World, db: Any) -> None:
    generator = Generator(seed=16)
    viewers = ["anonymous", "requester", "donor", "admin", "partner", "partner acting", "public partner"]
    cases = []
    for i in range(210):
        document, operation = generator.document()
        spot = NEAR_SPOTS[i % len(NEAR_SPOTS)]
        variables: dict[str, Any] = {"near": {"lat": HANOI["lat"] + spot[0], "lon": HANOI["lon"] + spot[1]}}
        if i % 3 == 0:
            variables.update(yes=False, no=True, first=4, cats=["MEDICINE", "FOOD"])
        if i % 4 == 0:
            variables["after"] = world.cursor
        body: dict[str, Any] = {"query": document, "variables": variables}
        if operation is not None:
            body["operationName"] = operation
        cases.append((viewers[i % len(viewers)], body, "POST"))
    # Most of them are compiled: the comparison is of the two paths, not of one path with itself.
    compiled = _compare(world, db, cases)
    assert compiled > len(cases) // 2
