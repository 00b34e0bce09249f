"""Notifications outside the socket, end to end: the app's own background job reads the outbox and
sends SMS to a gateway and Web Push to a push service, both played by servers on 127.0.0.1; real
PostGIS. Nothing here waits for a fixed time: every wait is for a state the server reaches."""

from __future__ import annotations

import base64
import json
import logging
import os
import random
import re
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import http_ece
import psycopg
import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from aidmap.app import create_app
from aidmap.notify.push import new_vapid_pair
from tests.conftest import serving
from tests.factories import CREATE_NEED as PLAIN_CREATE_NEED
from tests.factories import HANOI, SIGN_UP, account_pk, create_need, need_input, pledge, sign_up
from tests.live import LiveClient
from tests.notify.conftest import Gateway, PushService, wait_until
from tests.schema.test_privacy_invariance import moved_within_cell

CREATE_NEED = PLAIN_CREATE_NEED.replace("createNeed(input: $input) {", "createNeed(input: $input) { claimCode", 1)
CANCEL = "mutation ($id: ID!) { cancelPledge(input: {pledgeId: $id}) { pledge { status } errors { code } } }"
CONFIRM = "mutation ($id: ID!) { confirmDelivery(input: {pledgeId: $id}) { pledge { status } errors { code } } }"
SEND = "mutation ($id: ID!, $body: String!) { sendMessage(input: {pledgeId: $id, body: $body}) { errors { code } } }"
SETTINGS = """mutation ($input: NotificationSettingsInput!) { setNotificationSettings(input: $input) {
  settings { language timeZone quietHoursStart quietHoursEnd smsKinds pushKinds pushSubscriptions }
  errors { field code message } } }"""
SUBSCRIBE = """mutation ($input: PushSubscriptionInput!) { subscribePush(input: $input) {
  subscribed errors { field code } } }"""
MINE = "{ myNotifications(first: 50) { kind channel status title body attempts reason sentAt } }"
EVERY_KIND = [
    "PLEDGE_CREATED",
    "PLEDGE_CANCELLED",
    "PLEDGE_DELIVERED",
    "MESSAGE_SENT",
    "NEED_EXPIRING",
    "HELP_ASKED",
    "NEED_PRIVATE_UPDATED",
]
PAGE = "https://aidmap.example.vn"
# A phone number of 9 or more digits, however it is spaced, or coordinates.
PHONE_OR_POINT = re.compile(r"(?:\d[\s.-]?){9,}|\d+\.\d{3,}")


def _fast(gateway: Gateway, **extra: Any) -> dict[str, Any]:
    return {**gateway.settings(), "notify_interval_seconds": 0.05, "notify_retry_seconds": 0.05,
            "quiet_hours": "00:00-00:00", "public_url": PAGE, **extra}  # fmt: skip


def _file_for(api: Any, operator: str, phone: str, **extra: Any) -> dict[str, Any]:
    behalf = {"displayName": "Bà Lan", "phone": phone}
    variables = {"input": need_input(onBehalfOf=behalf, location=HA_NOI_EXACT, **extra)}
    filed: dict[str, Any] = api.data(CREATE_NEED, variables, operator)["createNeed"]
    assert filed["errors"] == [], filed
    return filed["need"]


HA_NOI_EXACT = {"lat": 21.028511, "lon": 105.854167}


def _texts(gateway: Gateway, to: str) -> list[str]:
    """What the gateway got for this phone, claim codes left out (they have their own tests)."""
    return [
        r["form"]["Body"]
        for r in gateway.received
        if r["form"]["To"] == to and "Ma nhan" not in r["form"]["Body"] and "Claim code" not in r["form"]["Body"]
    ]


def _rows(db: psycopg.Connection[Any], where: str = "true", params: tuple[Any, ...] = ()) -> list[Any]:
    return db.execute(
        f"SELECT kind, channel, status, recipient, reason, attempts, body FROM notifications WHERE {where} ORDER BY id",
        params,
    ).fetchall()


def _settled(db: psycopg.Connection[Any], count: int) -> list[Any]:
    """Until `count` notifications exist and none is PENDING."""
    return wait_until(
        lambda: (rows := _rows(db)) and len(rows) >= count and all(r[2] != "PENDING" for r in rows) and rows,
        what=f"{count} settled notifications",
    )


