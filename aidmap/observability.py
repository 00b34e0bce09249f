"""Operations: request ids, JSON logs, Prometheus metrics (/metrics) and readiness (/readyz)."""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Iterator
from contextvars import ContextVar
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from strawberry.extensions import SchemaExtension

log = logging.getLogger("aidmap.requests")
request_id: ContextVar[str] = ContextVar("aidmap_request_id", default="-")
REQUEST_ID_HEADER = "x-request-id"


_REQUEST_ID_NAME = REQUEST_ID_HEADER.lower().encode()  # ASGI header names are lower-case


class RequestIdMiddleware:
    """Every HTTP request and websocket gets an id (the client's X-Request-Id if sane), in logs and the response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        given = next((v for n, v in scope.get("headers", ()) if n == _REQUEST_ID_NAME), b"").decode("latin-1")
        ident = given if 0 < len(given) <= 64 and given.replace("-", "").isalnum() else os.urandom(16).hex()
        token = request_id.set(ident)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), (b"x-request-id", ident.encode())]}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            request_id.reset(token)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request id, and the exception if any."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": request_id.get(),
        }
        for key in ("operation", "duration_ms", "outcome"):
            if hasattr(record, key):
                entry[key] = getattr(record, key)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def configure_logging(fmt: str) -> None:
    """`json` (the default for `aidmap serve`) or `text`."""
    handler = logging.StreamHandler()
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
        handler.formatter.converter = time.gmtime  # type: ignore[union-attr]
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)


class Metrics:
    """The process's Prometheus metrics (one registry per app, so tests can run many apps)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "aidmap_graphql_requests", "GraphQL operations by name and outcome", ["operation", "outcome"],
            registry=self.registry,
        )  # fmt: skip
        self.latency = Histogram(
            "aidmap_graphql_request_seconds", "GraphQL operation latency", ["operation"], registry=self.registry,
            buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
        )  # fmt: skip
        self.compiled = Counter(
            "aidmap_graphql_compiled_requests", "GraphQL operations answered by the compiled path (schema/fast/compiled.py)",
            registry=self.registry,
        )  # fmt: skip
        self.subscriptions = Gauge(
            "aidmap_open_subscriptions", "Live subscriptions in this process", registry=self.registry
        )
        self.event_lag = Gauge(
            "aidmap_event_lag_events", "Committed events this process has not fanned out yet", registry=self.registry
        )
        self.live_batch = Gauge(
            "aidmap_live_batch_messages", "needsNearby events since start: written by the live batch (direct) "
            "or handed to the subscriber's own stream (pushed)", ["path"], registry=self.registry,
        )  # fmt: skip
        self.webhook_failures = Counter(
            "aidmap_webhook_delivery_failures", "Webhook delivery attempts that failed", registry=self.registry
        )
        self.hot_reads = Counter(
            "aidmap_hot_reads", "Hot reads (searches, token look-ups, suggestions) by the server that answered "
            "(replica or primary; db/replica.py)", ["server"], registry=self.registry,
        )  # fmt: skip
        self.replica_lag = Gauge(
            "aidmap_replica_lag_seconds", "How far behind the read replica was at its last probe",
            registry=self.registry,
        )  # fmt: skip
        self.replica_fresh = Gauge(
            "aidmap_replica_fresh", "1 while the read replica may serve (within AIDMAP_READ_MAX_LAG_SECONDS)",
            registry=self.registry,
        )  # fmt: skip
        self.sms_messages = Counter(
            "aidmap_sms_messages", "Text messages by outcome (sent, failed, dropped)", ["outcome"],
            registry=self.registry,
        )  # fmt: skip
        self.notifications = Counter(
            "aidmap_notifications", "Notification attempts by channel (SMS, PUSH) and outcome "
            "(delivered, retried, failed, skipped)", ["channel", "outcome"], registry=self.registry,
        )  # fmt: skip
        self.sms_budget_used = Gauge(
            "aidmap_sms_budget_used_ratio", "Share of AIDMAP_SMS_MONTHLY_BUDGET spent this month",
            registry=self.registry,
        )  # fmt: skip


def operation_label(execution_context: Any) -> str:
    """The operation's root fields (up to 3), or "other" for documents that did not parse or name none."""
    document = execution_context.graphql_document
    if document is None:
        return "other"
    from aidmap.schema.limits import ROOT_SCOPES, root_fields

    # Only fields the schema has: a client cannot mint new label values (and series) by typos.
    fields = sorted(f for f in root_fields(document, execution_context.operation_name) if f in ROOT_SCOPES)
    return ",".join(fields[:3]) or "other"


class MetricsExtension(SchemaExtension):
    """Counts and times every operation (queries and mutations; subscriptions are counted as open streams)."""

    metrics: Metrics | None = None

    def on_operation(self) -> Iterator[None]:
        started = time.perf_counter()
        yield
        metrics = getattr(self.execution_context.context, "metrics", None)
        if metrics is None:
            return
        result = self.execution_context.result
        label = operation_label(self.execution_context)
        outcome = "error" if result is not None and getattr(result, "errors", None) else "ok"
        elapsed = time.perf_counter() - started
        metrics.requests.labels(label, outcome).inc()
        metrics.latency.labels(label).observe(elapsed)
        settings = getattr(self.execution_context.context, "settings", None)
        if settings is not None and settings.access_log:
            log.info(
                "graphql %s %s", label, outcome,
                extra={"operation": label, "outcome": outcome, "duration_ms": round(elapsed * 1000, 2)},
            )  # fmt: skip
