"""Latency of suggestions over GraphQL/HTTP: suggestedNeeds (for a donor's offer) and suggestedOffers
(for a requester's need), on an existing demo database (bench/run_all.py runs it at each size).

Demo accounts sign in with their phone and the demo password; the offers asked for are the widest
(5 and 10 km, the most candidates), the needs are open ones in the cities.

    AIDMAP_DATABASE_URL=... .venv/bin/python bench/suggestions.py --samples 40
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import start_server, stop_server  # noqa: E402

from aidmap.db.connect import connect  # noqa: E402
from aidmap.demo import DEMO_PASSWORD  # noqa: E402
from aidmap.schema.ids import to_global_id  # noqa: E402

SIGN_IN = "mutation ($input: SignInInput!) { signIn(input: $input) { token errors { message } } }"
NEEDS = "query ($id: ID!) { suggestedNeeds(offerId: $id, first: 10) { score distanceMeters need { id title } } }"
OFFERS = "query ($id: ID!) { suggestedOffers(needId: $id, first: 10) { score distanceMeters offer { id title } } }"


def post(
    client: http.client.HTTPConnection, query: str, variables: dict[str, object], token: str | None = None
) -> dict:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    client.request("POST", "/graphql", body=json.dumps({"query": query, "variables": variables}), headers=headers)
    answer = json.loads(client.getresponse().read())
    assert not answer.get("errors"), answer
    return answer["data"]


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p / 100))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--samples", type=int, default=40, help="offers and needs asked about (each asked 3 times)")
    args = parser.parse_args()
    url = os.environ["AIDMAP_DATABASE_URL"]
    with connect(url) as conn:
        offers = conn.execute(
            "SELECT o.id, a.phone FROM offers o JOIN accounts a ON a.id = o.donor_id "
            "WHERE o.status = 'ACTIVE' AND o.radius_meters >= 5000 ORDER BY o.id LIMIT %s",
            (args.samples,),
        ).fetchall()
        needs = conn.execute(
            "SELECT n.id, a.phone FROM needs n JOIN accounts a ON a.id = n.owner_id "
            "WHERE n.status IN ('OPEN', 'PARTLY_PLEDGED') AND n.filed_by_id IS NULL ORDER BY n.id LIMIT %s",
            (args.samples,),
        ).fetchall()
    server, port = start_server(url)
    try:
        client = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        tokens: dict[str, str] = {}

        def token(phone: str) -> str:
            if phone not in tokens:
                data = post(client, SIGN_IN, {"input": {"phone": phone, "password": DEMO_PASSWORD}})
                tokens[phone] = data["signIn"]["token"]
            return tokens[phone]

        timings: dict[str, list[float]] = {"suggestedNeeds": [], "suggestedOffers": []}
        found: dict[str, list[int]] = {"suggestedNeeds": [], "suggestedOffers": []}
        for name, query, kind, rows in (
            ("suggestedNeeds", NEEDS, "Offer", offers),
            ("suggestedOffers", OFFERS, "Need", needs),
        ):
            for pk, phone in rows:
                for attempt in range(3):
                    started = time.perf_counter()
                    data = post(client, query, {"id": to_global_id(kind, pk)}, token(phone))
                    if attempt:  # the first ask warms the connection's prepared statements
                        timings[name].append((time.perf_counter() - started) * 1000)
                found[name].append(len(data[name]))
    finally:
        stop_server(server)
    for name, values in timings.items():
        if values:
            print(
                f"{name:<15}: p50 {percentile(values, 50):7.2f} ms  p99 {percentile(values, 99):7.2f} ms"
                f"  ({len(found[name])} asked, {sum(found[name]) / len(found[name]):.1f} suggestions each)"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
