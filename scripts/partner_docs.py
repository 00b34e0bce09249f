"""Writes docs/partners.md: the partner guide, with every query, mutation and subscription shown in
curl, Python (gql) and JavaScript (graphql-ws). tests/docs/test_partner_docs.py runs every example
against a real server and fails when this file and the committed doc differ, so the docs cannot rot.

    .venv/bin/python scripts/partner_docs.py > docs/partners.md
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Example:
    field: str
    kind: str  # query | mutation | subscription
    document: str
    variables: dict[str, object] = field(default_factory=dict)
    # key: the partner key alone; user: the key acting for $ACCOUNT_ID; token: a user's own bearer token
    auth: str = "user"
    note: str = ""


NEAR = {"lat": 21.0285, "lon": 105.8542}
NEED_FIELDS = "id title category status quantity quantityPledged unit urgency approximateLocation { lat lon }"

EXAMPLES = [
    # -- accounts
    Example("signUp", "mutation", "mutation ($input: SignUpInput!) { signUp(input: $input) { account { id displayName } errors { field code message } } }",
            {"input": {"displayName": "Trần Thị Mai", "phone": "$NEW_PHONE", "password": "a long passphrase"}}, "key",
            "Through a partner key the account belongs to the partner; no token is returned: act for it with `Aidmap-Act-As`."),
    Example("signIn", "mutation", "mutation ($input: SignInInput!) { signIn(input: $input) { token errors { code message } } }",
            {"input": {"phone": "$USER_PHONE", "password": "a long passphrase"}}, "token",
            "For people's own apps. Sent with a partner key it is refused (`FORBIDDEN`): a token would outlive the key and "
            "ignore its scopes; act for your users with `Aidmap-Act-As`. Throttled per phone and per address with a "
            "doubling wait, at most 5 minutes (`TOO_MANY_ATTEMPTS` with `retryAfterSeconds`; see Authentication)."),
    Example("me", "query", "{ me { id displayName phone roles } }"),
    Example("changePassword", "mutation", "mutation ($input: ChangePasswordInput!) { changePassword(input: $input) { revokedTokens errors { field code message } } }",
            {"input": {"currentPassword": "a long passphrase", "newPassword": "three green bottles"}}, "token",
            "For people's own apps: every other token of the account is revoked, this one stays. At least 10 characters and "
            "not a common password (`TOO_SHORT`, `TOO_COMMON`). With a partner key: `FORBIDDEN`."),
    Example("signOut", "mutation", "mutation { signOut { revokedTokens errors { code message } } }", auth="token",
            note="Revokes the token it is sent with (its open websockets close with 4403). With a partner key: `FORBIDDEN`."),
    Example("signOutEverywhere", "mutation", "mutation { signOutEverywhere { revokedTokens errors { code message } } }", auth="token",
            note="Revokes every token of the account, this one included. With a partner key: `FORBIDDEN`."),
    # -- needs
    Example("needs", "query", f"query ($near: GeoPointInput!) {{ needs(near: $near, radiusMeters: 3000, categories: [FOOD, MEDICINE], first: 10) {{ edges {{ distanceMeters cursor node {{ {NEED_FIELDS} }} }} pageInfo {{ hasNextPage endCursor }} }} }}",
            {"near": NEAR}, "key", "Nearest first; pass `pageInfo.endCursor` as `after` for the next page."),
    Example("areas", "query", "query ($near: GeoPointInput!) { areas(near: $near, radiusMeters: 1500) { area { code name level } geojson } }", {"near": NEAR}, "key"),
    Example("node", "query", f"query ($id: ID!) {{ node(id: $id) {{ id ... on Need {{ {NEED_FIELDS} verification {{ verifiedAt area {{ name }} }} }} }} }}", {"id": "$NEED_ID"}, "key"),
    Example("nodes", "query", "query ($ids: [ID!]!) { nodes(ids: $ids) { id __typename } }", {"ids": ["$NEED_ID", "$OFFER_ID"]}, "key"),
    Example("createNeed", "mutation", "mutation ($input: CreateNeedInput!) { createNeed(input: $input) { need { id status exactLocation { lat lon } } errors { field code message } } }",
            {"input": {"category": "FOOD", "title": "Gạo cho gia đình 4 người", "quantity": 10, "unit": "kg", "urgency": "HIGH",
                       "location": {"lat": 21.0288, "lon": 105.8525}, "contactPhone": "0912 345 678"}}),
    Example("updateNeed", "mutation", "mutation ($input: UpdateNeedInput!) { updateNeed(input: $input) { need { id quantity } errors { field code } } }",
            {"input": {"needId": "$MY_NEED_ID", "quantity": 12}}),
    Example("renewNeed", "mutation", "mutation ($input: RenewNeedInput!) { renewNeed(input: $input) { need { id expiresAt } errors { code } } }", {"input": {"needId": "$MY_NEED_ID"}}),
    Example("myNeeds", "query", "{ myNeeds(first: 10) { edges { node { id title status pledges { id quantity status } } } } }"),
    Example("claimNeed", "mutation", "mutation ($input: ClaimNeedInput!) { claimNeed(input: $input) { need { id } errors { code } } }", {"input": {"needId": "$FILED_NEED_ID"}},
            note="For a need someone filed on your behalf, with your account's phone and `code`, the one-time claim code "
                 "that createNeed returned to whoever filed it (`claimCode`; a new one from `issueClaimCode`), and texted "
                 "to the phone where the server has an SMS gateway. "
                 "5 wrong codes lock the claim for 15 minutes (`TOO_MANY_ATTEMPTS` with `retryAfterSeconds`)."),
    Example("reportNeed", "mutation", "mutation ($input: ReportNeedInput!) { reportNeed(input: $input) { reported errors { code } } }", {"input": {"needId": "$NEED_ID", "reason": "Địa chỉ không có thật"}}),
    Example("suggestedOffers", "query", "query ($id: ID!) { suggestedOffers(needId: $id) { distanceMeters score offer { id title } } }", {"id": "$MY_NEED_ID"}),
    Example("requestHelpNow", "mutation", "mutation ($input: RequestHelpNowInput!) { requestHelpNow(input: $input) { helpRequest { id status } errors { code message } } }", {"input": {"needId": "$MY_NEED_ID"}}),
    # -- offers and pledges
    Example("createOffer", "mutation", "mutation ($input: CreateOfferInput!) { createOffer(input: $input) { offer { id status } errors { field code } } }",
            {"input": {"category": "FOOD", "title": "Rau từ vườn nhà", "quantity": 20, "unit": "kg", "location": NEAR, "radiusMeters": 3000}}),
    Example("updateOffer", "mutation", "mutation ($input: UpdateOfferInput!) { updateOffer(input: $input) { offer { id quantity } errors { code } } }", {"input": {"offerId": "$OFFER_ID", "quantity": 25}}),
    Example("offers", "query", "query ($near: GeoPointInput!) { offers(near: $near, radiusMeters: 5000, first: 10) { edges { distanceMeters node { id title quantity unit } } } }", {"near": NEAR}, "key"),
    Example("myOffers", "query", "{ myOffers(first: 10) { edges { node { id title status } } } }"),
    Example("suggestedNeeds", "query", "query ($id: ID!) { suggestedNeeds(offerId: $id) { distanceMeters score need { id title } } }", {"id": "$OFFER_ID"}),
    Example("setAvailability", "mutation", "mutation ($input: SetAvailabilityInput!) { setAvailability(input: $input) { errors { code } } }",
            {"input": {"available": True, "near": NEAR, "radiusMeters": 3000, "categories": ["MEDICAL_CONSULTATION"]}}),
    Example("acceptHelpRequest", "mutation", "mutation ($input: AcceptHelpRequestInput!) { acceptHelpRequest(input: $input) { pledge { id } errors { code } } }", {"input": {"helpRequestId": "$HELP_REQUEST_ID"}},
            note="Answers a HELP_ASKED event of myActivity; whoever accepts first gets the pledge."),
    Example("pledge", "mutation", "mutation ($input: PledgeInput!) { pledge(input: $input) { pledge { id quantity status } errors { field code message } } }", {"input": {"needId": "$NEED_ID", "quantity": 1}},
            note="A donor may pledge to at most `AIDMAP_DISCLOSURE_LIMIT_PER_DAY` (5) different needs in 24 hours without a delivery (cancelled pledges count; a confirmed delivery gives one back): past it, `DISCLOSURE_LIMIT`."),
    Example("collectionPoints", "query", "query ($near: GeoPointInput!) { collectionPoints(near: $near, radiusMeters: 5000) { id name address location { lat lon } reachMeters unitsLeftToday } }",
            {"near": NEAR}, "key",
            "Open collection points near a place (ward offices, charities' depots, opened by admins): a donor may pledge through one "
            "within their offer's radius (`pledge` with `offerId` and `collectionPointId`) to a need it reaches, drop the goods there, "
            "and its manager carries them on. The donor then never sees the need's address or phone; the manager does."),
    Example("myRelays", "query", "{ myRelays { id quantity collectionPoint { name } need { title exactLocation { lat lon } contactPhone } } }",
            note="For a collection point's manager: the relayed pledges to carry, oldest first, each need's address and phone "
                 "shown once the pledge is accepted (with `private:read`). The manager marks them delivered (`markDelivered`)."),
    Example("myPledges", "query", "{ myPledges(first: 10) { edges { node { id quantity status need { title exactLocation { lat lon } contactPhone } } } } }",
            note="Once your pledge is accepted (when you make it, unless the server runs with `AIDMAP_DISCLOSE_ON=accept`), the need's exact location and phone are yours to see (with `private:read`) until it is delivered or cancelled."),
    Example("sendMessage", "mutation", "mutation ($input: SendMessageInput!) { sendMessage(input: $input) { message { id body } errors { code } } }", {"input": {"pledgeId": "$PLEDGE_ID", "body": "Tôi sẽ đến lúc 5 giờ chiều"}}),
    Example("messages", "query", "query ($id: ID!) { messages(pledgeId: $id) { body isMine sender { displayName } } }", {"id": "$PLEDGE_ID"}),
    Example("setNotificationSettings", "mutation", "mutation ($input: NotificationSettingsInput!) { setNotificationSettings(input: $input) { settings { language timeZone quietHoursStart quietHoursEnd smsKinds pushKinds } errors { field code } } }",
            {"input": {"language": "vi", "smsKinds": ["PLEDGE_CREATED", "NEED_EXPIRING"], "quietHoursStart": "22:00", "quietHoursEnd": "06:00"}},
            note="Which kinds reach the person by SMS and by Web Push, their language and quiet hours (local time; instant help for urgent needs is sent anyway). Fields left out keep their value."),
    Example("myNotificationSettings", "query", "{ myNotificationSettings { language timeZone quietHoursStart quietHoursEnd smsKinds pushKinds pushSubscriptions } }"),
    Example("myNotifications", "query", "{ myNotifications(first: 10) { kind channel status title body reason sentAt } }",
            note="What the person was told outside the socket, newest first: `DELIVERED`, `FAILED` (after the retries), `SKIPPED` (daily cap, monthly budget) or `PENDING` (with the reason: quiet hours, a retry)."),
    Example("acceptPledge", "mutation", "mutation ($input: AcceptPledgeInput!) { acceptPledge(input: $input) { pledge { id acceptedAt } errors { code } } }", {"input": {"pledgeId": "$MY_PLEDGE_ID"}},
            note="The requester (or whoever filed the need) accepts a pledge on their need; on a server with `AIDMAP_DISCLOSE_ON=accept` only then does the donor see the exact location and phone. Elsewhere pledges are accepted when made (`INVALID_STATE`)."),
    Example("markDelivered", "mutation", "mutation ($input: MarkDeliveredInput!) { markDelivered(input: $input) { pledge { id status markedDeliveredAt } errors { code } } }", {"input": {"pledgeId": "$PLEDGE_ID"}},
            note="The donor says they delivered their pledge: the requester (or whoever filed the need for them) is told and asked to confirm. The pledge stays `PLEDGED` until they do."),
    Example("confirmDelivery", "mutation", "mutation ($input: ConfirmDeliveryInput!) { confirmDelivery(input: $input) { pledge { id status } errors { code } } }", {"input": {"pledgeId": "$MY_PLEDGE_ID"}},
            note="The requester confirms a pledge on their need."),
    Example("cancelPledge", "mutation", "mutation ($input: CancelPledgeInput!) { cancelPledge(input: $input) { pledge { id status } errors { code } } }", {"input": {"pledgeId": "$PLEDGE_ID"}}),
    Example("withdrawOffer", "mutation", "mutation ($input: WithdrawOfferInput!) { withdrawOffer(input: $input) { offer { id status } errors { code } } }", {"input": {"offerId": "$OFFER_ID"}}),
    Example("cancelNeed", "mutation", "mutation ($input: CancelNeedInput!) { cancelNeed(input: $input) { need { id status } errors { code } } }", {"input": {"needId": "$MY_NEED_ID"}}),
    # -- verification and administration
    Example("verificationQueue", "query", "{ verificationQueue(first: 10) { edges { node { id title status reports { reason } possibleDuplicateOf { id } } } } }", note="Verifiers and admins (scope `verify`)."),
    Example("verifyNeed", "mutation", "mutation ($input: VerifyNeedInput!) { verifyNeed(input: $input) { need { id status } errors { code } } }", {"input": {"needId": "$NEED_ID"}}),
    Example("rejectNeed", "mutation", "mutation ($input: RejectNeedInput!) { rejectNeed(input: $input) { need { id status } errors { code } } }", {"input": {"needId": "$OTHER_NEED_ID", "reason": "Trùng với yêu cầu khác"}}),
    Example("areaStats", "query", 'query { areaStats(areaCode: "00070") { area { name } counts { category status count } peopleHelped medianSecondsToFirstPledge } }'),
    Example("grantRole", "mutation", "mutation ($input: GrantRoleInput!) { grantRole(input: $input) { account { id } errors { code } } }",
            {"input": {"accountId": "$OTHER_ACCOUNT_ID", "role": "VERIFIER", "areaCodes": ["00070"]}}, "token", "Admins only, with their own token: never through a partner key."),
    Example("revokeRole", "mutation", "mutation ($input: RevokeRoleInput!) { revokeRole(input: $input) { account { id } errors { code } } }",
            {"input": {"accountId": "$OTHER_ACCOUNT_ID", "role": "VERIFIER"}}, "token"),
    # -- webhooks and import
    Example("createWebhook", "mutation", "mutation ($input: CreateWebhookInput!) { createWebhook(input: $input) { webhook { id secret events } errors { field code } } }",
            {"input": {"url": "$WEBHOOK_URL", "events": ["NEED_CREATED", "PLEDGE_CREATED"], "near": NEAR, "radiusMeters": 5000}}, "key",
            "Store `secret`: it is shown only now, and signs every delivery."),
    Example("webhooks", "query", "{ webhooks { id url events } }", auth="key"),
    Example("webhookDeliveries", "query", "query ($id: ID!) { webhookDeliveries(webhookId: $id) { eventId status attempts lastStatusCode } }", {"id": "$WEBHOOK_ID"}, "key"),
    Example("deleteWebhook", "mutation", "mutation ($id: ID!) { deleteWebhook(webhookId: $id) { webhook { id } errors { code } } }", {"id": "$WEBHOOK_ID"}, "key"),
    Example("importNeeds", "mutation", "mutation ($input: ImportNeedsInput!) { importNeeds(input: $input) { imported skipped failed { line field message } errors { code } } }",
            {"input": {"format": "CSV", "content": "external_id,category,title,quantity,unit,lat,lon,contact_phone\nHK-9,FOOD,Sữa cho em bé,6,hộp,21.029,105.853,0912 000 009\n"}},
            note="Operators (scope `import`); re-sending the same external_id creates nothing."),
    # -- live
    Example("needsNearby", "subscription", "subscription ($near: GeoPointInput!) { needsNearby(near: $near, radiusMeters: 3000) { cursor kind distanceMeters need { id title status } } }", {"near": NEAR}, "key",
            "Keep the last `cursor`; after a reconnect pass it as `after` to get what you missed, in order."),
    Example("offersNearby", "subscription", "subscription ($near: GeoPointInput!) { offersNearby(near: $near, radiusMeters: 3000) { cursor kind offer { id title } } }", {"near": NEAR}, "key"),
    Example("myActivity", "subscription", "subscription { myActivity { cursor kind need { title } pledge { quantity } message { body } } }"),
]  # fmt: skip


def _env_expanded_json(value: object) -> str:
    """JSON for a single-quoted shell string: "$NAME" placeholders become '"$NAME"' splices."""
    text = json.dumps(value, ensure_ascii=False)
    for name in PLACEHOLDERS:
        text = text.replace(f'"${name}"', f'"\'"${name}"\'"')
    return text


PLACEHOLDERS = [
    "NEW_PHONE", "USER_PHONE", "NEED_ID", "OFFER_ID", "MY_NEED_ID", "FILED_NEED_ID", "HELP_REQUEST_ID", "PLEDGE_ID",
    "MY_PLEDGE_ID", "OTHER_NEED_ID", "OTHER_ACCOUNT_ID", "WEBHOOK_URL", "WEBHOOK_ID",
]  # fmt: skip


def curl(example: Example) -> str:
    headers = {
        "key": ['-H "Authorization: Bearer $AIDMAP_KEY"'],
        "user": ['-H "Authorization: Bearer $AIDMAP_KEY"', '-H "Aidmap-Act-As: $ACCOUNT_ID"'],
        "token": ['-H "Authorization: Bearer $AIDMAP_TOKEN"'],
    }[example.auth]
    body = _env_expanded_json({"query": example.document, "variables": example.variables})
    if example.kind == "subscription":
        return "# Subscriptions need a websocket (graphql-transport-ws): see the Python and JavaScript tabs."
    return "\n".join(
        [f'curl -s "$AIDMAP_URL/graphql" -H "Content-Type: application/json" {" ".join(headers)} \\', f"  -d '{body}'"]
    )


def _py_variables(variables: dict[str, object]) -> str:
    text = json.dumps(variables, ensure_ascii=False)
    for name in PLACEHOLDERS:
        text = text.replace(f'"${name}"', f'os.environ["{name}"]')
    return text.replace("true", "True").replace("false", "False")


def python(example: Example) -> str:
    auth = {
        "key": 'headers = {"Authorization": f"Bearer {os.environ[\'AIDMAP_KEY\']}"}',
        "user": 'headers = {"Authorization": f"Bearer {os.environ[\'AIDMAP_KEY\']}", "Aidmap-Act-As": os.environ["ACCOUNT_ID"]}',
        "token": 'headers = {"Authorization": f"Bearer {os.environ[\'AIDMAP_TOKEN\']}"}',
    }[example.auth]
    lines = ["import asyncio, json, os", "from gql import Client, gql"]
    if example.kind == "subscription":
        init = {
            "key": '{"authorization": f"Bearer {os.environ[\'AIDMAP_KEY\']}"}',
            "user": '{"authorization": f"Bearer {os.environ[\'AIDMAP_KEY\']}", "actAs": os.environ["ACCOUNT_ID"]}',
            "token": '{"authorization": f"Bearer {os.environ[\'AIDMAP_TOKEN\']}"}',
        }[example.auth]
        lines += [
            "from gql.transport.websockets import WebsocketsTransport",
            "",
            "async def main():",
            "    transport = WebsocketsTransport(",
            '        url=os.environ["AIDMAP_URL"].replace("http", "ws", 1) + "/graphql",',
            f"        init_payload={init},",
            "        subprotocols=[WebsocketsTransport.GRAPHQLWS_SUBPROTOCOL],  # graphql-transport-ws",
            "    )",
            "    async with Client(transport=transport) as session:",
            f"        async for event in session.subscribe(gql({example.document!r}), variable_values={_py_variables(example.variables)}):",
            "            print(json.dumps(event, ensure_ascii=False))",
            "            break  # a real client keeps listening, remembering event cursors",
            "",
            "asyncio.run(main())",
        ]
    else:
        lines += [
            "from gql.transport.httpx import HTTPXAsyncTransport",
            "",
            "async def main():",
            f"    {auth}",
            '    transport = HTTPXAsyncTransport(url=os.environ["AIDMAP_URL"] + "/graphql", headers=headers)',
            "    async with Client(transport=transport) as session:",
            f"        result = await session.execute(gql({example.document!r}), variable_values={_py_variables(example.variables)})",
            "        print(json.dumps(result, ensure_ascii=False))",
            "",
            "asyncio.run(main())",
        ]
    return "\n".join(lines)


def _js_variables(variables: dict[str, object]) -> str:
    text = json.dumps(variables, ensure_ascii=False)
    for name in PLACEHOLDERS:
        text = text.replace(f'"${name}"', f"process.env.{name}")
    return text


def javascript(example: Example) -> str:
    params = {
        "key": "{ authorization: `Bearer ${process.env.AIDMAP_KEY}` }",
        "user": "{ authorization: `Bearer ${process.env.AIDMAP_KEY}`, actAs: process.env.ACCOUNT_ID }",
        "token": "{ authorization: `Bearer ${process.env.AIDMAP_TOKEN}` }",
    }[example.auth]
    return "\n".join([
        'import { createClient } from "graphql-ws";',
        'import WebSocket from "ws"; // browsers and Node 22+ have their own WebSocket',
        "",
        "const client = createClient({",
        '  url: process.env.AIDMAP_URL.replace(/^http/, "ws") + "/graphql",',
        "  webSocketImpl: WebSocket,",
        f"  connectionParams: {params},",
        "});",
        f"const query = {json.dumps(example.document, ensure_ascii=False)};",
        f"for await (const result of client.iterate({{ query, variables: {_js_variables(example.variables)} }})) {{",
        "  console.log(JSON.stringify(result));",
        "  break; // " + ("a real client keeps listening" if example.kind == "subscription" else "one result"),
        "}",
        "await client.dispose();",
    ])  # fmt: skip

ATTESTATION_QUERY = (
    "query ($id: ID!) { node(id: $id) { id ... on Need { category title details quantity unit urgency householdSize "
    "approximateLocation { lat lon } verification { verifiedAt attestedBy attestation area { code name } } } } }"
)

# The guide's offline check of an attestation, in Python (jwcrypto) and JavaScript (npm jose). The tests
# run both (tests/docs/test_partner_docs.py): against a real server, and on tampered, foreign-key and
# revoked tokens, which must fail.
PYTHON_ATTESTATION = f"""import base64, hashlib, json
from jwcrypto import jwk, jwt  # pip install jwcrypto; any JOSE library with EdDSA works

