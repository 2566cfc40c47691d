"""The product as a user runs it, for the benchmarks: `alexandria up` in its own data
dir (its gateway on a free port, the parser and the embedder on the data dir's unix
sockets), and the REST calls they make of it.

The stack uses its own embedded services: variables that would point it elsewhere
(`REDIS_URL`, `QDRANT_URL`, tokens, ..., under their deprecated names too) are removed
from its environment. `stop()`
sends SIGINT to `up` and then ends by process id anything it left.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

START_TIMEOUT_S = 180.0
STOP_TIMEOUT_S = 90.0
LIMIT = 100  # `similar`'s maximum
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from services.common.config import variable_names  # noqa: E402

_FOREIGN_ENV = variable_names(
    (
        "redis_url",
        "upstash_redis_rest_url",
        "upstash_redis_rest_token",
        "database_url",
        "qdrant_url",
        "qdrant_api_key",
        "admin_token",
        "read_token",
        "gateway_url",
        "parser_addr",
        "embedder_addr",
        "mode",
    )
)
"""Variables that would point the stack elsewhere than its own embedded services."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _children(pid: int) -> list[int]:
    """Direct children of `pid` (from /proc), so leftovers can be ended by their ids."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) == pid:
            found.append(int(entry.name))
    return found


class Stack:
    """`alexandria up` of checkout `code` in its own data dir on a free port; stop()
    always cleans up."""

    def __init__(self, data_dir: Path, code: Path = ROOT) -> None:
        self.data_dir = data_dir
        self.code = code
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None
        self.children: list[int] = []
        self.token = ""

    def start(self) -> None:
        env = {k: v for k, v in os.environ.items() if k not in _FOREIGN_ENV}
        env.update(
            ALEXANDRIA_DATA_DIR=str(self.data_dir),
            ALEXANDRIA_LOG_FORMAT="json",
            PYTHONPATH=os.pathsep.join(p for p in (str(self.code), env.get("PYTHONPATH")) if p),
        )
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with open(self.data_dir / "up.log", "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "alexandria.cli", "up", "--port", str(self.port)],
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.code,
                start_new_session=True,  # a Ctrl-C reaches the benchmark, which stops it once
            )
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if self.proc.poll() is not None:
                tail = (self.data_dir / "up.log").read_text(errors="replace").strip()
                raise RuntimeError(f"alexandria up exited: {tail.splitlines()[-1:]}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.url}/health", timeout=2.0).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise TimeoutError(f"stack not healthy after {START_TIMEOUT_S:.0f}s")
            time.sleep(0.5)
        self.children = _children(self.proc.pid)
        self.token = (self.data_dir / "admin_token").read_text().strip()

    def stop(self) -> None:
        if self.proc is None:
            return
        self.children = sorted(set(self.children) | set(_children(self.proc.pid)))
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)  # `up` stops its processes on SIGINT/SIGTERM
            try:
                self.proc.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for pid in self.children:  # anything `up` could not stop
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        self.proc = None

    def __enter__(self) -> Stack:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class Api:
    """The REST calls the benchmarks make, with the stack's admin token."""

    def __init__(self, stack: Stack) -> None:
        self.client = httpx.Client(
            base_url=stack.url,
            headers={"Authorization": f"Bearer {stack.token}"},
            timeout=120.0,
        )
        self.repo_url = ""

    def close(self) -> None:
        self.client.close()

    def ingest(
        self, repo_url: str, timeout_s: float, *, force: bool = False, poll_s: float = 1.0
    ) -> dict[str, Any]:
        """Queue the repository, wait for its job to end, return the job record."""
        r = self.client.post(
            f"/api/v1/ingestion/ingest/{quote(repo_url, safe='')}",
            params={"force": "true"} if force else None,
        )
        r.raise_for_status()
        job_id = r.json()["job_id"]
        self.repo_url = str(r.json()["repo_url"])  # canonical
        deadline = time.monotonic() + timeout_s
        while True:
            job = self.client.get(f"/api/v1/ingestion/jobs/{job_id}").json()["job"]
            if job["status"] not in ("queued", "running"):
                return dict(job)
            if time.monotonic() > deadline:
                raise TimeoutError(f"job {job_id} still {job['status']} after {timeout_s:.0f}s")
            time.sleep(poll_s)

    def files(self, repo_url: str) -> list[dict[str, Any]]:
        r = self.client.get("/api/v1/graph/files", params={"repo_url": repo_url})
        r.raise_for_status()
        return list(r.json()["files"])

    def similar(self, repo_url: str, file_path: str, mode: str | None) -> dict[str, Any]:
        params: dict[str, Any] = {"repo_url": repo_url, "file_path": file_path, "limit": LIMIT}
        if mode is not None:
            params["mode"] = mode
        r = self.client.get("/api/v1/graph/similar", params=params)
        if r.status_code == 404:  # a file without an embedding: nothing to return
            return {"results": []}
        r.raise_for_status()
        return dict(r.json())
