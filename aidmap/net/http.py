"""The outbound HTTP client for URLs that strangers hand us (partners' webhooks, browsers' push
endpoints): every address is checked when it connects (no inside-the-network targets, DNS rebinding
included), redirects are not followed, and each attempt has a total deadline."""

from __future__ import annotations

import contextlib
import http.client
import ipaddress
import socket
import ssl
import threading
from urllib.parse import urlsplit

from aidmap.i18n import msg

TIMEOUT_S = 5.0  # each connect, send, read
ATTEMPT_DEADLINE_S = 15.0  # one whole attempt (connect + send + read)
MAX_RESPONSE_BYTES = 64 * 1024  # what is read of an endpoint's answer (only its status counts)


def inside_network(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])  # an IPv6 zone ("fe80::1%eth0") is not part of it
    # Anything not globally routable: private, loopback, link-local (cloud metadata), shared (100.64/10)...
    return not ip.is_global or ip.is_multicast


def refuse_private(url: str, *, inside: str) -> str | None:
    """Why this URL may not be used (`inside` for an address inside the server's network), or None."""
    host = urlsplit(url).hostname or ""
    try:
        infos = socket.getaddrinfo(host, None)
    except OSError:
        return msg("The host of this URL cannot be resolved.")
    if any(inside_network(info[4][0]) for info in infos):
        return inside
    return None


REFUSED = "refused: "  # how `post` words an address inside the network (no retry can change that)


class AddressRefused(OSError):
    pass


def _vetted_socket(host: str, port: int, timeout: float | None, allow_private: bool) -> socket.socket:
    """A connection to `host`, made to an address checked at this moment.

    Checking the URL when the webhook is created is not enough: its host may resolve to an inside
    address later (DNS rebinding), so the names are resolved once here, every address is checked,
    and the socket connects to one of those very addresses (no second look-up in between).
    """
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    if not allow_private and any(inside_network(info[4][0]) for info in infos):
        raise AddressRefused(f"{REFUSED}{host} resolves to an address inside this network")
    failure: OSError = OSError(f"{host} has no address")
    for family, kind, proto, _, address in infos:
        sock = socket.socket(family, kind, proto)
        try:
            sock.settimeout(timeout)
            sock.connect(address)
            return sock
        except OSError as error:
            sock.close()
            failure = error
    raise failure


class _VettedHTTP(http.client.HTTPConnection):
    def __init__(self, host: str, port: int | None, *, timeout: float, allow_private: bool) -> None:
        super().__init__(host, port, timeout=timeout)
        self.allow_private = allow_private

    def connect(self) -> None:
        self.sock = _vetted_socket(self.host, self.port, self.timeout, self.allow_private)


class _VettedHTTPS(http.client.HTTPSConnection):
    def __init__(self, host: str, port: int | None, *, timeout: float, allow_private: bool) -> None:
        self.tls = ssl.create_default_context()
        super().__init__(host, port, timeout=timeout, context=self.tls)
        self.allow_private = allow_private

    def connect(self) -> None:
        sock = _vetted_socket(self.host, self.port, self.timeout, self.allow_private)
        self.sock = self.tls.wrap_socket(sock, server_hostname=self.host)


def post(
    url: str, body: bytes, headers: dict[str, str], *, allow_private: bool, deadline_s: float = ATTEMPT_DEADLINE_S
) -> tuple[int | None, str | None]:
    """POST once: (HTTP status, None) or (None, why it failed). Redirects are not followed (a 3xx is a
    failed attempt): following one would let an endpoint send the request to any address."""
    parts = urlsplit(url)
    connection_class = _VettedHTTPS if parts.scheme == "https" else _VettedHTTP
    try:
        connection = connection_class(parts.hostname or "", parts.port, timeout=TIMEOUT_S, allow_private=allow_private)
    except ValueError as error:  # a port that is not a number
        return None, str(error)[:300]
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    # TIMEOUT_S bounds each connect, send and read; an endpoint that answers a byte every few
    # seconds passes every one of them, so the whole attempt also has a deadline: past it the
    # socket is shut down under the blocked call.
    expired = threading.Event()

    def expire() -> None:
        expired.set()
        if connection.sock is not None:
            with contextlib.suppress(OSError):
                connection.sock.shutdown(socket.SHUT_RDWR)

    watchdog = threading.Timer(deadline_s, expire)
    watchdog.daemon = True
    watchdog.start()
    try:
        connection.request("POST", target, body=body, headers=headers)
        response = connection.getresponse()
        response.read(MAX_RESPONSE_BYTES)
        if expired.is_set():
            return None, f"no complete answer within {deadline_s:g} s"
        return response.status, None
    except (OSError, http.client.HTTPException) as error:
        if expired.is_set():
            return None, f"no complete answer within {deadline_s:g} s"
        return None, str(error)[:300] or type(error).__name__
    finally:
        watchdog.cancel()
        connection.close()
