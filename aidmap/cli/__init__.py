"""The `aidmap` command: serve | db | seed --demo | admin create | partner | areas import | keys | trust | export-schema."""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import signal
import sys
from collections.abc import Iterator
from typing import Any

from aidmap.settings import Settings

log = logging.getLogger("aidmap")


@contextlib.contextmanager
def _migrated_database(settings: Settings) -> Iterator[str]:
    """The database's URL, migrated; a local cluster started for this command is stopped afterwards."""
    from aidmap.db.migrate import upgrade
    from aidmap.db.provision import open_database

    database = open_database(settings)
    try:
        upgrade(database.url)
        yield database.url
    finally:
        if database.started is not None:
            database.started.stop()


def _serve(settings: Settings, args: argparse.Namespace) -> int:
    trusted = settings.trusted_proxies
    if args.forwarded_allow_ips is not None:
        trusted = tuple(p.strip() for p in args.forwarded_allow_ips.split(",") if p.strip())
    if args.workers < 1:
        print("--workers must be at least 1", file=sys.stderr)
        return 2
    # SIGTERM (systemd, `docker stop`, make) as an interrupt, from the start: while migrating or seeding
    # it unwinds through the `with`, which stops the cluster it started; while serving, uvicorn shuts
    # down gracefully and then raises the signal again with this handler, so uvicorn.run returns (as
    # on Ctrl-C) instead of Python's default ending the process before the cluster is stopped.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        return _serve_on(settings, args, trusted)
    except KeyboardInterrupt:
        log.info("interrupted before serving: stopped")
        return 130


def _serve_on(settings: Settings, args: argparse.Namespace, trusted: tuple[str, ...]) -> int:
    import uvicorn

    from aidmap import demo
    from aidmap.app import create_app
    from aidmap.guards.connections import guarded_protocol

    with _migrated_database(settings) as url:
        if not args.no_demo and demo.database_is_empty(url):
            log.info("empty database: loading the demo data set")
            demo.seed(url, needs=demo.DEFAULT_NEEDS)
        common: dict[str, Any] = dict(
            host=settings.host,
            port=settings.port,
            log_level="info",
            # uvicorn's own lines go through the same handler: JSON with the request id, like ours.
            log_config=None,
            access_log=settings.access_log,
            # Events are a few hundred bytes: compressing each costs more CPU than it saves.
            ws_per_message_deflate=False,
            # uvicorn's default websocket protocol, plus pre-encoded writes for the live batch (schema/fast/ws_frames.py).
            ws="aidmap.schema.fast.ws_frames:FramedWebSocketProtocol",
            # A websocket message may be as large as an HTTP body, not uvicorn's 16 MiB.
            ws_max_size=settings.max_body_bytes,
            # Thousands of live subscribers reconnecting at once (after a deploy) need a deep accept queue.
            backlog=8192,
            # Per process (with --workers N, each worker counts its own connections).
            limit_concurrency=settings.max_connections or None,
            # X-Forwarded-For only from the proxies configured; uvicorn's default trusts 127.0.0.1,
            # so any local client could rotate the address it is rate-limited by.
            proxy_headers=bool(trusted),
            forwarded_allow_ips=",".join(trusted) or None,
        )  # fmt: skip
        log.info("GraphQL at http://%s:%d/graphql", settings.host, settings.port)
        if args.workers == 1:
            uvicorn.run(
                create_app(settings, database_url=url),
                # Slow clients: a deadline for the request head, a cap per address and in all (guards/connections.py).
                http=guarded_protocol(
                    head_timeout_s=settings.head_timeout_seconds, max_per_ip=settings.max_connections_per_ip
                ),
                **common,
            )
        else:
            # N spawned processes on one socket, each building its own app (pools, listener, jobs)
            # from aidmap/workers.py; uvicorn's supervisor restarts a worker that dies.
            from aidmap.workers import DATABASE_URL_VARIABLE

            os.environ[DATABASE_URL_VARIABLE] = url
            uvicorn.run(
                "aidmap.workers:app", factory=True, workers=args.workers, http="aidmap.workers:HTTPProtocol", **common
            )
        # Served and shut down: a second SIGTERM must not cut short the cluster's stop that follows.
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    return 0


