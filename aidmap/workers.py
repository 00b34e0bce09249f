"""What each process of `aidmap serve --workers N` imports.

uvicorn spawns N fresh interpreters that share the parent's listening socket; each one imports
this module (the HTTP protocol class by name, then the app factory) and builds its own app from
the environment the parent prepared: its own database pools, event listener, match index and
background jobs, exactly as a lone `aidmap serve` does (create_app's lifespan). Nothing is shared
between workers but PostgreSQL, which is what already makes several processes agree (the outbox
and NOTIFY for events, shared rate-limit buckets, SKIP LOCKED jobs).
"""

from __future__ import annotations

import os

from starlette.applications import Starlette

from aidmap.guards.connections import guarded_protocol
from aidmap.observability import configure_logging
from aidmap.settings import Settings

# The migrated database's URL, set by the parent (`aidmap serve` may have started a local cluster,
# whose URL is known only once it runs).
DATABASE_URL_VARIABLE = "AIDMAP_WORKER_DATABASE_URL"

# Spawned interpreters inherit no logging set-up: the same JSON lines as the parent's.
configure_logging(os.environ.get("AIDMAP_LOG_FORMAT", "json"))
_settings = Settings.from_env()

# uvicorn's `http=` by import path (a class made in the parent could not be sent to a spawned child).
# Its per-address connection cap is per worker: a client may hold up to N times as many in all.
HTTPProtocol = guarded_protocol(
    head_timeout_s=_settings.head_timeout_seconds, max_per_ip=_settings.max_connections_per_ip
)


def app() -> Starlette:
    """uvicorn's app factory (`factory=True`), called once in each worker."""
    from aidmap.app import create_app

    return create_app(_settings, database_url=os.environ[DATABASE_URL_VARIABLE])
