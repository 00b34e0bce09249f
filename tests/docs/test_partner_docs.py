"""docs/partners.md is generated (scripts/partner_docs.py) and every example in it runs against a real server:
curl, Python (gql) and JavaScript (graphql-ws), for every query, mutation and subscription."""

from __future__ import annotations

import base64
import dataclasses
import itertools
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from aidmap.cli import partners
from aidmap.resolvers.areas import BUNDLED, import_files
from aidmap.schema.ids import to_global_id
from aidmap.settings import PROJECT_ROOT, Settings
from tests.conftest import Api, LiveServer
from tests.factories import CREATE_NEED, PLEDGE, create_need, create_offer, need_input, sign_up

sys.path.insert(0, str(PROJECT_ROOT / "scripts"))
import partner_docs  # noqa: E402

DOC = PROJECT_ROOT / "docs" / "partners.md"
NODE_DIR = PROJECT_ROOT / "tests" / "node"
BLOCK = re.compile(r"```(sh|python|js) example=(\w+)\n(.*?)\n```", re.S)
_phones = itertools.count(100)


def test_the_committed_guide_is_what_the_generator_writes() -> None:
    assert DOC.read_text(encoding="utf-8") == partner_docs.render(), (
        "run: python scripts/partner_docs.py > docs/partners.md"
    )


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return dataclasses.replace(settings, webhook_allow_private=True, webhook_interval_seconds=0.2)


