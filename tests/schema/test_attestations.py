"""Verification as a signed, portable statement: issued on verifyNeed, published keys, revocation,
rotation, and another deployment (a second aidmap with its own database, on a real HTTP server on
127.0.0.1) accepting it on createNeed and importNeeds. The interop checks verify with jwcrypto and
npm's jose, neither of which signs (joserfc does)."""

from __future__ import annotations

import base64
import dataclasses
import itertools
import json
import subprocess
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx2
import psycopg
import pytest
from jwcrypto import jwk
from jwcrypto import jwt as jwcrypto_jwt
from starlette.testclient import TestClient

from aidmap import cli
from aidmap.app import create_app
from aidmap.cli import partners
from aidmap.resolvers.areas import BUNDLED, import_files
from aidmap.settings import PROJECT_ROOT, Settings
from tests.conftest import free_port, serving
from tests.factories import need_input

NODE_DIR = PROJECT_ROOT / "tests" / "node"
LAKE = {"lat": 21.0288, "lon": 105.8525}
_phones = itertools.count(1)
SIGN_UP = 'mutation ($p: String!) { signUp(input: {displayName: "Lan", phone: $p, password: "a long passphrase"}) { token account { id } errors { code } } }'  # noqa: E501
CREATE = "mutation ($input: CreateNeedInput!) { createNeed(input: $input) { need { id status verification { verifiedAt attestedBy attestation area { code } } } errors { field code message } } }"  # noqa: E501
VERIFY = "mutation ($id: ID!) { verifyNeed(input: {needId: $id}) { need { id status } errors { code } } }"
REJECT = 'mutation ($id: ID!) { rejectNeed(input: {needId: $id, reason: "Không có thật"}) { errors { code } } }'
UPDATE = "mutation ($input: UpdateNeedInput!) { updateNeed(input: $input) { need { status } errors { code } } }"
PUBLIC = "query ($id: ID!) { node(id: $id) { id ... on Need { category title details quantity unit urgency householdSize approximateLocation { lat lon } verification { verifiedAt attestation attestedBy area { code } } } } }"  # noqa: E501
IMPORT = "mutation ($input: ImportNeedsInput!) { importNeeds(input: $input) { imported skipped failed { line field code message } errors { code } } }"  # noqa: E501


@dataclass
class Deployment:
    """One aidmap: its database and a GraphQL client (a real uvicorn for the issuer)."""

    url: str
    database_url: str
    post: Callable[..., dict[str, Any]]
    db: psycopg.Connection[Any]

    def data(self, query: str, variables: dict[str, Any] | None = None, **headers: str) -> dict[str, Any]:
        body = self.post(query, variables or {}, headers)
        assert not body.get("errors"), body
        return body["data"]

    def sign_up(self, phone: str, role: str | None = None, wards: tuple[str, ...] = ()) -> str:
        token: str = self.data(SIGN_UP, {"p": phone})["signUp"]["token"]
        if role:
            e164 = "+84" + phone.lstrip("0")
            self.db.execute("UPDATE accounts SET roles = array_append(roles, %s) WHERE phone = %s", (role, e164))
            for ward in wards:
                self.db.execute("INSERT INTO verifier_areas SELECT id, %s FROM accounts WHERE phone = %s", (ward, e164))
        return token

    def count_needs(self) -> int:
        row = self.db.execute("SELECT count(*) FROM needs").fetchone()
        assert row is not None
        return int(row[0])


def _connect(url: str) -> psycopg.Connection[Any]:
    return psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True)


@pytest.fixture
def issuer(settings: Settings, fresh_database: Callable[[], str]) -> Iterator[Deployment]:
    """Deployment A, that verifies and signs: a real server on 127.0.0.1 (partners fetch its JWKS)."""
    url = fresh_database()
    import_files(url, [BUNDLED / "01_ha_noi.geojson"])
    port = free_port()
    changed = dataclasses.replace(
        settings, database_url=url, require_verification=True, public_url=f"http://127.0.0.1:{port}"
    )
    with serving(create_app(changed, database_url=url), port) as base, _connect(url) as db:

        def post(query: str, variables: dict[str, Any], headers: dict[str, str]) -> dict[str, Any]:
            body: dict[str, Any] = httpx2.post(
                f"{base}/graphql", json={"query": query, "variables": variables}, headers=headers, timeout=30
            ).json()
            return body

        yield Deployment(url=base, database_url=url, post=post, db=db)


