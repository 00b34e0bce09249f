// A partner's offline check of aidmap attestations with npm's jose (tests/schema/test_attestations.py):
// node verify-attestation.mjs CASES.json, where CASES.json holds {jwks, status, tokens}, fetched once
// from /.well-known/jwks.json and /attestations/status. Prints one true/false per token.
import { readFileSync } from "node:fs";
import { createLocalJWKSet, jwtVerify } from "jose";

const { jwks, status, tokens } = JSON.parse(readFileSync(process.argv[2], "utf8"));
const keys = createLocalJWKSet(jwks);
const results = [];
for (const token of tokens) {
  try {
    const { payload } = await jwtVerify(token, keys, {
      algorithms: ["EdDSA"],
      typ: "aidmap-attestation+jwt",
      issuer: status.issuer,
    });
    results.push(!status.revoked.includes(payload.jti));
  } catch {
    results.push(false);
  }
}
console.log(JSON.stringify(results));
