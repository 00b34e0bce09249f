"""A local HTTP server standing in for a remote service aidmap calls (an SMS gateway, a Web Push
service, a partner's webhook receiver): on a free 127.0.0.1 port, served from a thread."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class QuietHandler(BaseHTTPRequestHandler):
    def log_message(self, *args: Any) -> None:
        pass  # the test's output, not a line per request


class StandIn:
    """Serves `handler` until `close()` (fixtures: `with contextlib.closing(...)`); `url` ends with `path`."""

    def __init__(self, handler: type[BaseHTTPRequestHandler], path: str = "") -> None:
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.server.daemon_threads = True  # a request still held (the gateway's status 0) does not hold up close()
        self.url = f"http://127.0.0.1:{self.server.server_port}{path}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