@pytest.fixture
def partner_side(settings: Settings, fresh_database: Callable[[], str]) -> Iterator[Deployment]:
    """Deployment B, a partner's own aidmap, which trusts A's attestations once told to."""
    url = fresh_database()
    import_files(url, [BUNDLED / "01_ha_noi.geojson"])
    changed = dataclasses.replace(settings, database_url=url, require_verification=True, public_url="http://b.test")
    with TestClient(create_app(changed, database_url=url)) as http, _connect(url) as db:

        def post(query: str, variables: dict[str, Any], headers: dict[str, str]) -> dict[str, Any]:
            body: dict[str, Any] = http.post("/graphql", json={"query": query, "variables": variables}, headers=headers).json()
            return body

        yield Deployment(url="http://b.test", database_url=url, post=post, db=db)


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _verified_need(issuer: Deployment, **fields: Any) -> tuple[str, str]:
    """(need id, attestation) of a need a verifier of its ward verified on A."""
    requester = issuer.sign_up(f"0910{next(_phones):06d}")
    verifier = issuer.sign_up(f"0920{next(_phones):06d}", "VERIFIER", ("00070",))
    created = issuer.data(CREATE, {"input": need_input(**{"location": LAKE, **fields})}, **_bearer(requester))["createNeed"]
    need_id = created["need"]["id"]
    assert issuer.data(VERIFY, {"id": need_id}, **_bearer(verifier))["verifyNeed"]["errors"] == []
    token = issuer.data(PUBLIC, {"id": need_id})["node"]["verification"]["attestation"]
    assert token
    return need_id, token


def _jwks(issuer: Deployment) -> dict[str, Any]:
    body: dict[str, Any] = httpx2.get(f"{issuer.url}/.well-known/jwks.json").json()
    return body


def _status(issuer: Deployment) -> dict[str, Any]:
    body: dict[str, Any] = httpx2.get(f"{issuer.url}/attestations/status").json()
    return body


def _claims(token: str) -> dict[str, Any]:
    part = token.split(".")[1]
    claims: dict[str, Any] = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    return claims


def _with_claims(token: str, **changes: Any) -> str:
    """The token with its payload changed and the original signature kept."""
    header, _, signature = token.split(".")
    payload = base64.urlsafe_b64encode(json.dumps({**_claims(token), **changes}).encode()).decode().rstrip("=")
    return f"{header}.{payload}.{signature}"


def _signed_by_a_stranger(token: str) -> str:
    """The same header (kid included) and claims, signed with a key that is not in A's JWKS."""
    from joserfc import jwt
    from joserfc.jwk import OKPKey

    header = json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))
    stranger = OKPKey.generate_key("Ed25519", parameters={"kid": header["kid"]})
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="EdDSA is deprecated")
        forged: str = jwt.encode(header, _claims(token), stranger, algorithms=["EdDSA"])
    return forged


def jwcrypto_check(token: str, jwks: dict[str, Any], status: dict[str, Any]) -> dict[str, Any] | None:
    """A partner's check with jwcrypto (not the library that signs): signature, type, expiry, revocation."""
    try:
        verified = jwcrypto_jwt.JWT(jwt=token, key=jwk.JWKSet.from_json(json.dumps(jwks)), algs=["EdDSA"])
    except Exception:  # any failure to verify is a refusal
        return None
    claims: dict[str, Any] = json.loads(verified.claims)
    if verified.token.jose_header.get("typ") != "aidmap-attestation+jwt" or claims["jti"] in status["revoked"]:
        return None
    return claims


def _trust(monkeypatch: pytest.MonkeyPatch, partner_side: Deployment, *args: str) -> int:
    monkeypatch.setenv("AIDMAP_DATABASE_URL", partner_side.database_url)
    return cli.main(["trust", *args])