def test_a_beneficiary_is_texted_once_per_event_in_their_language_without_location_or_phone(
    make_api: Any, gateway: Gateway, db: psycopg.Connection[Any]
) -> None:
    # 6 texts and the claim code to one phone: above the default daily cap of 5 (its own test).
    api = make_api(**_fast(gateway, sms_per_person_per_day=10))
    operator, donor = sign_up(api, "Tổng đài"), sign_up(api, "Nhà hảo tâm")
    need = _file_for(api, operator, "0955 000 101", contactPhone="0955000101", title="Gạo, 12 Lê Lợi, 0955000101")
    english = _file_for(api, operator, "+44 7700 900123")
    made = pledge(api, donor, need["id"], 2)["pledge"]
    pledge(api, donor, english["id"], 1)
    assert api.data(CANCEL, {"id": made["id"]}, donor)["cancelPledge"]["errors"] == []
    again = pledge(api, donor, need["id"], 3)["pledge"]
    assert api.data(CONFIRM, {"id": again["id"]}, operator)["confirmDelivery"]["errors"] == []
    _settled(db, 5)

    vietnamese = _texts(gateway, "+84955000101")
    assert vietnamese == [
        f"aidmap: Mot nha hao tam vua nhan giup yeu cau thuc pham cua ban. {PAGE}/#need={need['id']}",
        f"aidmap: Nha hao tam da huy loi nhan giup yeu cau thuc pham cua ban. {PAGE}/#need={need['id']}",
        f"aidmap: Mot nha hao tam vua nhan giup yeu cau thuc pham cua ban. {PAGE}/#need={need['id']}",
        f"aidmap: Yeu cau thuc pham cua ban da duoc danh dau la da nhan. {PAGE}/#need={need['id']}",
    ]
    assert _texts(gateway, "+447700900123") == [
        f"aidmap: A donor has just pledged to your food request. {PAGE}/#need={english['id']}"
    ]
    for body in vietnamese + _texts(gateway, "+447700900123"):
        assert len(body) <= 160 and body.isascii()
        assert not PHONE_OR_POINT.search(body.replace(PAGE, "")), body  # no phone, no coordinates
        assert "Le Loi" not in body and "Gao" not in body  # nor the title a person typed
    # The donor (an account without SMS, no browser subscribed) got nothing by SMS.
    assert {r["form"]["To"] for r in gateway.received} == {"+84955000101", "+447700900123"}

    # At least once, never twice: replaying the whole outbox queues nothing new and sends nothing.
    sent = len(gateway.received)
    db.execute("UPDATE notification_cursor SET seq = 0")
    wait_until(lambda: db.execute("SELECT seq FROM notification_cursor").fetchone()[0] > 0, what="a rescan")
    pledge(api, donor, need["id"], 1)  # a new event behind the replayed ones
    wait_until(lambda: len(gateway.received) > sent, what="the new pledge's text")
    _settled(db, 6)
    assert len(gateway.received) == sent + 1 and len(_rows(db)) == 6
    metrics = api.http.get("/metrics").text
    assert 'aidmap_notifications_total{channel="SMS",outcome="delivered"} 6.0' in metrics


MARK = "mutation ($id: ID!) { markDelivered(input: {pledgeId: $id}) { errors { code } } }"
CLAIM = "mutation ($input: ClaimNeedInput!) { claimNeed(input: $input) { errors { code } } }"


