"""A small graphql-transport-ws client for tests (the protocol is five message types)."""

from __future__ import annotations

import contextlib
import itertools
import json
import socket
import time
from typing import Any

import httpx2
from websockets.sync.client import ClientConnection, connect

PROTOCOL = "graphql-transport-ws"


class LiveClient:
    def __init__(self, url: str, token: str | None = None, source: str | None = None) -> None:
        """`source`: connect from this local address (127.0.0.2...), another client to per-address limits."""
        self._stack = contextlib.ExitStack()
        sock = None
        if source is not None:
            host, _, port = url.removeprefix("http://").partition(":")
            sock = socket.create_connection((host, int(port)), timeout=10, source_address=(source, 0))
        connection = connect(url.replace("http", "ws", 1) + "/graphql", subprotocols=[PROTOCOL], sock=sock)  # type: ignore[list-item]
        self.ws: ClientConnection = self._stack.enter_context(connection)
        self._ids = itertools.count(1)
        self.ws.send(
            json.dumps({"type": "connection_init", "payload": {"authorization": f"Bearer {token}"} if token else {}})
        )
        ack = json.loads(self.ws.recv(timeout=10))
        assert ack["type"] == "connection_ack", ack

    def subscribe(self, query: str, variables: dict[str, Any] | None = None) -> str:
        op_id = str(next(self._ids))
        self.ws.send(
            json.dumps({"id": op_id, "type": "subscribe", "payload": {"query": query, "variables": variables or {}}})
        )
        return op_id

    def next(self, timeout: float = 10) -> dict[str, Any]:
        """The next `next` or `error` message's payload (pings are answered)."""
        while True:
            message = json.loads(self.ws.recv(timeout=timeout))
            if message["type"] == "ping":
                self.ws.send(json.dumps({"type": "pong"}))
                continue
            if message["type"] in ("next", "error"):
                result: dict[str, Any] = (
                    message["payload"] if message["type"] == "next" else {"errors": message["payload"]}
                )
                return result
            raise AssertionError(message)

    def nothing_within(self, seconds: float) -> bool:
        try:
            message = self.ws.recv(timeout=seconds)
        except TimeoutError:
            return True
        raise AssertionError(f"unexpected message: {message}")

    def close(self) -> None:
        self._stack.close()

    def __enter__(self) -> LiveClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def wait_healthy(url: str, timeout: float = 60) -> None:
    """Until the aidmap server at `url` answers /healthz (a process started by the test)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx2.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except httpx2.HTTPError:
            pass
        assert time.monotonic() < deadline, "server did not start"
        time.sleep(0.2)