def _partner_key(partner_side: Deployment) -> tuple[dict[str, str], str]:
    """A partner key on B acting for an operator it signed up: (headers, account id)."""
    key = partners.create(
        url=partner_side.database_url, name="Hue-S", scopes=["accounts", "needs:read", "needs:write", "import"],
        rate_limit_per_minute=100_000, allowed_origins=[],
    )[1]  # fmt: skip
    phone = f"0930{next(_phones):06d}"
    account = partner_side.data(SIGN_UP, {"p": phone}, **_bearer(key))["signUp"]["account"]["id"]
    partner_side.db.execute(
        "UPDATE accounts SET roles = array_append(roles, 'OPERATOR') WHERE phone = %s", ("+84" + phone.lstrip("0"),)
    )
    return {**_bearer(key), "Aidmap-Act-As": account}, account


def test_verify_need_issues_an_attestation_of_public_fields_only(issuer: Deployment) -> None:
    need_id, token = _verified_need(issuer, contactPhone="0912 345 678", householdSize=4, details="Hai em bé")
    header, claims = json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "==")), _claims(token)
    assert header["alg"] == "EdDSA" and header["typ"] == "aidmap-attestation+jwt"
    assert set(claims) == {"iss", "sub", "jti", "iat", "exp", "ward", "role", "verified_at", "need_hash"}
    assert claims["iss"] == issuer.url and claims["sub"] == need_id and claims["ward"] == "00070"
    assert claims["role"] == "VERIFIER"  # the role, never the person
    # Nothing private: not the exact point's digits, not the phone, not the verifier's or requester's name.
    text = json.dumps(claims)
    assert "21.0288" not in text and "105.8525" not in text and "912345678" not in text and "Lan" not in text
    # The hash is the one a partner recomputes from what an anonymous viewer sees.
    from aidmap.resolvers.attestations import hash_fields

    public = issuer.data(PUBLIC, {"id": need_id})["node"]
    loc = public["approximateLocation"]
    fields = {k: public[k] for k in ("category", "title", "details", "quantity", "unit", "urgency", "householdSize")}
    fields["approximateLocation"] = f"{loc['lat']:.6f},{loc['lon']:.6f}"
    assert claims["need_hash"] == hash_fields(fields)
    # The published keys are public halves only; the JWKS and status list are cacheable.
    jwks_response = httpx2.get(f"{issuer.url}/.well-known/jwks.json")
    keys = jwks_response.json()["keys"]
    assert [k["kid"] for k in keys] == [header["kid"]] and all("d" not in k for k in keys)
    assert "max-age" in jwks_response.headers["cache-control"]
    etag = jwks_response.headers["etag"]
    assert httpx2.get(f"{issuer.url}/.well-known/jwks.json", headers={"If-None-Match": etag}).status_code == 304
    assert jwcrypto_check(token, _jwks(issuer), _status(issuer)) == claims


def test_two_points_in_one_cell_give_one_hash(issuer: Deployment) -> None:
    """The hash is a function of the public record: moving the exact point within its cell changes nothing."""
    from aidmap.geo.privacy import snap_to_cell

    lon, lat = snap_to_cell(LAKE["lon"], LAKE["lat"])
    first = _claims(_verified_need(issuer, location={"lat": lat + 0.0005, "lon": lon - 0.0006})[1])
    second = _claims(_verified_need(issuer, location={"lat": lat - 0.0007, "lon": lon + 0.0004})[1])
    assert first["need_hash"] == second["need_hash"]


def test_edits_and_rejection_revoke_and_the_status_list_says_so(issuer: Deployment) -> None:
    requester = issuer.sign_up("0911000001")
    verifier = issuer.sign_up("0911000002", "VERIFIER", ("00070",))
    created = issuer.data(CREATE, {"input": need_input(location=LAKE, householdSize=5)}, **_bearer(requester))
    need_id = created["createNeed"]["need"]["id"]
    issuer.data(VERIFY, {"id": need_id}, **_bearer(verifier))
    first = issuer.data(PUBLIC, {"id": need_id})["node"]["verification"]["attestation"]
    assert _claims(first)["jti"] not in _status(issuer)["revoked"]
    # Fewer people: the badge stays, the attestation follows the new fields (the old one is revoked).
    issuer.data(UPDATE, {"input": {"needId": need_id, "householdSize": 3}}, **_bearer(requester))
    second = issuer.data(PUBLIC, {"id": need_id})["node"]["verification"]["attestation"]
    assert second != first and _claims(second)["verified_at"] == _claims(first)["verified_at"]
    assert _status(issuer)["revoked"] == [_claims(first)["jti"]]
    # A new title resets the verification: revoked, and no attestation is shown any more.
    issuer.data(UPDATE, {"input": {"needId": need_id, "title": "Gửi tiền"}}, **_bearer(requester))
    assert sorted(_status(issuer)["revoked"]) == sorted([_claims(first)["jti"], _claims(second)["jti"]])
    assert issuer.data(PUBLIC, {"id": need_id}, **_bearer(verifier))["node"]["verification"] is None
    assert jwcrypto_check(second, _jwks(issuer), _status(issuer)) is None
    # Rejecting a verified need revokes its attestation too.
    other_id, other = _verified_need(issuer)
    assert issuer.data(REJECT, {"id": other_id}, **_bearer(verifier))["rejectNeed"]["errors"] == []
    assert _claims(other)["jti"] in _status(issuer)["revoked"]