def test_a_donor_saying_delivered_asks_whoever_confirms_and_texts_no_one_who_cannot(
    make_api: Any, gateway: Gateway, db: psycopg.Connection[Any]
) -> None:
    api = make_api(**_fast(gateway, sms_per_person_per_day=10))
    operator, donor = sign_up(api, "Tổng đài"), sign_up(api, "Nhà hảo tâm")
    filed = [
        api.data(
            CREATE_NEED,
            {"input": need_input(onBehalfOf={"displayName": "Bà Lan", "phone": phone}, location=HA_NOI_EXACT)},
            operator,
        )["createNeed"]  # fmt: skip
        for phone in ("0955 000 201", "0955 000 202")
    ]
    # The second person claims their need: they confirm from then on. The first has no account yet:
    # the operator confirms for them, so a text asking them to confirm would ask the wrong person.
    person = api.data(SIGN_UP, {"input": {"displayName": "Lan", "phone": "0955000202", "password": "mật khẩu dài"}})[
        "signUp"
    ]["token"]
    claim = {"needId": filed[1]["need"]["id"], "code": filed[1]["claimCode"]}
    assert api.data(CLAIM, {"input": claim}, person)["claimNeed"]["errors"] == []
    for f in filed:
        made = pledge(api, donor, f["need"]["id"], 1)["pledge"]
        assert api.data(MARK, {"id": made["id"]}, donor)["markDelivered"]["errors"] == []
    wait_until(lambda: any("xac nhan" in t for t in _texts(gateway, "+84955000202")), what="the text asking to confirm")
    _settled(db, len(_rows(db)))

    url = f"{PAGE}/#need={filed[1]['need']['id']}"
    assert _texts(gateway, "+84955000202")[-1] == (
        f"aidmap: Nha hao tam bao da giao yeu cau thuc pham cua ban. Mo lien ket de xac nhan. {url}"
    )
    assert not any("xac nhan" in text for text in _texts(gateway, "+84955000201"))
    asked = [(r[1], r[3]) for r in _rows(db, "kind = 'PLEDGE_MARKED_DELIVERED'")]
    # By SMS only the person who claimed; the operator is asked on the page (Web Push, when a browser
    # of theirs is subscribed), the donor not at all.
    claimed_by = db.execute("SELECT id FROM accounts WHERE phone = '+84955000202'").fetchone()[0]
    assert [a for a in asked if a[0] == "SMS"] == [("SMS", f"account:{claimed_by}")], asked


UPDATE_NEED = "mutation ($input: UpdateNeedInput!) { updateNeed(input: $input) { errors { code } } }"


def test_a_donor_on_the_way_is_told_the_address_changed_and_no_one_else_is(
    make_api: Any, gateway: Gateway, db: psycopg.Connection[Any]
) -> None:
    """The requester moves the exact point within its cell (nothing public changes, so no one
    watching the area hears of it): the donor whose pledge is open is texted to look again; one
    who cancelled, and one who never pledged, are not."""
    api = make_api(**_fast(gateway))
    requester = sign_up(api, "Chị Hoa")
    donors = {name: sign_up(api, name) for name in ("on the way", "cancelled", "stranger")}
    for token in donors.values():
        chosen = api.data(SETTINGS, {"input": {"smsKinds": EVERY_KIND, "language": "en"}}, token)
        assert chosen["setNotificationSettings"]["errors"] == []
    need = create_need(api, requester, location=HA_NOI_EXACT)
    pledge(api, donors["on the way"], need["id"], 1)
    gone = pledge(api, donors["cancelled"], need["id"], 1)["pledge"]
    assert api.data(CANCEL, {"id": gone["id"]}, donors["cancelled"])["cancelPledge"]["errors"] == []
    lon, lat = moved_within_cell((HA_NOI_EXACT["lon"], HA_NOI_EXACT["lat"]), random.Random(1))
    moved = {"lat": lat, "lon": lon}
    assert api.data(UPDATE_NEED, {"input": {"needId": need["id"], "location": moved}}, requester)["updateNeed"][
        "errors"] == []  # fmt: skip
    told = wait_until(lambda: _rows(db, "kind = 'NEED_PRIVATE_UPDATED' AND status = 'DELIVERED'"), what="the text")
    _settled(db, len(_rows(db)))

    phone = {name: db.execute("SELECT phone FROM accounts WHERE id = %s", (account_pk(db, t),)).fetchone()[0]
             for name, t in donors.items()}  # fmt: skip
    assert _texts(gateway, phone["on the way"])[-1] == (
        "aidmap: The food request you pledged to has a new address or phone. Open the link before you go. "
        f"{PAGE}/#need={need['id']}"
    )
    assert [r[3] for r in told] == [f"account:{account_pk(db, donors['on the way'])}"]
    assert not any("new address" in t for t in _texts(gateway, phone["cancelled"]) + _texts(gateway, phone["stranger"]))
    # Nothing public changed: the need's last event is the private one.
    last = db.execute("SELECT kind FROM events WHERE kind LIKE 'NEED_%' ORDER BY seq DESC LIMIT 1").fetchone()
    assert last == ("NEED_PRIVATE_UPDATED",)