def public_hash(need):
    \"\"\"The hash an attestation carries, from the need as the public API shows it to anyone.\"\"\"
    loc = need["approximateLocation"]
    fields = {{key: need[key] for key in ("category", "title", "details", "quantity", "unit", "urgency", "householdSize")}}
    fields["approximateLocation"] = f"{{loc['lat']:.6f}},{{loc['lon']:.6f}}"
    canonical = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return base64.urlsafe_b64encode(hashlib.sha256(canonical.encode()).digest()).decode().rstrip("=")

def check_attestation(token, jwks, status, need=None):
    \"\"\"The claims of a valid, unexpired, unrevoked attestation (of `need`, when given), else None.
    jwks and status are the deployment's /.well-known/jwks.json and /attestations/status, fetched
    earlier and cached: the check itself is offline.\"\"\"
    try:
        verified = jwt.JWT(jwt=token, key=jwk.JWKSet.from_json(json.dumps(jwks)), algs=["EdDSA"])  # checks exp
    except Exception:
        return None
    claims = json.loads(verified.claims)
    if verified.token.jose_header.get("typ") != "aidmap-attestation+jwt" or claims["iss"] != status["issuer"]:
        return None
    if claims["jti"] in status["revoked"]:
        return None
    if need is not None and (claims["sub"] != need["id"] or claims["need_hash"] != public_hash(need)):
        return None
    return claims

