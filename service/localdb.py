"""The project-local PostgreSQL + PostGIS cluster that `make run` and `make test` use when no
DATABASE_URL is given: data under `.local/`, run as an unprivileged user, on a port of its own."""

from __future__ import annotations

import hashlib
import os
import pwd
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

PG_BIN = Path(os.environ.get("PG_BIN", "/usr/lib/postgresql/15/bin"))
SERVER_USER = "postgres"  # the unprivileged account Debian's postgresql packages create
DATABASE_NAME = "registry"
TEST_DATABASE_NAME = "registry_test"


@dataclass(frozen=True)
class LocalCluster:
    """A cluster whose data lives under the checkout (or beside it, when the checkout is not
    reachable by the server's account)."""

    root: Path

    @property
    def state_dir(self) -> Path:
        return self.root / ".local"

    @property
    def data_dir(self) -> Path:
        link = self.state_dir / "pgdata"
        return link.resolve() if link.is_symlink() else link

    @property
    def port(self) -> int:
        port_file = self.state_dir / "pgport"
        if port_file.exists():
            return int(port_file.read_text().strip())
        port = _pick_port(self.root)
        self.state_dir.mkdir(parents=True, exist_ok=True)
        port_file.write_text(f"{port}\n")
        return port

    def url(self, database: str = DATABASE_NAME) -> str:
        return f"postgresql+psycopg://{SERVER_USER}@127.0.0.1:{self.port}/{database}"

    # --- lifecycle ---------------------------------------------------------------------------
    def ensure_started(self) -> None:
        if not (self.data_dir / "PG_VERSION").exists():
            self._init()
        if not self.is_running():
            self._run(
                [
                    str(PG_BIN / "pg_ctl"),
                    "-D",
                    str(self.data_dir),
                    "-l",
                    str(self.data_dir / "server.log"),
                    "-w",
                    "-t",
                    "60",
                    "-o",
                    f"-p {self.port} -c listen_addresses=127.0.0.1 -k ''",
                    "start",
                ]
            )
        self._wait_ready()
        for name in (DATABASE_NAME, TEST_DATABASE_NAME):
            self._ensure_database(name)

    def stop(self) -> bool:
        if not self.is_running():
            return False
        self._run([str(PG_BIN / "pg_ctl"), "-D", str(self.data_dir), "-m", "fast", "stop"])
        return True

    def is_running(self) -> bool:
        if not (self.data_dir / "postmaster.pid").exists():
            return False
        result = self._run(
            [str(PG_BIN / "pg_ctl"), "-D", str(self.data_dir), "status"], check=False
        )
        return result.returncode == 0

    # --- internals ---------------------------------------------------------------------------
    def _init(self) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        link = self.state_dir / "pgdata"
        target = link
        if os.geteuid() == 0 and not self._reachable_by_server(self.state_dir):
            # The server's account cannot traverse the checkout (a clone under /root, say):
            # keep the data in a directory it can reach, named after the checkout.
            digest = hashlib.sha1(str(self.root).encode()).hexdigest()[:10]
            target = Path("/var/tmp") / f"cabin-registry-{digest}" / "pgdata"
            if link.is_symlink() or link.exists():
                link.unlink() if link.is_symlink() else shutil.rmtree(link)
            target.parent.mkdir(parents=True, exist_ok=True)
            link.symlink_to(target)
        if target.exists():
            shutil.rmtree(target)
        target.mkdir(parents=True)
        if os.geteuid() == 0:
            user = pwd.getpwnam(SERVER_USER)
            os.chown(target, user.pw_uid, user.pw_gid)
        os.chmod(target, 0o700)
        self._run(
            [
                str(PG_BIN / "initdb"),
                "-D",
                str(target),
                "-U",
                SERVER_USER,
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C.UTF-8",
            ]
        )
        with open(target / "postgresql.conf", "a") as conf:
            conf.write(
                "\n# cabin registry: a local development and test cluster\n"
                "shared_buffers = 512MB\nmaintenance_work_mem = 512MB\nwork_mem = 32MB\n"
                "max_connections = 200\nfsync = off\nsynchronous_commit = off\n"
                "full_page_writes = off\nmax_wal_size = 4GB\n"
                "max_parallel_workers_per_gather = 2\n"
            )

    def _reachable_by_server(self, path: Path) -> bool:
        result = subprocess.run(
            ["runuser", "-u", SERVER_USER, "--", "test", "-w", str(path)], check=False
        )
        if result.returncode == 0:
            return True
        # Not writable by the server account: is the directory at least traversable? Then we
        # can hand the data directory over to it.
        result = subprocess.run(
            ["runuser", "-u", SERVER_USER, "--", "test", "-x", str(path)], check=False
        )
        return result.returncode == 0

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            probe = subprocess.run(
                [str(PG_BIN / "pg_isready"), "-h", "127.0.0.1", "-p", str(self.port)],
                capture_output=True,
                check=False,
            )
            if probe.returncode == 0:
                return
            time.sleep(0.2)
        raise RuntimeError(f"the local PostgreSQL did not become ready on port {self.port}")

    def _ensure_database(self, name: str) -> None:
        psql = [str(PG_BIN / "psql"), "-h", "127.0.0.1", "-p", str(self.port), "-U", SERVER_USER]
        exists = subprocess.run(
            [*psql, "-tAc", f"SELECT 1 FROM pg_database WHERE datname = '{name}'", "postgres"],
            capture_output=True,
            text=True,
            check=True,
        )
        if exists.stdout.strip() != "1":
            subprocess.run([*psql, "-qc", f'CREATE DATABASE "{name}"', "postgres"], check=True)

    def _run(self, argv: list[str], check: bool = True) -> subprocess.CompletedProcess[str]:
        if os.geteuid() == 0:
            argv = ["runuser", "-u", SERVER_USER, "--", *argv]
        result = subprocess.run(argv, capture_output=True, text=True, check=False, cwd="/")
        if check and result.returncode != 0:
            raise RuntimeError(f"{' '.join(argv)} failed:\n{result.stdout}{result.stderr}")
        return result


def _pick_port(root: Path) -> int:
    """A port derived from the checkout's path, so two checkouts do not collide; the next free
    one if taken."""
    start = 54000 + int(hashlib.sha1(str(root).encode()).hexdigest(), 16) % 900
    for port in range(start, start + 100):
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) != 0:
                return port
    raise RuntimeError("no free port for the local PostgreSQL")


def project_cluster() -> LocalCluster:
    return LocalCluster(Path(os.environ.get("REGISTRY_ROOT", Path.cwd())).resolve())