def _db(settings: Settings, args: argparse.Namespace) -> int:
    from aidmap.db.migrate import upgrade
    from aidmap.db.provision import local_cluster, open_database

    if args.action == "upgrade":
        upgrade(open_database(settings).url)
        print("database is at the latest migration")
        return 0
    if settings.database_url:
        print("AIDMAP_DATABASE_URL is set: aidmap does not manage that server", file=sys.stderr)
        return 2
    cluster = local_cluster(settings)
    if args.action == "start":
        cluster.ensure_started()
        cluster.ensure_database("aidmap")
        print(f"running on 127.0.0.1:{cluster.port}, data in {cluster.data_dir}")
    elif args.action == "stop":
        cluster.stop()
        print("stopped")
    else:
        running = cluster.is_running()
        print(f"{'running' if running else 'stopped'} (port {cluster.port}, data in {cluster.data_dir})")
        return 0 if running else 3
    return 0


def _seed(settings: Settings, args: argparse.Namespace) -> int:
    from aidmap import demo
    from aidmap.db.migrate import upgrade
    from aidmap.db.provision import open_database

    if not args.demo:
        print("only `aidmap seed --demo` exists so far", file=sys.stderr)
        return 2
    database = open_database(settings)
    upgrade(database.url)
    if not demo.database_is_empty(database.url) and not args.force:
        print("the database already has data; pass --force to add the demo set anyway", file=sys.stderr)
        return 1
    counts = demo.seed(database.url, needs=args.needs)
    print(", ".join(f"{n} {what}" for what, n in counts.items()))
    return 0


def _areas(settings: Settings, args: argparse.Namespace) -> int:
    from pathlib import Path

    from aidmap.resolvers import areas

    try:
        with _migrated_database(settings) as url:
            count = areas.import_files(url, [Path(f) for f in args.files])
    except areas.AreaFileError as error:
        print(error, file=sys.stderr)
        return 2
    print(f"imported {count} areas")
    return 0


def _admin(settings: Settings, args: argparse.Namespace) -> int:
    import getpass

    from aidmap.cli.admins import create_admin

    password = sys.stdin.readline().rstrip("\n") if args.password_stdin else ""
    try:
        with _migrated_database(settings) as url:
            if not args.password_stdin:
                password = getpass.getpass("Password for the admin (ignored if the account exists): ")
            account_id, created = create_admin(
                url=url, phone=args.phone, display_name=args.name or "", password=password,
                hash_profile=settings.password_hash_profile,
            )  # fmt: skip
    except ValueError as error:
        print(error, file=sys.stderr)
        return 2
    print(f"{'created' if created else 'promoted'} admin account {account_id}")
    return 0


def _partner(settings: Settings, args: argparse.Namespace) -> int:
    from aidmap.cli import partners

    try:
        with _migrated_database(settings) as url:
            if args.action == "create":
                if not args.name or not args.scopes:
                    print("partner create needs --name and --scopes", file=sys.stderr)
                    return 2
                partner_id, key = partners.create(
                    url=url,
                    name=args.name,
                    scopes=partners.parse_scopes(args.scopes),
                    rate_limit_per_minute=args.rate_limit,
                    allowed_origins=[o.strip() for o in (args.origins or "").split(",") if o.strip()],
                    registered_queries_only=args.registered_queries_only,
                )
                print(f"created partner {partner_id}; its API key (shown only now, store it safely):")
                print(key)
            elif args.action == "register-queries":
                from pathlib import Path

                from aidmap.cli.partners import register_queries as register

                if not args.name or not args.files:
                    print("partner register-queries needs --name and --query FILE", file=sys.stderr)
                    return 2
                for path, digest in register(url=url, partner_name=args.name, paths=[Path(f) for f in args.files]):
                    print(f"{digest}\t{path}")
            elif args.action == "revoke":
                if not args.name or not partners.revoke(url=url, name=args.name):
                    print(f"no active partner named {args.name!r}", file=sys.stderr)
                    return 2
                print(f"revoked the key of {args.name}")
            else:
                for name, scopes, limit, origins, active in partners.listing(url=url):
                    state = "active" if active else "revoked"
                    print(f"{name}\t{state}\t{','.join(scopes)}\t{limit}/min\t{','.join(origins) or '-'}")
    except ValueError as error:
        print(error, file=sys.stderr)
        return 2
    return 0