if __name__ == "__main__":
    import os, urllib.request
    base = os.environ["AIDMAP_URL"]
    get = lambda path: json.load(urllib.request.urlopen(base + path))  # cache these (Cache-Control, ETag)
    jwks, status = get("/.well-known/jwks.json"), get("/attestations/status")
    request = urllib.request.Request(base + "/graphql", headers={{"Content-Type": "application/json"}},
        data=json.dumps({{"query": {ATTESTATION_QUERY!r}, "variables": {{"id": os.environ["NEED_ID"]}}}}).encode())
    need = json.load(urllib.request.urlopen(request))["data"]["node"]
    claims = check_attestation(need["verification"]["attestation"], jwks, status, need)
    print(json.dumps({{"valid": claims is not None, "ward": claims and claims["ward"], "role": claims and claims["role"]}}))"""

JS_ATTESTATION = f"""import {{ createLocalJWKSet, jwtVerify }} from "jose"; // npm install jose
import {{ createHash }} from "node:crypto";

// The hash an attestation carries, from the need as the public API shows it to anyone.
export function publicHash(need) {{
  const {{ lat, lon }} = need.approximateLocation;
  const fields = {{ approximateLocation: `${{lat.toFixed(6)}},${{lon.toFixed(6)}}` }};
  for (const key of ["category", "title", "details", "quantity", "unit", "urgency", "householdSize"]) fields[key] = need[key];
  const sorted = Object.fromEntries(Object.entries(fields).sort(([a], [b]) => (a < b ? -1 : 1)));
  return createHash("sha256").update(JSON.stringify(sorted)).digest("base64url");
}}