def _quiet_now(zone: str) -> tuple[str, str]:
    """Quiet hours from an hour ago to an hour from now, in that zone."""
    local = datetime.now(ZoneInfo(zone))
    return (local - timedelta(hours=1)).strftime("%H:%M"), (local + timedelta(hours=1)).strftime("%H:%M")


AVAILABLE = """mutation ($input: SetAvailabilityInput!) { setAvailability(input: $input) { errors { code } } }"""
REQUEST = """mutation ($input: RequestHelpNowInput!) { requestHelpNow(input: $input) { errors { code } } }"""


def test_quiet_hours_hold_except_for_urgent_instant_help(
    make_api: Any, gateway: Gateway, db: psycopg.Connection[Any]
) -> None:
    api = make_api(**_fast(gateway))
    requester, donor = sign_up(api, "Chị Hoa"), sign_up(api, "Anh Nam")
    zone = "Asia/Tokyo"
    start, end = _quiet_now(zone)
    for token in (requester, donor):
        chosen = api.data(
            SETTINGS,
            {"input": {"smsKinds": EVERY_KIND, "timeZone": zone, "quietHoursStart": start, "quietHoursEnd": end,
                       "language": "en"}},
            token,
        )["setNotificationSettings"]  # fmt: skip
        assert chosen["errors"] == [] and chosen["settings"]["quietHoursStart"] == start
    calm = create_need(api, requester, urgency="NORMAL")
    pledge(api, donor, calm["id"], 1)
    # The requester's text waits for the end of their quiet hours, with the reason shown to them.
    held = wait_until(lambda: [r for r in _rows(db) if r[4] and r[4].startswith("quiet hours")], what="a deferral")
    assert held[0][:3] == ("PLEDGE_CREATED", "SMS", "PENDING") and held[0][4] == f"quiet hours until {end}"

    # Instant help for an urgent need goes through at once (its own lane, not behind the held text).
    api.data(
        AVAILABLE, {"input": {"available": True, "categories": ["FOOD"], "near": HANOI, "radiusMeters": 5000}}, donor
    )
    urgent = create_need(api, requester, urgency="CRITICAL")
    assert api.data(REQUEST, {"input": {"needId": urgent["id"]}}, requester)["requestHelpNow"]["errors"] == []
    [asked] = wait_until(lambda: [r for r in gateway.received if "needs help now" in r["form"]["Body"]], what="the ask")
    assert asked["form"]["Body"].startswith("aidmap: Someone near you needs help now (food).")
    assert not [r for r in gateway.received if "pledged" in r["form"]["Body"]]  # still held
    mine = api.data(MINE, token=requester)["myNotifications"]
    assert [(n["kind"], n["status"], n["reason"]) for n in mine] == [
        ("PLEDGE_CREATED", "PENDING", f"quiet hours until {end}")
    ]

    # Once the quiet hours are over (moved here into the past), the held text goes.
    # (Settings first: a job run between the two would otherwise defer it again.)
    api.data(SETTINGS, {"input": {"quietHoursStart": "00:00", "quietHoursEnd": "00:00"}}, requester)
    db.execute("UPDATE notifications SET next_attempt_at = now() WHERE status = 'PENDING'")
    wait_until(lambda: [r for r in gateway.received if "pledged" in r["form"]["Body"]], what="the held text")


def test_the_daily_cap_holds(make_api: Any, gateway: Gateway, db: psycopg.Connection[Any]) -> None:
    api = make_api(**_fast(gateway, sms_per_person_per_day=2))
    operator, donor = sign_up(api, "Tổng đài"), sign_up(api)
    need = _file_for(api, operator, "0955 000 201")
    for _ in range(4):
        pledge(api, donor, need["id"], 1)
    rows = _settled(db, 4)
    # The claim code was the first of the phone's 2 texts today.
    assert [r[2] for r in rows] == ["DELIVERED", "SKIPPED", "SKIPPED", "SKIPPED"]
    assert rows[1][4] == "daily SMS limit (2) reached"
    assert len(_texts(gateway, "+84955000201")) == 1
    assert len(gateway.received) == 2