async def _account_viewer(url: str, phone: str) -> Any:
    from aidmap.db.reader import Reader
    from aidmap.resolvers.accounts import viewer_for_account
    from aidmap.resolvers.validation import normalise_phone

    normalised = normalise_phone(phone)
    reader = Reader(url, max_size=2)
    await reader.open()
    try:
        rows = await reader.fetch("SELECT id FROM accounts WHERE phone = %(p)s::text", {"p": normalised or ""})
        return await viewer_for_account(reader=reader, account_id=rows[0].id) if rows else None
    finally:
        await reader.close()


def _import(settings: Settings, args: argparse.Namespace) -> int:
    import asyncio
    from pathlib import Path

    from rich.progress import Progress

    from aidmap.db.engine import make_engine, make_sessionmaker
    from aidmap.resolvers import imports
    from aidmap.resolvers.needs import IntakePolicy

    path = Path(args.file)
    fmt = "geojson" if path.suffix.lower() in (".geojson", ".json") else "csv"
    try:
        rows = imports.parse(path.read_text(encoding="utf-8-sig"), fmt)
    except (OSError, imports.ImportFileError) as error:
        print(error, file=sys.stderr)
        return 2
    with _migrated_database(settings) as url:

        async def run() -> imports.ImportReport | None:
            viewer = await _account_viewer(url, args.filed_by)
            if viewer is None or not ({"OPERATOR", "ADMIN"} & set(viewer.roles)):
                return None
            engine = make_engine(url, pool_size=2)
            policy = IntakePolicy(
                phone_key=settings.phone_hash_key(),
                require_verification=settings.require_verification,
                max_open_per_category=max(settings.max_open_needs_per_category, imports.MAX_ROWS),
            )
            try:
                with Progress() as progress:
                    task = progress.add_task(f"importing {path.name}", total=len(rows))
                    return await imports.import_rows(
                        sessions=make_sessionmaker(engine), viewer=viewer, rows=rows, policy=policy,
                        progress=lambda n: progress.advance(task, n),
                    )  # fmt: skip
            finally:
                await engine.dispose()

        report = asyncio.run(run())
    if report is None:
        print(f"--filed-by {args.filed_by}: no operator (or admin) account has this phone", file=sys.stderr)
        return 2
    report_path = Path(args.report) if args.report else path.with_suffix(path.suffix + ".report.csv")
    with report_path.open("w", encoding="utf-8", newline="") as out:
        report.write_csv(out)
    print(
        f"imported {report.imported}, already there {report.skipped}, failed {len({f.line for f in report.failed})} rows"
    )
    print(f"report of failed rows: {report_path}")
    return 0


def _export(settings: Settings, args: argparse.Namespace) -> int:
    import asyncio

    from aidmap.db.engine import make_engine, make_read_sessionmaker
    from aidmap.models.need import ANONYMOUS
    from aidmap.resolvers import imports

    with _migrated_database(settings) as url:

        async def run() -> list[dict[str, Any]] | None:
            who = ANONYMOUS
            if args.as_phone:
                viewer = await _account_viewer(url, args.as_phone)
                if viewer is None:
                    return None
                who = viewer.principal
            engine = make_engine(url, pool_size=2)
            try:
                async with make_read_sessionmaker(engine)() as session:
                    return list(await imports.export_rows(session=session, area_code=args.area, who=who))
            finally:
                await engine.dispose()

        rows = asyncio.run(run())
    if rows is None:
        print(f"--as {args.as_phone}: no account has this phone", file=sys.stderr)
        return 2
    if args.output:
        with open(args.output, "w", encoding="utf-8", newline="") as out:
            count = imports.write_export(rows, args.format, out)
    else:
        count = imports.write_export(rows, args.format, sys.stdout)  # type: ignore[arg-type]
    print(f"exported {count} needs", file=sys.stderr)
    return 0


