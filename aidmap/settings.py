"""Configuration from the environment (AIDMAP_*), read in one place."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def _env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return raw.strip().lower() in {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class Settings:
    # With no URL the service starts its own PostGIS cluster in `data_dir`.
    database_url: str | None = None
    data_dir: Path = PROJECT_ROOT / ".aidmap"
    pg_port: int = 54329
    pg_bin_dir: Path | None = None
    host: str = "127.0.0.1"
    port: int = 8000
    token_ttl_days: int = 30
    # argon2 profile name from argon2.profiles; tests use CHEAPEST.
    password_hash_profile: str = "RFC_9106_LOW_MEMORY"
    db_pool_size: int = 10
    # One log line per request costs ~0.1 ms; off unless asked for.
    access_log: bool = False
    # Events a live subscriber may have waiting before it is disconnected as too slow.
    subscriber_queue_limit: int = 256
    # How often the listener reads the outbox even without a NOTIFY (the fallback).
    event_poll_seconds: float = 1.0
    # How often each process expires needs and sends "still need help?" prompts.
    expiry_interval_seconds: float = 60.0
    # How long each round of instant-help donors has to accept before the next 3 are asked.
    help_timeout_seconds: float = 60.0
    # Execute a live event's selection once per process for all subscribers who asked the same.
    share_event_results: bool = True

    @classmethod
    def from_env(cls) -> Settings:
        env = os.environ
        bin_dir = env.get("AIDMAP_PG_BIN")
        return cls(
            database_url=env.get("AIDMAP_DATABASE_URL") or None,
            data_dir=Path(env.get("AIDMAP_DATA_DIR", str(PROJECT_ROOT / ".aidmap"))),
            pg_port=int(env.get("AIDMAP_PG_PORT", "54329")),
            pg_bin_dir=Path(bin_dir) if bin_dir else None,
            host=env.get("AIDMAP_HOST", "127.0.0.1"),
            port=int(env.get("AIDMAP_PORT", "8000")),
            token_ttl_days=int(env.get("AIDMAP_TOKEN_TTL_DAYS", "30")),
            password_hash_profile=env.get("AIDMAP_PASSWORD_HASH_PROFILE", "RFC_9106_LOW_MEMORY"),
            db_pool_size=int(env.get("AIDMAP_DB_POOL_SIZE", "10")),
            access_log=_env_bool("AIDMAP_ACCESS_LOG", False),
            subscriber_queue_limit=int(env.get("AIDMAP_SUBSCRIBER_QUEUE", "256")),
            event_poll_seconds=float(env.get("AIDMAP_EVENT_POLL_SECONDS", "1.0")),
            expiry_interval_seconds=float(env.get("AIDMAP_EXPIRY_INTERVAL_SECONDS", "60")),
            help_timeout_seconds=float(env.get("AIDMAP_HELP_TIMEOUT_SECONDS", "60")),
            share_event_results=_env_bool("AIDMAP_SHARE_EVENT_RESULTS", True),
        )
