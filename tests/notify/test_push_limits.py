"""Web Push against abuse: a cap on subscriptions per account (the oldest goes), endpoints inside the
network refused at subscription (IP literals) and, for names that resolve inside, FAILED at the first
push with the subscription dropped. Real PostGIS; the app's own background job."""

from __future__ import annotations

from typing import Any

import psycopg

from aidmap.notify.push import new_vapid_pair
from tests.factories import create_need, pledge, sign_up
from tests.notify.conftest import Gateway, PushService, wait_until
from tests.notify.test_notifications import SUBSCRIBE, _b64, _browser, _fast, _subscribe


def _endpoints(db: psycopg.Connection[Any]) -> list[str]:
    return [row[0].rsplit("/", 1)[1] for row in db.execute("SELECT endpoint FROM push_subscriptions ORDER BY id")]


def test_an_account_keeps_at_most_the_newest_subscriptions(
    make_api: Any, gateway: Gateway, push_service: PushService, db: psycopg.Connection[Any]
) -> None:
    private, _ = new_vapid_pair()
    api = make_api(**_fast(gateway, vapid_private_key=private, push_allow_private=True, max_push_subscriptions=3))
    token, other = sign_up(api, "Chị Hoa"), sign_up(api, "Anh Nam")
    _subscribe(api, other, push_service, "nam")
    for name in ("a", "b", "c", "d", "e"):
        _subscribe(api, token, push_service, name)
    assert sorted(_endpoints(db)) == ["c", "d", "e", "nam"]  # a and b evicted; another account untouched
    _subscribe(api, token, push_service, "c")  # subscribing again makes it the newest
    _subscribe(api, token, push_service, "f")
    assert sorted(_endpoints(db)) == ["c", "e", "f", "nam"]
    count = api.data("{ myNotificationSettings { pushSubscriptions } }", token=token)
    assert count["myNotificationSettings"]["pushSubscriptions"] == 3


def test_endpoints_at_literal_inside_addresses_are_refused_and_change_nothing(
    make_api: Any, db: psycopg.Connection[Any]
) -> None:
    api = make_api(vapid_private_key=new_vapid_pair()[0])
    token = sign_up(api)
    _, public, auth = _browser()
    for endpoint in ("https://127.0.0.1/x", "https://169.254.169.254/latest", "https://[::1]/x",
                     "https://0x7f000001/x", "https://10.1/x", "https://[::ffff:192.168.0.1]/x"):  # fmt: skip
        refused = api.data(SUBSCRIBE, {"input": {"endpoint": endpoint, "p256dh": public, "auth": _b64(auth)}}, token)
        assert refused["subscribePush"] == {"subscribed": False, "errors": [{"field": "endpoint", "code": "INVALID"}]}
    assert db.execute("SELECT count(*) FROM push_subscriptions").fetchone() == (0,)
    fine = api.data(
        SUBSCRIBE, {"input": {"endpoint": "https://push.example/x", "p256dh": public, "auth": _b64(auth)}}, token
    )
    assert fine["subscribePush"] == {"subscribed": True, "errors": []}


def test_a_push_to_a_name_inside_the_network_fails_at_once_and_drops_the_subscription(
    make_api: Any, gateway: Gateway, push_service: PushService, db: psycopg.Connection[Any]
) -> None:
    private, _ = new_vapid_pair()
    # Private addresses not allowed: "localhost" passes at subscription (a name) and is refused on connect.
    api = make_api(**_fast(gateway, vapid_private_key=private))
    requester, donor = sign_up(api, "Chị Mai"), sign_up(api, "Anh Tú")
    _, public, auth = _browser()
    endpoint = f"https://localhost:{push_service.server.server_port}/push/mai"
    made = api.data(SUBSCRIBE, {"input": {"endpoint": endpoint, "p256dh": public, "auth": _b64(auth)}}, requester)
    assert made["subscribePush"] == {"subscribed": True, "errors": []}
    need = create_need(api, requester)
    pledge(api, donor, need["id"], 2)
    query = "SELECT status, attempts, reason FROM notifications WHERE channel = 'PUSH'"
    row = wait_until(
        lambda: (found := db.execute(query).fetchone()) and found[0] != "PENDING" and found, what="the push settled"
    )
    assert row[0] == "FAILED" and row[1] == 1 and "inside this network" in row[2]
    assert db.execute("SELECT count(*) FROM push_subscriptions").fetchone() == (0,)
    assert push_service.received == []
