"""Configuration from the environment (AIDMAP_*), read in one place."""

from __future__ import annotations

import dataclasses
import functools
import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parent.parent
# The reference page (static files, no build step).
FRONTEND_DIR = PROJECT_ROOT / "frontend_stub"


DISCLOSE_ON = ("pledge", "accept")
SMS_GATEWAYS = ("log", "twilio")


def _env_list(raw: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in raw.split(",") if part.strip())


@dataclass(frozen=True)
class Settings:
    # With no URL the service starts its own PostGIS cluster in `data_dir`.
    database_url: str | None = None
    # A streaming replica of that database for the hot reads (db/replica.py); None: all on the primary.
    read_database_url: str | None = None
    # The most a replica may be behind and still serve; also how long a revocation may wait for it.
    read_max_lag_seconds: float = 2.0
    data_dir: Path = PROJECT_ROOT / ".aidmap"
    pg_port: int = 54329
    pg_bin_dir: Path | None = None
    host: str = "127.0.0.1"
    port: int = 8000
    token_ttl_days: int = 30
    # argon2 profile name from argon2.profiles; tests use CHEAPEST.
    password_hash_profile: str = "RFC_9106_LOW_MEMORY"
    db_pool_size: int = 10
    # One client's searches at once on the hot-read pool, per process (db/shares.py); 0: no share.
    hot_reads_per_client: int = 2
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
    # needsNearby events are written to every idle subscriber by one task, one message encoded per
    # visibility class (schema/fast/live_batch.py); off: each subscriber's stream sends its own.
    live_batch: bool = True
    # Repeated plain nearby searches skip strawberry's per-request pipeline (schema/fast/compiled.py).
    compiled_queries: bool = True
    # Development mode: introspection and the GraphQL explorer on (`make run` sets it).
    dev: bool = False
    # New needs wait for a verifier of their ward before anyone else sees them.
    require_verification: bool = False
    # Quotas: open needs per person and category; a donor's pledges not yet delivered.
    max_open_needs_per_category: int = 3
    # Needs one account without the operator or admin role may file for other people in 24 h (each
    # texts a claim code to a phone it names: without a cap, anyone could spam phones at the SMS bill's cost).
    filed_for_others_per_day: int = 10
    # Live (ACTIVE, unexpired) offers per donor: each is work for every matching round.
    max_open_offers: int = 10
    max_active_pledges: int = 10
    # Against harvesting by pledge-and-cancel: the private fields of at most this many distinct needs
    # per donor per rolling 24 hours without a delivery (a confirmed delivery gives one back).
    disclosure_limit_per_day: int = 5
    # When a pledge releases the need's exact location and phone: at once ("pledge"), or only once the
    # requester or whoever filed the need accepts it ("accept").
    disclose_on: str = "pledge"
    # Reports from this many different accounts hide a need until a verifier or admin reviews it.
    reports_to_hide: int = 3
    # Only reports from accounts at least this old AND with a delivery confirmed by a requester at least
    # this old (or on a verified need) count towards hiding, weighed when filed (a reviewer's report
    # hides at once): fresh sock-puppets cannot hide a need, nor vouch for each other.
    reporter_trust_hours: int = 24
    # Keys the contact-phone hashes used for duplicate checks; with none, one is generated in data_dir.
    # Several processes on one database must share it (set AIDMAP_SECRET_KEY).
    secret_key: str = ""
    # Failed sign-ins per phone within the window before TOO_MANY_ATTEMPTS (counted in PostgreSQL; each
    # failure is forgotten after window / max_failures seconds, one at a time) ...
    sign_in_max_failures: int = 5
    sign_in_window_seconds: int = 900
    # ... and per client address (IPv6 by /64), for many phones tried from one place.
    sign_in_ip_max_failures: int = 30
    sign_in_ip_window_seconds: int = 900
    # Past the free failures each one locks the phone (or address) for this long, doubling, at most the cap.
    sign_in_backoff_seconds: float = 15.0
    sign_in_backoff_max_seconds: float = 300.0
    # SMS (aidmap/notify/sms.py): "log" (the default) writes messages to the log, whole in dev mode and
    # with digits and phones masked otherwise; "twilio" posts them to Twilio's Messages API, or to any
    # gateway that speaks it at sms_url.
    sms_gateway: str = "log"
    sms_url: str = "https://api.twilio.com"
    sms_account: str = ""
    sms_token: str = ""
    sms_from: str = ""
    # One attempt in all (connect + send + answer); transient failures are retried this many times in all.
    sms_timeout_seconds: float = 10.0
    sms_attempts: int = 3
    sms_retry_seconds: float = 5.0
    # Notifications (aidmap/notify/dispatch.py): each process queues and sends them as new events come
    # (the event listener wakes the job) and every notify_interval_seconds for what comes due by the
    # clock (retries, the end of quiet hours); the first
    # retry's delay (doubling, at most an hour) and the attempts before FAILED; SMS per person in 24 h
    # and per deployment per calendar month (0: no budget), with a warning from this share of it on.
    notify_interval_seconds: float = 5.0
    # Quiet hours for people who chose none (local time, HH:MM-HH:MM; equal ends: none) and their time zone.
    quiet_hours: str = "22:00-06:00"
    time_zone: str = "Asia/Ho_Chi_Minh"
    notify_retry_seconds: float = 30.0
    notify_attempts: int = 5
    sms_per_person_per_day: int = 5
    sms_monthly_budget: int = 0
    sms_budget_warn_ratio: float = 0.8
    # Web Push: the VAPID private key (`aidmap keys vapid`), the contact the push services see, and
    # whether endpoints may be private addresses (tests, closed deployments).
    vapid_private_key: str = ""
    vapid_subject: str = "mailto:operations@aidmap.invalid"
    push_allow_private: bool = False
    # Push subscriptions kept per account; a new one past this evicts the oldest.
    max_push_subscriptions: int = 5
    # Requests per minute per client IP (requests with a partner key count against the key's own limit).
    rate_limit_per_ip: int = 600
    # Requests per minute per signed-in account (besides its address's limit), shared by all processes.
    rate_limit_per_account: int = 600
    # Automatic persisted queries one client (partner key, account, else address) may store a day;
    # automatic ones kept in all (least recently used evicted); registered ones are never evicted.
    persisted_queries_per_client_per_day: int = 100
    max_persisted_queries: int = 10_000
    # Browser origins allowed besides the partners' own (CORS and websocket Origin check).
    allowed_origins: tuple[str, ...] = ()
    # GraphQL limits.
    max_query_depth: int = 10
    max_aliases: int = 30
    max_query_tokens: int = 800
    max_query_cost: int = 5000
    # Fragment spreads per document (`...Name`), refused before any other analysis.
    max_fragment_spreads: int = 500
    max_subscriptions_per_connection: int = 20
    connection_init_timeout_seconds: float = 10.0
    # How often each process rechecks the credentials of its open websockets (revoked: closed, 4403).
    socket_recheck_seconds: float = 3.0
    # Webhooks: each process queues and delivers on new events (woken by the listener) and every
    # webhook_interval_seconds for retries; the first retry's delay (doubling);
    # whether endpoints may be private addresses (tests, closed deployments).
    webhook_interval_seconds: float = 5.0
    webhook_retry_seconds: float = 10.0
    webhook_allow_private: bool = False
    # One delivery attempt in all (connect + send + read), however the endpoint trickles.
    webhook_timeout_seconds: float = 15.0
    # Request bodies: the largest accepted (importNeeds sends files) and how long one may take to arrive.
    max_body_bytes: int = 6_000_000
    body_timeout_seconds: float = 10.0
    # Connections (aidmap serve): how long a request head may take to arrive; open HTTP connections
    # per client address (0: no cap) and in all (uvicorn's limit_concurrency; 0: no cap), beyond
    # which new ones get a 503.
    head_timeout_seconds: float = 10.0
    max_connections_per_ip: int = 256
    max_connections: int = 10_000
    # Proxies whose X-Forwarded-For / X-Forwarded-Proto are believed (addresses or networks;
    # "*" for any): none by default, so a client cannot pick the address it is limited by.
    trusted_proxies: tuple[str, ...] = ()
    # This deployment's public URL (no trailing slash): the `iss` of its attestations, whose keys are at
    # <public_url>/.well-known/jwks.json, and the page's address in notifications. Default http://<host>:<port>.
    public_url: str = ""
    # How long an attestation of a verification holds (and how long a rotated-out key stays published).
    attestation_ttl_days: int = 30
    # Raster map tiles for the page ({z}/{x}/{y}); without, the page draws ward outlines only.
    tile_url: str = ""
    # Waiting needs reach further (aidmap/fairness/reach.py): after this many hours with nothing
    # pledged a need is seen by donors this many km/h farther than their own radius, in whole steps,
    # up to the cap (km from the donor's cell). 0 km/h: off.
    waiting_after_hours: float = 12.0
    waiting_reach_km_per_hour: float = 0.5
    waiting_reach_max_km: float = 25.0
    waiting_reach_step_km: float = 1.0
    # How often each process looks for needs whose reach grew (needsNearby WAITING events).
    waiting_interval_seconds: float = 60.0
    # Matching rounds (aidmap/fairness/matching.py): every this many minutes, pledges are proposed for
    # open offers (0: off, the default); the weight of fairness in the round's objective.
    matching_round_minutes: float = 0.0
    matching_fairness_weight: float = 0.5
    # Wards (aidmap/fairness/areas.py): a round weighs each need by how much less its ward was helped
    # than the city over the last AIDMAP_FAIRNESS_AREA_DAYS (deficit in [0, 1], times this weight), and
    # lets it reach deficit x AIDMAP_MATCHING_AREA_REACH_KM farther than a donor's radius. 0: off.
    matching_area_weight: float = 3.0
    matching_area_reach_km: float = 10.0
    fairness_area_days: float = 7.0
    # A pair beyond the donor's radius (a waiting or underserved need's reach) counts in the round
    # times (radius / distance) ** this: donors often decline such proposals. 0: counted in full.
    matching_beyond_radius_decay: float = 1.0
    # How long a proposal waits for the donor's answer before it lapses.
    matching_proposal_hours: float = 24.0
    # Offers one round looks at, at most (round-robin by id: each round starts after the last one's).
    matching_max_offers: int = 2000

    def __post_init__(self) -> None:
        if not self.read_max_lag_seconds > 0:
            raise ValueError(f"AIDMAP_READ_MAX_LAG_SECONDS must be more than 0, not {self.read_max_lag_seconds!r}")
        for name in (
            "waiting_after_hours", "waiting_reach_km_per_hour", "waiting_reach_max_km", "waiting_reach_step_km",
            "matching_round_minutes", "matching_fairness_weight", "matching_area_weight", "matching_area_reach_km",
            "fairness_area_days", "matching_beyond_radius_decay",
        ):  # fmt: skip
            value = getattr(self, name)
            if not (value >= 0 and value != float("inf")):
                raise ValueError(f"AIDMAP_{name.upper()} must be a finite number, 0 or more, not {value!r}")
        if self.max_open_offers < 1 or self.matching_max_offers < 1:
            raise ValueError("AIDMAP_MAX_OPEN_OFFERS and AIDMAP_MATCHING_MAX_OFFERS must be 1 or more")
        if self.waiting_interval_seconds <= 0 or self.matching_proposal_hours <= 0:
            raise ValueError("AIDMAP_WAITING_INTERVAL_SECONDS and AIDMAP_MATCHING_PROPOSAL_HOURS must be more than 0")
        if self.disclose_on not in DISCLOSE_ON:
            raise ValueError(f"AIDMAP_DISCLOSE_ON must be one of {', '.join(DISCLOSE_ON)}, not {self.disclose_on!r}")
        if self.sms_gateway not in SMS_GATEWAYS:
            raise ValueError(f"AIDMAP_SMS_GATEWAY must be one of {', '.join(SMS_GATEWAYS)}, not {self.sms_gateway!r}")
        if self.sms_gateway == "twilio" and not (self.sms_account and self.sms_token and self.sms_from):
            raise ValueError("AIDMAP_SMS_GATEWAY=twilio needs AIDMAP_SMS_ACCOUNT, AIDMAP_SMS_TOKEN and AIDMAP_SMS_FROM")
        if quiet_window(self.quiet_hours) is None:
            raise ValueError(f"AIDMAP_QUIET_HOURS must be HH:MM-HH:MM, not {self.quiet_hours!r}")
        try:
            from zoneinfo import ZoneInfo

            ZoneInfo(self.time_zone)
        except Exception:
            raise ValueError(f"AIDMAP_TIME_ZONE is not a time zone: {self.time_zone!r}") from None
        if self.vapid_private_key:
            from aidmap.notify.push import valid_private_key

            if not valid_private_key(self.vapid_private_key):
                raise ValueError("AIDMAP_VAPID_PRIVATE_KEY is not a P-256 private key (see `aidmap keys vapid`)")

    @classmethod
    def from_env(cls) -> Settings:
        """Each field from AIDMAP_<FIELD> (the few other names: _ENV_NAMES), parsed by its type and
        tidied where _TIDY says; a variable not set leaves the field's default."""
        env = dict(os.environ)
        if env.get("AIDMAP_FORWARDED_ALLOW_IPS"):  # uvicorn's name for trusted_proxies comes first
            env["AIDMAP_TRUSTED_PROXIES"] = env["AIDMAP_FORWARDED_ALLOW_IPS"]
        values: dict[str, Any] = {}
        for field in dataclasses.fields(cls):
            raw = env.get(_ENV_NAMES.get(field.name, f"AIDMAP_{field.name.upper()}"))
            if raw is not None:
                values[field.name] = _PARSE[str(field.type)](_TIDY.get(field.name, str)(raw))
        if "max_push_subscriptions" in values:
            values["max_push_subscriptions"] = max(1, values["max_push_subscriptions"])
        return cls(**values)

    def issuer_url(self) -> str:
        """The `iss` of this deployment's attestations."""
        return self.public_url or f"http://{self.host}:{self.port}"

    def page_url(self) -> str:
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")

    def phone_hash_key(self) -> bytes:
        """The key for contact-phone hashes: AIDMAP_SECRET_KEY, else a random one kept in data_dir."""
        return _secret_key(self.secret_key, self.data_dir)