// The claims of a valid, unexpired, unrevoked attestation (of `need`, when given), else null. jwks and
// status are the deployment's /.well-known/jwks.json and /attestations/status, fetched earlier and cached.
export async function checkAttestation(token, jwks, status, need) {{
  let payload;
  try {{
    ({{ payload }} = await jwtVerify(token, createLocalJWKSet(jwks), {{
      algorithms: ["EdDSA"], typ: "aidmap-attestation+jwt", issuer: status.issuer, // checks exp too
    }}));
  }} catch {{
    return null;
  }}
  if (status.revoked.includes(payload.jti)) return null;
  if (need && (payload.sub !== need.id || payload.need_hash !== publicHash(need))) return null;
  return payload;
}}

if (import.meta.url === `file://${{process.argv[1]}}`) {{
  const base = process.env.AIDMAP_URL;
  const get = async (path) => (await fetch(base + path)).json(); // cache these (Cache-Control, ETag)
  const [jwks, status] = [await get("/.well-known/jwks.json"), await get("/attestations/status")];
  const query = {json.dumps(ATTESTATION_QUERY)};
  const response = await fetch(base + "/graphql", {{
    method: "POST", headers: {{ "Content-Type": "application/json" }},
    body: JSON.stringify({{ query, variables: {{ id: process.env.NEED_ID }} }}),
  }});
  const need = (await response.json()).data.node;
  const claims = await checkAttestation(need.verification.attestation, jwks, status, need);
  console.log(JSON.stringify({{ valid: claims !== null, ward: claims && claims.ward, role: claims && claims.role }}));
}}"""


def attestation_section() -> list[str]:
    return [
        "## Verified needs: checking an attestation offline",
        "",
        "When a verifier of a need's ward (or an admin) verifies it, aidmap signs the fact: "
        "`Need.verification.attestation` is a compact JWS (a JWT, `alg` EdDSA over Ed25519, `typ` "
        "`aidmap-attestation+jwt`) whose claims are `iss` (the deployment's public URL), `sub` (the need's id), "
        "`jti`, `iat`, `exp` (30 days by default), `ward` (the ward's code), `role` (`VERIFIER` or `ADMIN`: the "
        "role, never the person), `verified_at` and `need_hash`, a hash of the need's public fields. It holds "
        "nothing a stranger could not see already: no exact location, phone or name.",
        "",
        "Your app can check it without asking aidmap each time. Fetch `GET /.well-known/jwks.json` (the public "
        "keys; `Cache-Control: max-age=3600`) and `GET /attestations/status` (`{issuer, revoked: [jti, ...]}`, the "
        "unexpired attestations that no longer hold because the need was edited or rejected; `max-age=300`), "
        "cache them (both answer `ETag` / `If-None-Match`), and check offline: the signature and `exp`, that `jti` "
        "is not revoked, and that `need_hash` matches the need you show. `need_hash` is base64url(SHA-256) of the "
        "JSON object `{approximateLocation: \"<lat>,<lon>\" (6 decimals), category, details, householdSize, "
        "quantity, title, unit, urgency}` (keys sorted, no spaces, UTF-8), with the values the public API returns.",
        "",
        "When aidmap rotates its key (`aidmap keys rotate`) the old key stays in the JWKS until what it signed has "
        "expired, so refetching the JWKS when you meet an unknown `kid` is enough.",
        "",
        "```python",
        PYTHON_ATTESTATION,
        "```",
        "",
        "```js",
        JS_ATTESTATION,
        "```",
        "",
        "Both run as they are (`AIDMAP_URL`, `NEED_ID`) and print `{\"valid\": true, \"ward\": ..., \"role\": ...}`.",
        "",
        "Another aidmap deployment can take your verified needs with their verification: its operator trusts your "
        "keys once (`aidmap trust add --jwks https://your-aidmap/.well-known/jwks.json --name \"Hue-S\"`, fetched "
        "then and cached; `aidmap trust refresh` from cron picks up rotations and revocations, never per request), "
        "and a partner key sends the token as `attestation` in `createNeed` or as the `attestation` column of "
        "`importNeeds`. The need must have the same public fields (and, where the deployment knows its wards, the "
        "same ward); it is then verified there, shown as \"verified by <ward>, attested by <deployment>\" "
        "(`verification { area { name } attestedBy }`), without waiting in the ward's queue. An attestation that "
        "is not from a trusted deployment, does not verify, has expired or been revoked, or is for other public "
        "fields is refused with `ATTESTATION_INVALID` and nothing is written (an import reports the row).",
        "",
    ]



def render() -> str:
    head = (ROOT / "docs" / "partners.intro.md").read_text(encoding="utf-8")
    parts = [head.rstrip(), "", *attestation_section(), "## Every operation", ""]
    parts.append(
        "Each operation below has the same three forms. They read `AIDMAP_URL`, `AIDMAP_KEY` (a partner key),"
        " `ACCOUNT_ID` (the account you act for) and the ids they name from the environment."
        " `tests/docs/test_partner_docs.py` runs every one of them against a real server."
    )
    sections = {"query": "Queries", "mutation": "Mutations", "subscription": "Subscriptions"}
    for kind, title in sections.items():
        parts += ["", f"### {title}"]
        for example in (e for e in EXAMPLES if e.kind == kind):
            parts += ["", f"#### `{example.field}`", ""]
            if example.note:
                parts += [example.note, ""]
            auth = {
                "key": "the partner key",
                "user": "the partner key acting for `$ACCOUNT_ID`",
                "token": "a user's own token",
            }[example.auth]
            parts += [f"Sent with {auth}.", ""]
            parts += [f"```sh example={example.field}", curl(example), "```", ""]
            parts += [f"```python example={example.field}", python(example), "```", ""]
            parts += [f"```js example={example.field}", javascript(example), "```"]
    return "\n".join(parts) + "\n"


if __name__ == "__main__":
    sys.stdout.write(render())
