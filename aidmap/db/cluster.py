"""A PostgreSQL + PostGIS cluster of the project's own, in a data folder it owns.

PostgreSQL refuses to run as root, so when we are root every server command
runs as the `postgres` OS user (created by the Debian packages).
"""

from __future__ import annotations

import logging
import os
import pwd
import secrets
import stat
import subprocess
from dataclasses import dataclass
from pathlib import Path

import psycopg

log = logging.getLogger(__name__)

SUPERUSER = "aidmap"
SERVER_USER_WHEN_ROOT = "postgres"


class ClusterError(RuntimeError):
    """The local cluster could not be created, started or stopped."""


def find_bin_dir(preferred: Path | None = None) -> Path:
    """The directory holding initdb/pg_ctl: the configured one, else the newest Debian one."""
    if preferred is not None:
        return preferred
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"), key=lambda p: int(p.parent.parent.name))
    if not candidates:
        raise ClusterError("PostgreSQL server binaries not found; run `make setup` (installs postgresql-15-postgis-3)")
    return candidates[-1].parent


@dataclass
class LocalCluster:
    base_dir: Path
    port: int
    bin_dir: Path
    # Durability off is only for throwaway test clusters.
    durable: bool = True

    @property
    def data_dir(self) -> Path:
        return self.base_dir / "pgdata"

    @property
    def password_file(self) -> Path:
        return self.base_dir / "superuser-password"

    @property
    def log_file(self) -> Path:
        return self.data_dir / "server.log"

    @property
    def server_user(self) -> str | None:
        """The OS user the server runs as, or None for the current one."""
        return SERVER_USER_WHEN_ROOT if os.geteuid() == 0 else None

    def password(self) -> str:
        return self.password_file.read_text().strip()

    def url(self, database: str = "aidmap") -> str:
        return f"postgresql+psycopg://{SUPERUSER}:{self.password()}@127.0.0.1:{self.port}/{database}"

    def conninfo(self, database: str = "aidmap") -> str:
        return f"host=127.0.0.1 port={self.port} user={SUPERUSER} password={self.password()} dbname={database}"

    def is_initialized(self) -> bool:
        return (self.data_dir / "PG_VERSION").exists() and self.password_file.exists()

    def _run(
        self, *args: str, check: bool = True, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        user = self.server_user
        result = subprocess.run(
            [str(self.bin_dir / args[0]), *args[1:]],
            user=user,
            group=user,
            extra_groups=[] if user else None,
            cwd="/",
            env={**os.environ, "LC_ALL": "C.UTF-8", "LANG": "C.UTF-8", **(env or {})},
            capture_output=True,
            text=True,
            check=False,
        )
        if check and result.returncode != 0:
            raise ClusterError(
                f"{args[0]} failed ({result.returncode}): {result.stderr.strip() or result.stdout.strip()}"
            )
        return result

    def _give_to_server_user(self, path: Path) -> None:
        user = self.server_user
        if user is None:
            return
        entry = pwd.getpwnam(user)
        os.chown(path, entry.pw_uid, entry.pw_gid)

    def _make_traversable(self) -> None:
        """As root, let the server user reach the data folder (e.g. a clone under a 0700 temp dir)."""
        if self.server_user is None:
            return
        for parent in reversed(self.data_dir.parents):
            mode = parent.stat().st_mode
            if not mode & stat.S_IXOTH:
                log.info("granting search (o+x) permission on %s so the postgres user can reach its data", parent)
                parent.chmod(mode | stat.S_IXOTH)

    def init(self) -> None:
        """Create the cluster: initdb with a random superuser password kept in the base folder."""
        self.base_dir.mkdir(parents=True, exist_ok=True)
        password = secrets.token_urlsafe(24)
        self.password_file.write_text(password + "\n")
        self.password_file.chmod(0o600)
        self.data_dir.mkdir(mode=0o700, exist_ok=True)
        self._give_to_server_user(self.data_dir)
        self._make_traversable()
        # initdb reads the password from a file the server user can read; remove it right after.
        pwfile = self.data_dir.parent / f".initdb-pw-{secrets.token_hex(4)}"
        pwfile.write_text(password + "\n")
        pwfile.chmod(0o600)
        self._give_to_server_user(pwfile)
        try:
            self._run(
                "initdb",
                "-D",
                str(self.data_dir),
                "-U",
                SUPERUSER,
                f"--pwfile={pwfile}",
                "--auth-local=scram-sha-256",
                "--auth-host=scram-sha-256",
                "--encoding=UTF8",
                "--locale=C.UTF-8",
            )
        finally:
            pwfile.unlink(missing_ok=True)
        conf = [
            "listen_addresses = '127.0.0.1'",
            f"port = {self.port}",
            # No unix socket: /var/run/postgresql is not ours, and paths may be too long.
            "unix_socket_directories = ''",
            "max_connections = 200",
            "shared_buffers = 256MB",
            "logging_collector = off",
        ]
        if not self.durable:
            conf += ["fsync = off", "synchronous_commit = off", "full_page_writes = off"]
        with (self.data_dir / "postgresql.conf").open("a") as f:
            f.write("\n# aidmap local cluster\n" + "\n".join(conf) + "\n")
        log.info("initialised PostgreSQL cluster in %s", self.data_dir)

    def is_running(self) -> bool:
        if not self.is_initialized():
            return False
        return self._run("pg_ctl", "status", "-D", str(self.data_dir), check=False).returncode == 0

    def running_port(self) -> int | None:
        """The port the running server listens on (line 4 of postmaster.pid), None when it is not running."""
        try:
            lines = (self.data_dir / "postmaster.pid").read_text().splitlines()
        except (FileNotFoundError, PermissionError):
            return None
        return int(lines[3]) if len(lines) > 3 and lines[3].strip().isdigit() else None

    def start(self) -> None:
        # The port on the command line wins over the one written at initdb, so AIDMAP_PG_PORT holds for
        # a data directory made with another port.
        self._run(
            "pg_ctl", "start", "-D", str(self.data_dir), "-l", str(self.log_file), "-w", "-t", "60",
            "-o", f"-p {self.port}",
        )  # fmt: skip
        log.info("started PostgreSQL on 127.0.0.1:%d (data in %s)", self.port, self.data_dir)

    def stop(self) -> None:
        if self.is_running():
            self._run("pg_ctl", "stop", "-D", str(self.data_dir), "-m", "fast", "-w", "-t", "60")
            log.info("stopped PostgreSQL (data in %s)", self.data_dir)

    def ensure_started(self) -> bool:
        """Initialise and start as needed; True when this call started the server."""
        if not self.is_initialized():
            self.init()
        if self.is_running():
            running = self.running_port()
            if running is not None and running != self.port:
                raise ClusterError(
                    f"the cluster in {self.data_dir} is already running on port {running}, not {self.port}: "
                    f"stop it (`aidmap db stop` with AIDMAP_PG_PORT={running}) or set AIDMAP_PG_PORT={running}"
                )
            return False
        self.start()
        return True

    def ensure_database(self, name: str = "aidmap") -> None:
        # Its own connection, not connect.connect (which takes a URL): the launcher, part of db/, reaches
        # the maintenance database `postgres` by its key=value conninfo, before the app's database exists.
        with psycopg.connect(self.conninfo("postgres"), autocommit=True) as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %(name)s::text", {"name": name}).fetchone()
            if not exists:
                conn.execute(f'CREATE DATABASE "{name}"')

    def replicate(self, base_dir: Path, port: int) -> LocalCluster:
        """A hot-standby streaming replica of this running cluster in base_dir, on 127.0.0.1:port, run by
        the same OS user: `pg_basebackup -R` over the replication line initdb's pg_hba.conf has for
        127.0.0.1 (the superuser may replicate; PostgreSQL 10+ defaults to wal_level=replica and 10 WAL
        senders). Not started."""
        replica = LocalCluster(base_dir=base_dir, port=port, bin_dir=self.bin_dir, durable=self.durable)
        base_dir.mkdir(parents=True, exist_ok=True)
        replica.password_file.write_text(self.password() + "\n")
        replica.password_file.chmod(0o600)
        replica.data_dir.mkdir(mode=0o700, exist_ok=True)
        replica._give_to_server_user(replica.data_dir)
        replica._make_traversable()
        # -R writes standby.signal and primary_conninfo (with this password) into the copy.
        self._run(
            "pg_basebackup", "-D", str(replica.data_dir), "-h", "127.0.0.1", "-p", str(self.port), "-U", SUPERUSER,
            "-R", "-X", "stream", "-c", "fast", "--no-sync" if not self.durable else "--progress",
            env={"PGPASSWORD": self.password()},
        )  # fmt: skip
        with (replica.data_dir / "postgresql.conf").open("a") as f:
            # The later line wins: the copy keeps the primary's settings but its own port.
            f.write(f"\n# aidmap replica of 127.0.0.1:{self.port}\nport = {port}\nhot_standby = on\n")
        log.info("made a streaming replica of 127.0.0.1:%d in %s", self.port, replica.data_dir)
        return replica
