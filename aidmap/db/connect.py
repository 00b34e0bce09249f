"""The one place a plain (synchronous) psycopg connection is opened: the command line's helpers,
the demo seed and start-up scans that run before (or outside) the pools."""

from __future__ import annotations

from typing import Any

import psycopg

from aidmap.db.reader import conninfo_from_url


def connect(url: str, **options: Any) -> psycopg.Connection[Any]:
    """A connection to the database at this URL (a SQLAlchemy URL or a libpq one); statements use
    `%(name)s::type` placeholders (the rule in db/__init__.py);
    options go to psycopg.connect (autocommit=True, ...). Use it as a context manager."""
    return psycopg.connect(conninfo_from_url(url), **options)