def _keys(settings: Settings, args: argparse.Namespace) -> int:
    from datetime import timedelta

    from aidmap.cli import attestations

    if args.action == "vapid":
        return _keys_vapid(settings, args)
    with _migrated_database(settings) as url:
        if args.action == "rotate":
            days = settings.attestation_ttl_days if args.grace_days is None else args.grace_days
            if days < 0:
                print("--grace-days must not be negative", file=sys.stderr)
                return 2
            kid, old = attestations.rotate(url=url, secret=settings.phone_hash_key(), grace=timedelta(days=days))
            print(f"signing with key {kid}" + (f"; {old} stays in the JWKS for {days} days" if old else ""))
        else:
            for kid, state, until in attestations.key_listing(url=url):
                print(f"{kid}\t{state}\t{until.isoformat() if until else '-'}")
    return 0


def _trust(settings: Settings, args: argparse.Namespace) -> int:
    from aidmap.cli import attestations

    try:
        with _migrated_database(settings) as url:
            if args.action == "add":
                if not args.jwks:
                    print("trust add needs --jwks URL", file=sys.stderr)
                    return 2
                name, keys, revoked = attestations.trust_add(url=url, jwks_url=args.jwks, name=args.name)
                print(
                    f"trusting {name}: {keys} keys, {revoked} revoked attestations (cached; `aidmap trust refresh` updates)"
                )
            elif args.action == "refresh":
                refreshed = attestations.trust_refresh(url=url, require_verification=settings.require_verification)
                for name, outcome in refreshed:
                    print(f"{name}\t{outcome}")
            elif args.action == "remove":
                if not args.name or not attestations.trust_remove(url=url, name=args.name):
                    print(f"no trusted deployment named {args.name!r}", file=sys.stderr)
                    return 2
                print(f"no longer trusting {args.name}")
            else:
                for name, issuer, keys, revoked, fetched in attestations.trust_listing(url=url):
                    print(f"{name}\t{issuer}\t{keys} keys\t{revoked} revoked\tfetched {fetched.isoformat()}")
    except Exception as error:  # noqa: BLE001 - unreachable, not JSON, not a JWKS: said in one line
        if isinstance(error, (ValueError, OSError)) or type(error).__module__.startswith("httpx"):
            print(f"trust {args.action}: {error}", file=sys.stderr)
            return 2
        raise
    return 0


def _export_schema(settings: Settings, args: argparse.Namespace) -> int:
    from aidmap.schema import schema

    sys.stdout.write(schema.as_str() + "\n")
    return 0


