"""Web Push: VAPID (RFC 8292) signs who is sending, RFC 8291 (aes128gcm, `http_ece`) encrypts the
payload for the one browser that subscribed, so the push service carries it without reading it.

The POST itself goes through the vetted HTTP client the webhooks use (aidmap/net/http.py `post`):
one deadline for the whole attempt, no redirects, and only public addresses unless allowed (tests):
a push endpoint is a URL a browser handed us, as untrusted as a partner's webhook URL.
"""

from __future__ import annotations

import base64
import ipaddress
import json
import os
import socket
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import http_ece
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from py_vapid import Vapid02

from aidmap.i18n import msg
from aidmap.net.http import inside_network

TTL_SECONDS = 24 * 3600


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def new_vapid_pair() -> tuple[str, str]:
    """(private, public): the raw P-256 private key and the uncompressed public point, base64url, as
    AIDMAP_VAPID_PRIVATE_KEY takes the one and the browser's applicationServerKey the other."""
    key = ec.generate_private_key(ec.SECP256R1())
    private = key.private_numbers().private_value.to_bytes(32, "big")
    return b64url(private), public_key_of(b64url(private))


def _vapid(private_b64: str) -> Vapid02:
    return Vapid02.from_raw(private_b64.encode())


def public_key_of(private_b64: str) -> str:
    vapid = _vapid(private_b64)
    point = vapid.public_key.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    return b64url(point)


def valid_private_key(private_b64: str) -> bool:
    try:
        public_key_of(private_b64)
    except Exception:  # any malformed key: the setting is refused at start
        return False
    return True


@dataclass(frozen=True)
class PushRequest:
    url: str
    body: bytes
    headers: dict[str, str]


def encrypt(payload: bytes, *, p256dh: str, auth: str) -> bytes:
    """RFC 8291: an ephemeral ECDH key against the browser's, its auth secret, aes128gcm; the header
    block carries the salt and the ephemeral public key."""
    ephemeral = ec.generate_private_key(ec.SECP256R1())
    return http_ece.encrypt(
        payload, salt=os.urandom(16), private_key=ephemeral, dh=unb64url(p256dh), auth_secret=unb64url(auth),
        version="aes128gcm",
    )  # fmt: skip


def build(
    message: dict[str, Any], *, endpoint: str, p256dh: str, auth: str, private_key: str, subject: str, urgent: bool
) -> PushRequest:
    body = encrypt(json.dumps(message, ensure_ascii=False).encode(), p256dh=p256dh, auth=auth)
    parts = urlsplit(endpoint)
    claims = {"aud": f"{parts.scheme}://{parts.netloc}", "sub": subject}
    headers = {key: str(value) for key, value in _vapid(private_key).sign(claims).items()}
    headers |= {
        "Content-Type": "application/octet-stream", "Content-Encoding": "aes128gcm", "TTL": str(TTL_SECONDS),
        "Urgency": "high" if urgent else "normal", "User-Agent": "aidmap-push/1",
    }  # fmt: skip
    return PushRequest(url=endpoint, body=body, headers=headers)


def endpoint_problem(endpoint: str, *, allow_private: bool) -> str | None:
    """Why this push endpoint is refused at subscription, or None."""
    if len(endpoint) > 2000 or not endpoint.isprintable() or not endpoint.isascii():
        return msg("Give the push subscription's https endpoint.")
    parts = urlsplit(endpoint)
    if len(endpoint) > 2000 or not parts.hostname or parts.scheme not in ("https", "http"):
        return msg("Give the push subscription's https endpoint.")
    if parts.scheme == "http" and not allow_private:
        return msg("Give the push subscription's https endpoint.")
    if not allow_private and _literal_inside_network(parts.hostname):
        return INSIDE_NETWORK
    return None


INSIDE_NETWORK = msg("Push endpoints must reach the public internet, not addresses inside this network.")


def _literal_inside_network(host: str) -> bool:
    """The host is an IP literal (any form a resolver takes: 127.0.0.1, 0x7f000001, 2130706433, ::1)
    inside the network. Names are checked when each push connects (aidmap/net/http.py)."""
    try:
        return inside_network(str(ipaddress.ip_address(host.split("%", 1)[0])))
    except ValueError:
        pass
    try:
        packed = socket.inet_aton(host)  # the old numeric forms: hex, octal, fewer parts
    except OSError:
        return False
    return inside_network(socket.inet_ntoa(packed))


def key_problem(p256dh: str, auth: str) -> str | None:
    if len(p256dh) > 200 or len(auth) > 100:
        return msg("The subscription's keys are too long.")
    if not (p256dh.isascii() and auth.isascii()):
        return msg("The subscription's keys are not a P-256 public key and an auth secret (base64url).")
    try:
        point, secret = unb64url(p256dh), unb64url(auth)
        ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), point)
    except Exception:
        return msg("The subscription's keys are not a P-256 public key and an auth secret (base64url).")
    if len(secret) < 16:
        return msg("The subscription's auth secret is too short.")
    return None