def test_the_daily_cap_is_per_phone_however_many_needs_are_filed_for_it(
    make_api: Any, gateway: Gateway, db: psycopg.Connection[Any]
) -> None:
    api = make_api(**_fast(gateway, sms_per_person_per_day=5))
    stranger, donors = sign_up(api, "Kẻ lạ"), [sign_up(api, f"Nhà hảo tâm {i}") for i in range(2)]
    spellings = ["0987000222", "0987 000 222", "+84 987 000 222"]  # one phone, however it is typed
    needs = [_file_for(api, stranger, phone) for phone in spellings]
    for need in needs:
        for donor in donors:
            made = pledge(api, donor, need["id"], 1)["pledge"]
            assert api.data(CANCEL, {"id": made["id"]}, donor)["cancelPledge"]["errors"] == []
    rows = _settled(db, 12)
    to_phone = [r for r in gateway.received if r["form"]["To"] == "+84987000222"]
    assert len(to_phone) == 5  # 3 claim codes and 2 notifications, not 3 + 12
    assert [r[2] for r in rows].count("DELIVERED") == 2
    assert {r[4] for r in rows if r[2] == "SKIPPED"} == {"daily SMS limit (5) reached"}
    # Keyed by an HMAC of the E.164 number, never the number in clear.
    hashes = db.execute("SELECT DISTINCT phone_hash FROM notifications WHERE phone_hash IS NOT NULL").fetchall()
    charged = db.execute("SELECT DISTINCT phone_hash, purpose FROM sms_charges").fetchall()
    assert len(hashes) == 1 and charged == [(hashes[0][0], "claim code")]
    assert "987000222" not in hashes[0][0] and len(hashes[0][0]) == 64


def test_a_gateway_500_is_retried_and_a_400_is_not(
    make_api: Any, gateway: Gateway, db: psycopg.Connection[Any]
) -> None:
    api = make_api(**_fast(gateway, notify_attempts=3))
    operator, donor = sign_up(api, "Tổng đài"), sign_up(api)
    first = _file_for(api, operator, "0955 000 301")
    gateway.wait_for(1)  # the claim code
    gateway.script = [500, 503]
    pledge(api, donor, first["id"], 1)
    _settled(db, 1)
    gateway.script = [400]
    pledge(api, donor, first["id"], 1)
    rows = _settled(db, 2)
    gateway.script = [500, 500, 500]  # past the bound: FAILED
    pledge(api, donor, first["id"], 1)
    rows = _settled(db, 3)

    assert [(r[2], r[5]) for r in rows] == [("DELIVERED", 3), ("FAILED", 1), ("FAILED", 3)]
    assert "400" in rows[1][4] and "500" in rows[2][4]
    assert [r["answered"] for r in gateway.received[1:]] == [500, 503, 201, 400, 500, 500, 500]
    metrics = api.http.get("/metrics").text
    assert 'aidmap_notifications_total{channel="SMS",outcome="retried"} 4.0' in metrics
    assert 'aidmap_notifications_total{channel="SMS",outcome="failed"} 2.0' in metrics


def test_the_monthly_budget_is_watched_and_held(
    make_api: Any, gateway: Gateway, db: psycopg.Connection[Any], caplog: pytest.LogCaptureFixture
) -> None:
    api = make_api(**_fast(gateway, sms_monthly_budget=2, sms_budget_warn_ratio=0.5))
    operator, donor = sign_up(api, "Tổng đài"), sign_up(api)
    with caplog.at_level(logging.WARNING, logger="aidmap.notify.dispatch"):
        # Claim-code texts count too: the first need's code is 1 of 2, the second's 2 of 2, the third's is
        # not texted (its code is still returned to the filer).
        needs = [_file_for(api, operator, f"0955 000 40{i}") for i in range(3)]
        for need in needs:
            pledge(api, donor, need["id"], 1)
        rows = _settled(db, 3)
    assert [r[2] for r in rows] == ["SKIPPED", "SKIPPED", "SKIPPED"]
    assert rows[0][4] == "monthly SMS budget (2) spent"
    assert [r["form"]["To"] for r in gateway.received] == ["+84955000400", "+84955000401"]
    assert "SMS budget nearly spent: 1 of 2 this month" in caplog.text
    assert "aidmap_sms_budget_used_ratio 1.0" in api.http.get("/metrics").text