def _keys_vapid(settings: Settings, args: argparse.Namespace) -> int:
    """A new VAPID key pair for Web Push, as the settings take it (docs/operations.md)."""
    from aidmap.notify.push import new_vapid_pair

    private, public = new_vapid_pair()
    sys.stdout.write(
        f"AIDMAP_VAPID_PRIVATE_KEY={private}\n# public key (what browsers see, from pushPublicKey): {public}\n"
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    from aidmap.observability import configure_logging

    # JSON lines (with the request id) for `serve` unless AIDMAP_LOG_FORMAT=text; text for the other commands.
    argv_list = sys.argv[1:] if argv is None else argv
    serving = bool(argv_list) and argv_list[0] == "serve"
    configure_logging(os.environ.get("AIDMAP_LOG_FORMAT", "json" if serving else "text"))
    logging.getLogger("alembic").setLevel(logging.WARNING)
    parser = argparse.ArgumentParser(prog="aidmap", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser(
        "serve", help="start PostGIS if needed, migrate, load the demo into an empty database, serve GraphQL"
    )
    serve.add_argument("--no-demo", action="store_true", help="do not load demo data into an empty database")
    serve.add_argument(
        "--forwarded-allow-ips",
        "--trusted-proxies",
        dest="forwarded_allow_ips",
        metavar="ADDRESSES",
        help="comma-separated proxy addresses or networks whose X-Forwarded-For is believed (default: none; "
        "AIDMAP_FORWARDED_ALLOW_IPS)",
    )
    serve.add_argument(
        "--workers",
        type=int,
        default=1,
        metavar="N",
        help="serve with N processes on one port (uvicorn's workers), each with its own pools and event "
        "listener; AIDMAP_DB_POOL_SIZE is per worker (default: 1)",
    )
    serve.set_defaults(run=_serve)
    db = commands.add_parser("db", help="manage the local PostGIS cluster and migrations")
    db.add_argument("action", choices=["start", "stop", "status", "upgrade"])
    db.set_defaults(run=_db)
    seed = commands.add_parser("seed", help="load data")
    seed.add_argument("--demo", action="store_true", help="the realistic demo data set")
    seed.add_argument("--needs", type=int, default=None, help="how many needs (default: a few thousand)")
    seed.add_argument("--force", action="store_true", help="seed even if the database has data")
    seed.set_defaults(run=_seed)
    admin = commands.add_parser("admin", help="bootstrap the first admin")
    admin.add_argument("action", choices=["create"])
    admin.add_argument("--phone", required=True)
    admin.add_argument("--name", help="display name, for a new account")
    admin.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    admin.set_defaults(run=_admin)
    partner = commands.add_parser("partner", help="partner apps: API keys with scopes and rate limits")
    partner.add_argument("action", choices=["create", "revoke", "list", "register-queries"])
    partner.add_argument("--name")
    partner.add_argument("--scopes", help="comma-separated, e.g. needs:read,needs:write,private:read")
    partner.add_argument("--rate-limit", type=int, default=600, help="requests per minute (default 600)")
    partner.add_argument("--origins", help="comma-separated browser origins allowed to call with the key (CORS)")
    partner.add_argument(
        "--registered-queries-only", action="store_true",
        help="accept only queries registered for this partner (register-queries), sent by hash",
    )  # fmt: skip
    partner.add_argument(
        "--query", dest="files", action="append", default=[], help="register-queries: a .graphql file (repeatable)"
    )
    partner.set_defaults(run=_partner)
    import_cmd = commands.add_parser("import", help="bulk-import needs from a hotline's CSV or GeoJSON")
    import_cmd.add_argument("what", choices=["needs"])
    import_cmd.add_argument("file", help="FILE.csv or FILE.geojson (columns: see docs/partners.md)")
    import_cmd.add_argument("--filed-by", required=True, help="phone of the operator account the needs are filed by")
    import_cmd.add_argument("--report", help="where to write failed rows (default FILE.report.csv)")
    import_cmd.set_defaults(run=_import)
    export_cmd = commands.add_parser("export", help="export an area's needs as a partner may see them")
    export_cmd.add_argument("what", choices=["needs"])
    export_cmd.add_argument("--area", required=True, help="area code (a province covers its wards)")
    export_cmd.add_argument("--format", choices=["geojson", "csv"], default="geojson")
    export_cmd.add_argument("--as", dest="as_phone", help="export as this account sees (default: the public view)")
    export_cmd.add_argument("--output", help="file to write (default: standard output)")
    export_cmd.set_defaults(run=_export)
    areas_cmd = commands.add_parser("areas", help="administrative areas")
    areas_cmd.add_argument("action", choices=["import"])
    areas_cmd.add_argument("files", nargs="+", help="GeoJSON FeatureCollections (code, name, level, parentCode)")
    areas_cmd.set_defaults(run=_areas)
    keys = commands.add_parser(
        "keys", help="keys the deployment needs: rotate/list the attestation signers, vapid prints a Web Push pair"
    )
    keys.add_argument("action", choices=["rotate", "list", "vapid"])
    keys.add_argument(
        "--grace-days", type=int, default=None,
        help="rotate: how long the retired key stays published (default AIDMAP_ATTESTATION_TTL_DAYS, so "
        "everything it signed verifies until it expires)",
    )  # fmt: skip
    keys.set_defaults(run=_keys)
    trust = commands.add_parser("trust", help="other aidmap deployments whose attestations this one accepts")
    trust.add_argument("action", choices=["add", "refresh", "list", "remove"])
    trust.add_argument("--jwks", help="add: the deployment's https://.../.well-known/jwks.json (fetched now, cached)")
    trust.add_argument("--name", help='add: how needs show it ("attested by NAME"); remove: which one')
    trust.set_defaults(run=_trust)
    export = commands.add_parser("export-schema", help="print the GraphQL SDL")
    export.set_defaults(run=_export_schema)
    args = parser.parse_args(argv)
    return int(args.run(Settings.from_env(), args))
