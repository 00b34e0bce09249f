"""Every read of a need's exact location or phone by someone else is logged, and the requester can see who."""

from __future__ import annotations

import time
from typing import Any

from tests.conftest import Api
from tests.factories import create_need, pledge, sign_up

PRIVATE = "query ($id: ID!) { node(id: $id) { ... on Need { exactLocation { lat } contactPhone } } }"
ONLY_LOCATION = "query ($id: ID!) { node(id: $id) { ... on Need { exactLocation { lat } } } }"
READS = "query ($id: ID!) { node(id: $id) { ... on Need { locationReads { readerName field readAt } } } }"


def _reads(api: Api, need_id: str, token: str, expected: int) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 10
    while True:  # the log is written in batches every 0.2 s
        reads: list[dict[str, Any]] = api.data(READS, {"id": need_id}, token)["node"]["locationReads"]
        if len(reads) >= expected or time.monotonic() > deadline:
            return reads
        time.sleep(0.1)


def test_reads_by_others_are_logged_and_shown_to_the_requester_only(api: Api) -> None:
    requester, donor, stranger = sign_up(api, "Người cần"), sign_up(api, "Người giúp"), sign_up(api, "Người lạ")
    need = create_need(api, requester)
    pledge(api, donor, need["id"], 1)

    assert api.data(PRIVATE, {"id": need["id"]}, requester)["node"]["contactPhone"] is not None  # own read: not logged
    assert api.data(PRIVATE, {"id": need["id"]}, stranger)["node"] == {"exactLocation": None, "contactPhone": None}
    donor_view = api.data(PRIVATE, {"id": need["id"]}, donor)["node"]
    api.data(ONLY_LOCATION, {"id": need["id"]}, donor)  # only what was asked for is logged

    reads = _reads(api, need["id"], requester, expected=3)
    assert donor_view["exactLocation"] is not None and donor_view["contactPhone"] == "+84912345678"
    assert sorted((r["readerName"], r["field"]) for r in reads) == [
        ("Người giúp", "CONTACT_PHONE"), ("Người giúp", "EXACT_LOCATION"), ("Người giúp", "EXACT_LOCATION"),
    ]  # fmt: skip
    assert api.data(READS, {"id": need["id"]}, donor)["node"]["locationReads"] == []