def _browser() -> tuple[ec.EllipticCurvePrivateKey, str, bytes]:
    """A browser's push keys: its P-256 key pair and its auth secret."""
    key = ec.generate_private_key(ec.SECP256R1())
    point = key.public_key().public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    return key, base64.urlsafe_b64encode(point).rstrip(b"=").decode(), os.urandom(16)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _subscribe(api: Any, token: str, service: PushService, name: str) -> tuple[ec.EllipticCurvePrivateKey, bytes]:
    key, public, auth = _browser()
    result = api.data(
        SUBSCRIBE, {"input": {"endpoint": f"{service.url}/push/{name}", "p256dh": public, "auth": _b64(auth)}}, token
    )["subscribePush"]
    assert result == {"subscribed": True, "errors": []}
    return key, auth


def _decrypt(request: dict[str, Any], key: ec.EllipticCurvePrivateKey, auth: bytes) -> dict[str, Any]:
    plain = http_ece.decrypt(request["body"], private_key=key, auth_secret=auth, version="aes128gcm")
    found: dict[str, Any] = json.loads(plain)
    return found


def _check_vapid(headers: dict[str, str], public_key: str, audience: str) -> None:
    """The Authorization header is a JWT for this push service, signed with the deployment's key."""
    scheme, _, params = headers["Authorization"].partition(" ")
    fields = dict(part.split("=", 1) for part in params.split(","))
    assert scheme == "vapid" and fields["k"] == public_key
    head, claims, signature = fields["t"].split(".")
    assert json.loads(_unb64(claims))["aud"] == audience
    raw = _unb64(signature)
    der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
    verifier = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), _unb64(public_key))
    try:
        verifier.verify(der, f"{head}.{claims}".encode(), ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        pytest.fail("the VAPID signature does not verify")


def test_a_push_endpoint_receives_a_payload_only_the_subscription_can_decrypt(
    make_api: Any, gateway: Gateway, push_service: PushService, db: psycopg.Connection[Any]
) -> None:
    private, public = new_vapid_pair()
    api = make_api(**_fast(gateway, vapid_private_key=private, push_allow_private=True))
    assert api.data("{ pushPublicKey }")["pushPublicKey"] == public
    requester, donor = sign_up(api, "Chị Mai"), sign_up(api, "Anh Tú")
    key, auth = _subscribe(api, requester, push_service, "mai")
    need = create_need(api, requester)
    made = pledge(api, donor, need["id"], 2)["pledge"]
    [request] = wait_until(lambda: push_service.received, what="a push")

    assert request["path"] == "/push/mai" and request["headers"]["Content-Encoding"] == "aes128gcm"
    assert b"PLEDGE_CREATED" not in request["body"]  # encrypted
    _check_vapid(request["headers"], public, push_service.url)
    payload = _decrypt(request, key, auth)
    seq = db.execute("SELECT max(seq) FROM events WHERE kind = 'PLEDGE_CREATED'").fetchone()[0]
    assert payload["kind"] == "PLEDGE_CREATED" and payload["eventId"] == f"evt_{seq}"
    assert payload["title"] == "Có người nhận giúp" and payload["url"] == f"{PAGE}/#need={need['id']}"
    assert "thực phẩm" in payload["body"]
    _, wrong_auth = _browser()[0], os.urandom(16)
    with pytest.raises(Exception):  # noqa: B017 - any failure: another secret cannot read it
        _decrypt(request, key, wrong_auth)

    # The browser unsubscribed meanwhile (410): FAILED, and the subscription is forgotten.
    push_service.script = [410]
    assert api.data(CANCEL, {"id": made["id"]}, donor)["cancelPledge"]["errors"] == []
    rows = _settled(db, 2)
    assert [(r[1], r[2]) for r in rows] == [("PUSH", "DELIVERED"), ("PUSH", "FAILED")]
    assert db.execute("SELECT count(*) FROM push_subscriptions").fetchone() == (0,)
    mine = api.data(MINE, token=requester)["myNotifications"]
    assert [(n["kind"], n["channel"], n["status"]) for n in mine] == [
        ("PLEDGE_CANCELLED", "PUSH", "FAILED"), ("PLEDGE_CREATED", "PUSH", "DELIVERED"),
    ]  # fmt: skip


def test_an_open_socket_gets_no_duplicate_push_for_a_chat_message(
    settings: Any, gateway: Gateway, push_service: PushService, db: psycopg.Connection[Any]
) -> None:
    import dataclasses

    from tests.conftest import Api

    private, _ = new_vapid_pair()
    changed = dataclasses.replace(settings, **_fast(gateway, vapid_private_key=private, push_allow_private=True))
    app = create_app(changed, database_url=changed.database_url or "")
    with serving(app) as url:
        import httpx2

        with httpx2.Client(base_url=url) as http:
            api = Api(http)  # type: ignore[arg-type]
            requester, donor = sign_up(api, "Chị Lan"), sign_up(api, "Anh Bình")
            requester_key, requester_auth = _subscribe(api, requester, push_service, "lan")
            _subscribe(api, donor, push_service, "binh")
            need = create_need(api, requester)
            made = pledge(api, donor, need["id"], 1)["pledge"]
            wait_until(lambda: [r for r in push_service.received if r["path"] == "/push/lan"], what="the pledge push")
            with LiveClient(url, donor) as live:
                live.subscribe("subscription { myActivity { kind } }")
                assert (
                    api.data(SEND, {"id": made["id"], "body": "Tôi tới lúc 5 giờ"}, requester)["sendMessage"]["errors"]
                    == []
                )
                assert live.next()["data"]["myActivity"]["kind"] == "MESSAGE_SENT"  # told on the socket
                # The requester has no socket open: their answer from the donor is pushed.
                assert api.data(SEND, {"id": made["id"], "body": "Cảm ơn"}, donor)["sendMessage"]["errors"] == []
                pushes = wait_until(
                    lambda: [r for r in push_service.received if r["path"] == "/push/lan"][1:], what="the chat push"
                )
    assert _decrypt(pushes[0], requester_key, requester_auth)["kind"] == "MESSAGE_SENT"
    # Events are handled in order, so the donor's message (earlier) was decided on by then: no push.
    assert [r["path"] for r in push_service.received].count("/push/binh") == 0
    assert _rows(db, "kind = 'MESSAGE_SENT'")[0][3].startswith("account:")
    assert len(_rows(db, "kind = 'MESSAGE_SENT'")) == 1
    assert "Cảm ơn" not in _decrypt(pushes[0], requester_key, requester_auth)["body"]  # never the message itself


def test_bad_settings_and_subscriptions_are_refused_and_change_nothing(
    make_api: Any, db: psycopg.Connection[Any]
) -> None:
    api = make_api()
    token = sign_up(api)
    refused = api.data(
        SETTINGS, {"input": {"language": "fr", "timeZone": "Mars/Olympus", "quietHoursStart": "25:00"}}, token
    )["setNotificationSettings"]
    assert refused["settings"] is None
    assert [(e["field"], e["code"]) for e in refused["errors"]] == [
        ("language", "INVALID"), ("timeZone", "INVALID"), ("quietHoursStart", "INVALID"),
    ]  # fmt: skip
    assert db.execute("SELECT count(*) FROM notification_preferences").fetchone() == (0,)
    _, public, auth = _browser()
    off = api.data(
        SUBSCRIBE, {"input": {"endpoint": "https://push.example/x", "p256dh": public, "auth": _b64(auth)}}, token
    )
    assert off["subscribePush"]["errors"] == [{"field": None, "code": "INVALID_STATE"}]  # no VAPID key here
    api = make_api(vapid_private_key=new_vapid_pair()[0])
    bad = api.data(SUBSCRIBE, {"input": {"endpoint": "http://10.0.0.1/x", "p256dh": "AAAA", "auth": "x"}}, token)
    assert [(e["field"], e["code"]) for e in bad["subscribePush"]["errors"]] == [
        ("endpoint", "INVALID"),
        ("p256dh", "INVALID"),
    ]
    assert db.execute("SELECT count(*) FROM push_subscriptions").fetchone() == (0,)
    anonymous = api.post(MINE)
    assert anonymous["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    defaults = api.data(
        "{ myNotificationSettings { language timeZone quietHoursStart quietHoursEnd smsKinds } }", token=token
    )
    assert defaults["myNotificationSettings"] == {
        "language": "vi", "timeZone": "Asia/Ho_Chi_Minh", "quietHoursStart": "22:00", "quietHoursEnd": "06:00",
        "smsKinds": [],
    }  # fmt: skip


def test_aidmap_keys_vapid_prints_a_new_pair_the_server_accepts(capsys: pytest.CaptureFixture[str]) -> None:
    from aidmap.cli import main
    from aidmap.notify.push import public_key_of
    from aidmap.settings import Settings

    assert main(["keys", "vapid"]) == 0
    first = capsys.readouterr().out
    assert main(["keys", "vapid"]) == 0
    second = capsys.readouterr().out
    private = re.search(r"^AIDMAP_VAPID_PRIVATE_KEY=(\S+)$", first, re.M).group(1)  # type: ignore[union-attr]
    public = re.search(r"public key .*: (\S+)$", first, re.M).group(1)  # type: ignore[union-attr]
    assert public_key_of(private) == public and len(_unb64(public)) == 65
    assert private not in second  # a new pair each time
    assert Settings(vapid_private_key=private).vapid_private_key == private
    with pytest.raises(ValueError, match="AIDMAP_VAPID_PRIVATE_KEY"):
        Settings(vapid_private_key="not-a-key")


def test_a_relayed_pledges_chat_and_cancellation_reach_the_operator_and_never_tell_the_donor_the_chat(
    make_api: Any, gateway: Gateway, db: psycopg.Connection[Any]
) -> None:
    """Through a collection point the one who brings it is the point's manager: the requester's
    message (which may say where to come) is texted to the manager, not to the donor who dropped the
    goods off; when the manager calls it off, the requester and the donor are both told."""
    from tests.factories import create_offer, give_role
    from tests.schema.test_collection_points import DONOR_AT, FAR_NEED, _point, _relay

    api = make_api(**_fast(gateway))
    admin, manager, donor, requester = (sign_up(api, n) for n in ("Admin", "Manager", "Donor", "Requester"))
    give_role(db, admin, "ADMIN")
    for token in (manager, donor, requester):
        chosen = api.data(SETTINGS, {"input": {"smsKinds": EVERY_KIND, "language": "en"}}, token)
        assert chosen["setNotificationSettings"]["errors"] == []
    need = create_need(api, requester, quantity=3, location=FAR_NEED)
    offer = create_offer(api, donor, quantity=3, radiusMeters=3000, location=DONOR_AT)
    point = _point(api, admin, manager, db)
    relayed = _relay(api, donor, need["id"], 1, offer["id"], point["id"])["pledge"]
    secret = "So 12 ngo 5"
    assert api.data(SEND, {"id": relayed["id"], "body": secret}, requester)["sendMessage"]["errors"] == []
    told = wait_until(lambda: _rows(db, "kind = 'MESSAGE_SENT' AND status <> 'PENDING'"), what="the chat's text")
    assert [r[3] for r in told] == [f"account:{account_pk(db, manager)}"]
    assert api.data(CANCEL, {"id": relayed["id"]}, manager)["cancelPledge"]["errors"] == []
    cancelled = wait_until(
        lambda: (rows := _rows(db, "kind = 'PLEDGE_CANCELLED' AND status <> 'PENDING'")) and len(rows) >= 2 and rows,
        what="both told of the cancellation",
    )
    assert sorted(r[3] for r in cancelled) == sorted(f"account:{account_pk(db, t)}" for t in (requester, donor))
    phone = db.execute("SELECT phone FROM accounts WHERE id = %s", (account_pk(db, donor),)).fetchone()[0]
    assert not any(secret in t for t in _texts(gateway, phone))
    assert any("pledge through a collection point was cancelled" in t for t in _texts(gateway, phone))
    # The manager was told there is something to carry (the requester, as always, that someone pledged).
    carried = _rows(db, "kind = 'PLEDGE_CREATED' AND recipient = %s", (f"account:{account_pk(db, manager)}",))
    assert carried and "through your collection point" in carried[0][6]