# The variables not named AIDMAP_<FIELD>.
_ENV_NAMES = {
    "pg_bin_dir": "AIDMAP_PG_BIN",
    "subscriber_queue_limit": "AIDMAP_SUBSCRIBER_QUEUE",
    "trusted_proxies": "AIDMAP_TRUSTED_PROXIES",  # or AIDMAP_FORWARDED_ALLOW_IPS, first
}
# Text tidied before it is parsed.
_TIDY: dict[str, Callable[[str], str]] = {
    "disclose_on": lambda raw: raw.strip().lower(),
    "sms_gateway": lambda raw: raw.strip().lower() or "log",
    "quiet_hours": str.strip,
    "time_zone": str.strip,
    "vapid_private_key": str.strip,
    "public_url": lambda raw: raw.strip().rstrip("/"),
}
# How a field's type reads its variable (an empty URL or directory is none).
_PARSE: dict[str, Callable[[str], Any]] = {
    "str": str,
    "int": int,
    "float": float,
    "bool": lambda raw: raw.strip().lower() in {"1", "true", "yes", "on"},
    "str | None": lambda raw: raw or None,
    "Path": Path,
    "Path | None": lambda raw: Path(raw) if raw else None,
    "tuple[str, ...]": _env_list,
}


def minutes_of(value: str) -> int | None:
    """Minutes after midnight of a time of day ("22:00" is 1320); None when it is not one."""
    hours, _, minutes = value.strip().partition(":")
    if not (hours.isdigit() and minutes.isdigit() and len(minutes) == 2):
        return None
    h, m = int(hours), int(minutes)
    return h * 60 + m if 0 <= h < 24 and 0 <= m < 60 else None


def quiet_window(value: str) -> tuple[int, int] | None:
    start, _, end = value.partition("-")
    first, last = minutes_of(start), minutes_of(end)
    return (first, last) if first is not None and last is not None else None


@functools.lru_cache(maxsize=8)
def _secret_key(configured: str, data_dir: Path) -> bytes:
    if configured:
        return configured.encode()
    path = data_dir / "secret_key"
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another process made it first
        else:
            with os.fdopen(fd, "w") as out:
                out.write(secrets.token_hex(32))
    return path.read_text().strip().encode()
