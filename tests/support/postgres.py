"""A real PostgreSQL server for the tests, started from the installed binaries.

``initdb`` into a temporary folder, ``pg_ctl start`` listening on a free loopback port
(and a Unix socket in the data folder), password authentication (SCRAM) for every
connection. PostgreSQL refuses to run as root: then the server runs as the ``postgres``
user (or ``nobody``) through ``setpriv``. Where no binaries are found, :func:`find_bin`
says so and the tests skip with that reason.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ADMIN = "llmx_admin"
ADMIN_PASSWORD = "admin-Secret-7e1"


def find_bin() -> tuple[Path | None, str]:
    """The folder holding initdb and pg_ctl, or None and why not."""
    found = shutil.which("initdb")
    if found:
        return Path(found).parent, ""
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), reverse=True)
    if candidates:
        return Path(candidates[0]).parent, ""
    return None, "PostgreSQL is not installed (no initdb on PATH or under /usr/lib/postgresql)"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _run_as() -> list[str]:
    """The command prefix that runs the server as an unprivileged user when we are root."""
    if os.getuid() != 0:
        return []
    for name in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            entry = pwd.getpwnam(name)
            return ["setpriv", f"--reuid={entry.pw_uid}", f"--regid={entry.pw_gid}",
                    "--clear-groups", "--"]
    raise RuntimeError("running as root, and there is no postgres or nobody user")


def _owner() -> tuple[int, int] | None:
    if os.getuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            entry = pwd.getpwnam(name)
            return entry.pw_uid, entry.pw_gid
    return None


@dataclass
class PostgresServer:
    bin_dir: Path
    root: Path
    port: int

    @property
    def data(self) -> Path:
        return self.root / "data"

    def url(self, user: str = ADMIN, password: str = ADMIN_PASSWORD,
            database: str = "postgres") -> str:
        return f"postgresql://{user}:{password}@127.0.0.1:{self.port}/{database}"

    def sql(self, statement: str, database: str = "postgres") -> None:
        """Run ``statement`` as the administrator (autocommit)."""
        import psycopg

        with psycopg.connect(self.url(database=database), autocommit=True) as conn:
            conn.execute(statement)  # type: ignore[arg-type]

    def stop(self) -> None:
        subprocess.run([*_run_as(), str(self.bin_dir / "pg_ctl"), "stop", "-D", str(self.data),
                        "-m", "immediate", "-w"], capture_output=True, check=False, timeout=60)
        shutil.rmtree(self.root, ignore_errors=True)


@contextlib.contextmanager
def running_server() -> Iterator[PostgresServer]:
    bin_dir, why = find_bin()
    if bin_dir is None:
        raise RuntimeError(why)
    # Not under pytest's 0700 tmp tree: the server's user must reach its folder.
    root = Path(tempfile.mkdtemp(prefix="llmx-pg-"))
    owner = _owner()
    if owner is not None:
        os.chown(root, *owner)
    pwfile = root / "pw"
    pwfile.write_text(ADMIN_PASSWORD + "\n")
    if owner is not None:
        os.chown(pwfile, *owner)
    server = PostgresServer(bin_dir, root, _free_port())
    prefix = _run_as()
    subprocess.run(
        [*prefix, str(bin_dir / "initdb"), "-D", str(server.data), "-U", ADMIN,
         "--auth=scram-sha-256", f"--pwfile={pwfile}", "-E", "UTF8", "--locale=C.UTF-8"],
        check=True, capture_output=True, timeout=120,
    )
    options = (f"-c listen_addresses=127.0.0.1 -p {server.port} -k {server.data} "
               "-c fsync=off -c max_connections=50")
    try:
        subprocess.run(
            [*prefix, str(bin_dir / "pg_ctl"), "start", "-D", str(server.data), "-w",
             "-t", "60", "-l", str(root / "server.log"), "-o", options],
            check=True, capture_output=True, timeout=90,
        )
        yield server
    finally:
        server.stop()