def test_rotation_keeps_old_attestations_valid_until_the_grace_period_ends(
    issuer: Deployment, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, old = _verified_need(issuer)
    monkeypatch.setenv("AIDMAP_DATABASE_URL", issuer.database_url)
    monkeypatch.setenv("AIDMAP_SECRET_KEY", "test-secret")
    assert cli.main(["keys", "rotate"]) == 0
    jwks = _jwks(issuer)
    assert len(jwks["keys"]) == 2
    assert jwcrypto_check(old, jwks, _status(issuer)) is not None  # still verifies
    _, new = _verified_need(issuer)
    old_kid, new_kid = (json.loads(base64.urlsafe_b64decode(t.split(".")[0] + "=="))["kid"] for t in (old, new))
    assert new_kid != old_kid and jwks["keys"][0]["kid"] == new_kid
    row = issuer.db.execute("SELECT private_key FROM attestation_keys WHERE kid = %s", (old_kid,)).fetchone()
    assert row == (None,)  # a retired key's private half is gone
    # Rotating again with no grace: the key it retires is unpublished at once and what it signed fails;
    # the first one is still within its 30 days.
    assert cli.main(["keys", "rotate", "--grace-days", "0"]) == 0
    jwks = _jwks(issuer)
    assert new_kid not in {k["kid"] for k in jwks["keys"]} and old_kid in {k["kid"] for k in jwks["keys"]}
    assert jwcrypto_check(new, jwks, _status(issuer)) is None
    assert jwcrypto_check(old, jwks, _status(issuer)) is not None


def test_npm_jose_verifies_offline_and_refuses_tampered_foreign_and_revoked(issuer: Deployment, tmp_path: Any) -> None:
    if not (NODE_DIR / "node_modules" / "jose").exists():
        pytest.fail("tests/node is not installed: `make test` runs npm ci there (scripts/setup.sh)")
    verifier = issuer.sign_up("0911000012", "VERIFIER", ("00070",))
    _, good = _verified_need(issuer)
    revoked_id, revoked = _verified_need(issuer, title="Sữa")
    issuer.data(REJECT, {"id": revoked_id}, **_bearer(verifier))
    jwks, status = _jwks(issuer), _status(issuer)  # fetched once, then everything is offline
    cases = [good, _with_claims(good, ward="00001"), _signed_by_a_stranger(good), revoked]
    python_results = [jwcrypto_check(t, jwks, status) is not None for t in cases]
    data = tmp_path / "cases.json"
    data.write_text(json.dumps({"jwks": jwks, "status": status, "tokens": cases}))
    done = subprocess.run(
        ["node", str(NODE_DIR / "verify-attestation.mjs"), str(data)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == python_results == [True, False, False, False]


def test_a_partner_deployment_accepts_a_trusted_attestation_and_refuses_bad_ones(
    issuer: Deployment, partner_side: Deployment, monkeypatch: pytest.MonkeyPatch
) -> None:
    need_id, token = _verified_need(issuer, details="Hai em bé", householdSize=4)
    acting, _ = _partner_key(partner_side)
    same = need_input(location=LAKE, details="Hai em bé", householdSize=4)
    # Not trusted yet: refused, nothing written.
    before = partner_side.count_needs()
    refused = partner_side.data(CREATE, {"input": {**same, "attestation": token}}, **acting)["createNeed"]
    assert refused["need"] is None and [e["code"] for e in refused["errors"]] == ["ATTESTATION_INVALID"]
    assert partner_side.count_needs() == before
    # The operator trusts A: its JWKS is fetched now and cached (B never fetches per request).
    assert _trust(monkeypatch, partner_side, "add", "--jwks", f"{issuer.url}/.well-known/jwks.json", "--name", "aidmap Hà Nội") == 0  # noqa: E501
    accepted = partner_side.data(CREATE, {"input": {**same, "attestation": token}}, **acting)["createNeed"]
    assert accepted["errors"] == []
    need = accepted["need"]
    assert need["status"] == "OPEN"  # verified: it skips B's queue
    verification = need["verification"]
    assert verification["attestedBy"] == "aidmap Hà Nội" and verification["area"] == {"code": "00070"}
    assert verification["attestation"] == token
    assert verification["verifiedAt"].startswith(issuer.data(PUBLIC, {"id": need_id})["node"]["verification"]["verifiedAt"][:19])  # noqa: E501
    # Bad attestations: typed error, nothing written.
    _, later = _verified_need(issuer, title="Thuốc hạ sốt")
    bad = {
        "tampered": _with_claims(later, ward="00001"),
        "foreign key": _signed_by_a_stranger(later),
        "other fields": later,  # a valid attestation, but of a need with another title
        "reused": token,  # already came with a need
        "not a JWS": "abc",
    }
    before = partner_side.count_needs()
    for label, candidate in bad.items():
        answer = partner_side.data(CREATE, {"input": {**same, "attestation": candidate}}, **acting)["createNeed"]
        assert answer["need"] is None, label
        assert [(e["field"], e["code"]) for e in answer["errors"]] == [("attestation", "ATTESTATION_INVALID")], label
    assert partner_side.count_needs() == before
    # Revoked on A: B learns it when the operator refreshes (from cron), still never per request.
    revoke_id, revocable = _verified_need(issuer, title="Áo ấm")
    verifier = issuer.sign_up("0911000021", "VERIFIER", ("00070",))
    issuer.data(REJECT, {"id": revoke_id}, **_bearer(verifier))
    assert _trust(monkeypatch, partner_side, "refresh") == 0
    answer = partner_side.data(CREATE, {"input": {**need_input(location=LAKE, title="Áo ấm"), "attestation": revocable}}, **acting)  # noqa: E501
    assert [e["code"] for e in answer["createNeed"]["errors"]] == ["ATTESTATION_INVALID"]
    assert "revoked" in answer["createNeed"]["errors"][0]["message"]
    assert partner_side.count_needs() == before


def test_import_needs_takes_attestations_row_by_row(
    issuer: Deployment, partner_side: Deployment, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, token = _verified_need(issuer, title="Gạo nếp")
    _trust(monkeypatch, partner_side, "add", "--jwks", f"{issuer.url}/.well-known/jwks.json")
    acting, _ = _partner_key(partner_side)
    header = "external_id,category,title,quantity,unit,urgency,lat,lon,contact_phone,attestation\n"
    rows = [
        f"A-1,FOOD,Gạo nếp,10,kg,HIGH,{LAKE['lat']},{LAKE['lon']},0912 345 678,{token}",
        f"A-2,FOOD,Gạo tẻ,10,kg,HIGH,{LAKE['lat']},{LAKE['lon']},0912 345 679,{token}",  # another title
        f"A-3,FOOD,Muối,1,kg,HIGH,{LAKE['lat']},{LAKE['lon']},0912 345 670,",  # none: waits for B's verifiers
    ]
    report = partner_side.data(
        IMPORT, {"input": {"format": "CSV", "content": header + "\n".join(rows) + "\n"}}, **acting
    )["importNeeds"]
    assert report["imported"] == 2 and report["errors"] == []
    assert [(f["line"], f["field"], f["code"]) for f in report["failed"]] == [(3, "attestation", "ATTESTATION_INVALID")]
    statuses = dict(partner_side.db.execute("SELECT external_id, status FROM needs ORDER BY external_id").fetchall())
    assert statuses == {"A-1": "OPEN", "A-3": "PENDING_VERIFICATION"}
    assert partner_side.db.execute("SELECT count(*) FROM needs WHERE attested_by_id IS NOT NULL").fetchone() == (1,)


def test_an_attestation_needs_a_partner_key(issuer: Deployment, partner_side: Deployment) -> None:
    _, token = _verified_need(issuer)
    person = partner_side.sign_up("0911000031")
    answer = partner_side.data(CREATE, {"input": {**need_input(location=LAKE), "attestation": token}}, **_bearer(person))
    assert [(e["field"], e["code"]) for e in answer["createNeed"]["errors"]] == [("attestation", "FORBIDDEN")]
    assert partner_side.count_needs() == 0


def test_trusting_a_url_that_is_not_a_jwks_fails_cleanly(
    partner_side: Deployment, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _trust(monkeypatch, partner_side, "add", "--jwks", "http://127.0.0.1:9/.well-known/jwks.json") == 2
    assert _trust(monkeypatch, partner_side, "add", "--jwks", "http://127.0.0.1:9/keys") == 2
    assert "trust add:" in capsys.readouterr().err
    assert partner_side.db.execute("SELECT count(*) FROM trusted_deployments").fetchone() == (0,)


def test_a_revoked_attestation_unverifies_the_need_it_came_with_on_refresh(
    issuer: Deployment, partner_side: Deployment, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    revoke_id, token = _verified_need(issuer, title="Chăn bông")
    kept_id, kept_token = _verified_need(issuer, title="Nước sạch")
    assert _trust(monkeypatch, partner_side, "add", "--jwks", f"{issuer.url}/.well-known/jwks.json", "--name", "A") == 0
    acting, _ = _partner_key(partner_side)
    imported = {}
    for title, attestation in (("Chăn bông", token), ("Nước sạch", kept_token)):
        made = partner_side.data(
            CREATE, {"input": {**need_input(location=LAKE, title=title), "attestation": attestation}}, **acting
        )["createNeed"]
        assert made["errors"] == [] and made["need"]["verification"]["attestedBy"] == "A"
        imported[title] = made["need"]["id"]
    before = partner_side.db.execute("SELECT coalesce(max(seq), 0) FROM events").fetchone()[0]
    verifier = issuer.sign_up(f"0920{next(_phones):06d}", "VERIFIER", ("00070",))
    assert issuer.data(REJECT, {"id": revoke_id}, **_bearer(verifier))["rejectNeed"]["errors"] == []
    capsys.readouterr()
    monkeypatch.setenv("AIDMAP_REQUIRE_VERIFICATION", "1")  # as B runs (partner_side)
    assert _trust(monkeypatch, partner_side, "refresh") == 0
    assert capsys.readouterr().out.strip() == "A\t1 keys, 1 revoked, 1 need unverified"
    # The badge is gone and the need waits for B's own verifiers, like an edit that resets verification.
    gone = partner_side.data(PUBLIC, {"id": imported["Chăn bông"]})["node"]
    assert gone is None or gone["verification"] is None or gone["verification"]["attestedBy"] is None
    rows = partner_side.db.execute(
        "SELECT title, status, verified_at IS NULL, attested_by_id IS NULL, received_attestation IS NULL "
        "FROM needs ORDER BY title"
    ).fetchall()
    assert rows == [("Chăn bông", "PENDING_VERIFICATION", True, True, True), ("Nước sạch", "OPEN", False, False, False)]
    # An event, so live subscribers see it leave the public view.
    events = partner_side.db.execute(
        "SELECT e.kind, n.title FROM events e JOIN needs n ON n.id = e.need_id WHERE e.seq > %s", (before,)
    ).fetchall()
    assert events == [("NEED_HIDDEN", "Chăn bông")]
    kept = partner_side.data(PUBLIC, {"id": imported["Nước sạch"]})["node"]["verification"]
    assert kept["attestedBy"] == "A" and kept["attestation"] == kept_token
    # A second refresh finds nothing more to do.
    assert _trust(monkeypatch, partner_side, "refresh") == 0
    assert capsys.readouterr().out.strip() == "A\t1 keys, 1 revoked"
    assert issuer.data(PUBLIC, {"id": kept_id})["node"]["verification"]["attestation"] == kept_token