class Sink(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802
        self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


def _post(url: str, query: str, variables: dict[str, Any], headers: dict[str, str]) -> dict[str, Any]:
    import httpx2

    body: dict[str, Any] = httpx2.post(
        url + "/graphql", json={"query": query, "variables": variables}, headers=headers
    ).json()
    assert "errors" not in body, body
    return body["data"]


def _world(
    api: Api, live_server: LiveServer, database_url: str, db: Any
) -> tuple[dict[str, str], Callable[[str], None]]:
    import_files(database_url, [BUNDLED / "01_ha_noi.geojson"])
    scopes = ["accounts", "needs:read", "needs:write", "offers:read", "offers:write", "pledges:write", "messages",
              "private:read", "verify", "webhooks", "import"]  # fmt: skip
    key = partners.create(
        url=database_url, name="Docs", scopes=scopes, rate_limit_per_minute=100_000, allowed_origins=[]
    )[1]
    with_key = {"Authorization": f"Bearer {key}"}
    user_phone = "0977 000 001"
    account = _post(live_server.url, 'mutation ($p: String!) { signUp(input: {displayName: "Lan", phone: $p, password: "a long passphrase"}) { account { id } } }', {"p": user_phone}, with_key)["signUp"]["account"]["id"]  # fmt: skip
    # The partner's account acts only through the key; the examples' own token is a person who signed
    # up without one (a partner app's account gets no token of its own by password).
    token = api.data('mutation { signUp(input: {displayName: "Lan", phone: "0977000002", password: "a long passphrase"}) { token } }')[
        "signUp"
    ]["token"]  # fmt: skip
    db.execute(
        "UPDATE accounts SET roles = roles || ARRAY['ADMIN', 'VERIFIER', 'OPERATOR'] WHERE phone IN ('+84977000001', '+84977000002')"
    )
    db.execute("INSERT INTO verifier_areas SELECT id, '00070' FROM accounts WHERE phone IN ('+84977000001', '+84977000002')")
    acting = {**with_key, "Aidmap-Act-As": account}
    other = sign_up(api, "Minh")
    other_id = api.data("{ me { id } }", token=other)["me"]["id"]
    lake = {"lat": 21.0288, "lon": 105.8525}
    need = create_need(api, other, location=lake)
    other_need = create_need(api, other, title="Trùng", location=lake)
    my_need = _post(live_server.url, CREATE_NEED, {"input": need_input(location=lake, category="MEDICAL_CONSULTATION", urgency="CRITICAL")}, acting)["createNeed"]["need"]  # fmt: skip
    my_pledge = api.data(PLEDGE, {"input": {"needId": my_need["id"], "quantity": 1}}, other)["pledge"]["pledge"]
    pledge = _post(live_server.url, PLEDGE, {"input": {"needId": need["id"], "quantity": 1}}, acting)["pledge"][
        "pledge"
    ]
    filed = api.data(CREATE_NEED, {"input": need_input(location=lake, onBehalfOf={"displayName": "Lan", "phone": user_phone})}, other)["createNeed"]["need"]  # fmt: skip
    offer = _post(live_server.url, "mutation ($i: CreateOfferInput!) { createOffer(input: $i) { offer { id } } }",
                  {"i": {"category": "FOOD", "title": "Rau", "quantity": 5, "unit": "kg", "location": lake, "radiusMeters": 3000}}, acting)["createOffer"]["offer"]  # fmt: skip
    sink = ThreadingHTTPServer(("127.0.0.1", 0), Sink)
    threading.Thread(target=sink.serve_forever, daemon=True).start()
    webhook_url = f"http://127.0.0.1:{sink.server_port}/hooks"
    webhook = _post(live_server.url, "mutation ($u: String!) { createWebhook(input: {url: $u, events: [NEED_CREATED]}) { webhook { id } } }", {"u": webhook_url}, with_key)["createWebhook"]["webhook"]  # fmt: skip
    env = {
        "AIDMAP_URL": live_server.url, "AIDMAP_KEY": key, "ACCOUNT_ID": account, "AIDMAP_TOKEN": token,
        "USER_PHONE": user_phone, "NEED_ID": need["id"], "OTHER_NEED_ID": other_need["id"], "MY_NEED_ID": my_need["id"],
        "MY_PLEDGE_ID": my_pledge["id"], "PLEDGE_ID": pledge["id"], "FILED_NEED_ID": filed["id"], "OFFER_ID": offer["id"],
        "OTHER_ACCOUNT_ID": other_id, "HELP_REQUEST_ID": to_global_id("HelpRequest", 999_999),
        "WEBHOOK_URL": webhook_url, "WEBHOOK_ID": webhook["id"],
    }  # fmt: skip

    def trigger(field: str) -> None:
        """Make the event a subscription example waits for."""
        if field == "needsNearby":
            create_need(api, other, title="mới", location=lake)
        elif field == "offersNearby":
            create_offer(api, other, location=lake)
        else:  # myActivity: someone pledges on the acting person's new need
            fresh = _post(live_server.url, CREATE_NEED, {"input": need_input(location=lake)}, acting)["createNeed"][
                "need"
            ]
            api.data(PLEDGE, {"input": {"needId": fresh["id"], "quantity": 1}}, other)

    return env, trigger


SESSION_FIELDS = {"signOut", "signOutEverywhere", "changePassword"}


def _fresh_session(api: Api) -> str:
    phone = f"0955{next(_phones):06d}"
    signed_up = api.data(
        'mutation ($p: String!) { signUp(input: {displayName: "An", phone: $p, password: "a long passphrase"}) { token errors { code message } } }',
        {"p": phone},
    )
    token: str = signed_up["signUp"]["token"]
    assert token, signed_up
    return token


def _command(language: str, code: str, workdir: Path) -> list[str]:
    if language == "sh":
        return ["bash", "-c", code]
    if language == "python":
        return [sys.executable, "-c", code]
    script = workdir / "example.mjs"
    script.write_text(code, encoding="utf-8")
    return ["node", str(script)]


def test_every_example_in_the_guide_runs(api: Api, live_server: LiveServer, database_url: str, db: Any) -> None:
    if not (NODE_DIR / "node_modules" / "graphql-ws").exists():
        pytest.fail("tests/node is not installed: `make test` runs npm ci there (scripts/setup.sh)")
    env, trigger = _world(api, live_server, database_url, db)
    kinds = {e.field: e.kind for e in partner_docs.EXAMPLES}
    blocks = BLOCK.findall(DOC.read_text(encoding="utf-8"))
    assert {field for _, field, _ in blocks} == set(kinds)
    ran = 0
    with tempfile.TemporaryDirectory(dir=NODE_DIR) as scratch:  # inside tests/node: `import "graphql-ws"` resolves
        for language, field, code in blocks:
            if language == "sh" and kinds[field] == "subscription":
                continue  # the curl tab of a subscription only points to the other two
            run_env = {**os.environ, **env, "NEW_PHONE": f"0966{next(_phones):06d}"}
            if field in SESSION_FIELDS:  # each run ends a session: its own person, signed in for it
                run_env["AIDMAP_TOKEN"] = _fresh_session(api)
            command = _command(language, code, Path(scratch))
            if kinds[field] == "subscription":
                process = subprocess.Popen(
                    command, env=run_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
                )
                time.sleep(2.0)  # connected and subscribed
                trigger(field)
                out, err = process.communicate(timeout=30)
                code_ = process.returncode
            else:
                done = subprocess.run(command, env=run_env, capture_output=True, text=True, timeout=60)
                out, err, code_ = done.stdout, done.stderr, done.returncode
            assert code_ == 0, f"{language} {field}: {err or out}"
            result = json.loads(out.strip().splitlines()[-1])
            data = result.get("data", result) if language != "python" else result
            assert "errors" not in result, f"{language} {field}: {result}"
            assert data.get(field) is not None or field in data, f"{language} {field}: {result}"
            ran += 1
    assert ran == 3 * len(kinds) - sum(1 for k in kinds.values() if k == "subscription")


def test_the_signature_checks_in_the_guide_accept_a_real_signature_and_refuse_a_forged_one(tmp_path: Path) -> None:
    from aidmap.jobs.webhooks import sign

    text = DOC.read_text(encoding="utf-8")
    python_check = re.search(r"```python\n(import hashlib, hmac, time.*?)\n```", text, re.S)
    js_check = re.search(r"```js\n(import \{ createHmac.*?)\n```", text, re.S)
    assert python_check is not None and js_check is not None
    body = b'{"id":"evt_7","kind":"NEED_CREATED"}'
    header = sign("whsec_docs", int(time.time()), body)
    namespace: dict[str, Any] = {}
    exec(python_check.group(1), namespace)  # noqa: S102 - the guide's own example
    assert namespace["verify"]("whsec_docs", header, body) is True
    assert namespace["verify"]("whsec_docs", header, body + b" ") is False
    assert namespace["verify"]("whsec_docs", sign("whsec_docs", int(time.time()) - 3600, body), body) is False
    module = NODE_DIR / f"verify-{os.getpid()}.mjs"
    module.write_text(
        js_check.group(1)
        + "\nconst body = Buffer.from(process.argv[3]);\n"
        + "console.log(JSON.stringify([verify('whsec_docs', process.argv[2], body), verify('whsec_docs', process.argv[2], Buffer.concat([body, Buffer.from(' ')]))]));\n",
        encoding="utf-8",
    )
    try:
        done = subprocess.run(["node", str(module), header, body.decode()], capture_output=True, text=True, timeout=30)
    finally:
        module.unlink()
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == [True, False]


REPORT = 'mutation ($id: ID!) { reportNeed(input: {needId: $id, reason: "Kiểm tra lại"}) { errors { code } } }'
VERIFY = "mutation ($id: ID!) { verifyNeed(input: {needId: $id}) { errors { code } } }"
REJECT = 'mutation ($id: ID!) { rejectNeed(input: {needId: $id, reason: "Không có thật"}) { errors { code } } }'


def test_the_attestation_checks_in_the_guide_run_and_refuse_bad_tokens(
    api: Api, live_server: LiveServer, database_url: str, db: Any
) -> None:
    """The guide's Python (jwcrypto) and JavaScript (jose) checks: as they are, against a real server; then
    offline, on a good token and on a tampered, a foreign-signed, a revoked and another need's one."""
    import warnings

    import httpx2
    from joserfc import jwt
    from joserfc.jwk import OKPKey

    from tests.factories import give_role

    import_files(database_url, [BUNDLED / "01_ha_noi.geojson"])
    requester, verifier = sign_up(api, "An"), sign_up(api, "Bình")
    give_role(db, verifier, "VERIFIER", ("00070",))
    lake = {"lat": 21.0288, "lon": 105.8525}
    ids = [create_need(api, requester, location=lake, title=t, householdSize=3)["id"] for t in ("Gạo", "Sữa", "Muối")]
    for need_id in ids:  # a verifier's report hides it for review; verifyNeed keeps it, and signs that
        assert api.data(REPORT, {"id": need_id}, verifier)["reportNeed"]["errors"] == []
        assert api.data(VERIFY, {"id": need_id}, verifier)["verifyNeed"]["errors"] == []
    text = DOC.read_text(encoding="utf-8")
    python_block = re.search(r"```python\n(import base64, hashlib, json.*?)\n```", text, re.S)
    js_block = re.search(r"```js\n(import \{ createLocalJWKSet.*?)\n```", text, re.S)
    assert python_block is not None and js_block is not None
    module = NODE_DIR / f"attestation-{os.getpid()}.mjs"
    module.write_text(js_block.group(1), encoding="utf-8")
    try:
        # As they are: fetch the keys, the status list and the need, check, print.
        env = {**os.environ, "AIDMAP_URL": live_server.url, "NEED_ID": ids[0]}
        for command in ([sys.executable, "-c", python_block.group(1)], ["node", str(module)]):
            done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
            assert done.returncode == 0, done.stderr
            assert json.loads(done.stdout) == {"valid": True, "ward": "00070", "role": "VERIFIER"}, command[0]
        # Offline, on bad tokens too.
        good_need = api.data(partner_docs.ATTESTATION_QUERY, {"id": ids[0]})["node"]
        good = good_need["verification"]["attestation"]
        header, payload, signature = good.split(".")
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        tampered_payload = base64.urlsafe_b64encode(json.dumps({**claims, "role": "ADMIN"}).encode()).decode()
        tampered = f"{header}.{tampered_payload.rstrip('=')}.{signature}"
        stranger = OKPKey.generate_key("Ed25519", parameters={"kid": json.loads(base64.urlsafe_b64decode(header + "=="))["kid"]})
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="EdDSA is deprecated")
            foreign = jwt.encode(
                {"alg": "EdDSA", "typ": "aidmap-attestation+jwt", "kid": stranger.kid}, claims, stranger, algorithms=["EdDSA"]
            )
        revoked = api.data(partner_docs.ATTESTATION_QUERY, {"id": ids[1]})["node"]["verification"]["attestation"]
        assert api.data(REJECT, {"id": ids[1]}, verifier)["rejectNeed"]["errors"] == []
        other = api.data(partner_docs.ATTESTATION_QUERY, {"id": ids[2]})["node"]["verification"]["attestation"]
        jwks = httpx2.get(f"{live_server.url}/.well-known/jwks.json").json()
        status = httpx2.get(f"{live_server.url}/attestations/status").json()
        cases = [good, tampered, foreign, revoked, other]  # each checked against good_need
        namespace: dict[str, Any] = {"__name__": "guide"}
        exec(python_block.group(1), namespace)  # noqa: S102 - the guide's own example
        python_results = [namespace["check_attestation"](t, jwks, status, good_need) is not None for t in cases]
        runner = NODE_DIR / f"attestation-cases-{os.getpid()}.mjs"
        runner.write_text(
            f'import {{ checkAttestation }} from "./{module.name}";\n'
            "const { cases, jwks, status, need } = JSON.parse(process.argv[2]);\n"
            "const results = [];\n"
            "for (const token of cases) results.push((await checkAttestation(token, jwks, status, need)) !== null);\n"
            "console.log(JSON.stringify(results));\n",
            encoding="utf-8",
        )
        try:
            arguments = json.dumps({"cases": cases, "jwks": jwks, "status": status, "need": good_need})
            done = subprocess.run(["node", str(runner), arguments], capture_output=True, text=True, timeout=60)
        finally:
            runner.unlink()
        assert done.returncode == 0, done.stderr
        assert python_results == json.loads(done.stdout) == [True, False, False, False, False]
    finally:
        module.unlink()
