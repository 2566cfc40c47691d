"""Many concurrent clients against a real LOCAL stack: no 5xx.

    .venv/bin/python benchmarks/concurrency.py [--clients 200,500] [--seconds 10]

`alexandria up` in a fresh data dir (`product_stack.Stack`), one small repository
ingested (a generated one, so nothing is fetched), then for each client count N: N
clients, each with its own connection, send requests back to back for `--seconds`
(closed loop; requests still in flight then are awaited), cycling through the
unauthenticated `/health`, the job history, the worker status and hybrid `similar`.
Printed per N: requests, answers by status class (429 apart: a rate limit, none in
LOCAL mode unless ALEXANDRIA_RATE_LIMIT_*_PER_MINUTE is set), 5xx (the target: 0),
throughput, and latency p50 / p99 / max. The anchor is the target itself, 0 answers of
5xx; the ratio printed is 5xx over all requests.
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from product_stack import Api, Stack

FILES = {
    "app/__init__.py": "",
    "app/models.py": "from app.db import session\n",
    "app/db.py": "import sqlite3\n",
    "app/views.py": "from app import models\n",
}


def make_repo(root: Path) -> Path:
    root.mkdir(parents=True)
    for rel, text in FILES.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-q", "-m", "c"]):
        subprocess.run(
            ["git", "-c", "user.name=b", "-c", "user.email=b@b", "-C", str(root), *args],
            check=True,
        )
    return root


async def load(base: str, paths: Sequence[str], clients: int, seconds: float) -> dict[str, float]:
    statuses: Counter[str] = Counter()
    latencies: list[float] = []
    # Each httpx client costs ~20 ms of CPU to make (its TLS context): made before the
    # clock starts, or 500 of them would take the whole window on two cores.
    https = [httpx.AsyncClient(base_url=base, timeout=60) for _ in range(clients)]
    deadline = time.monotonic() + seconds

    async def client(index: int, http: httpx.AsyncClient) -> None:
        i = index
        while time.monotonic() < deadline:
            started = time.perf_counter()
            try:
                reply = await http.get(paths[i % len(paths)])
                code = reply.status_code
                statuses["429" if code == 429 else f"{code // 100}xx"] += 1
            except httpx.HTTPError as exc:
                statuses[type(exc).__name__] += 1
            latencies.append(time.perf_counter() - started)
            i += 1

    started = time.monotonic()
    try:
        await asyncio.gather(*(client(i, http) for i, http in enumerate(https)))
    finally:
        for http in https:
            await http.aclose()
    elapsed = time.monotonic() - started
    latencies.sort()

    def pct(q: float) -> float:
        return latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000

    total = len(latencies)
    return {
        "clients": clients,
        "requests": total,
        **{k: float(v) for k, v in sorted(statuses.items())},
        "5xx": float(statuses.get("5xx", 0)),
        "req/s": total / elapsed,
        "p50 ms": pct(0.50),
        "p99 ms": pct(0.99),
        "max ms": latencies[-1] * 1000 if latencies else 0.0,
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clients", default="200,500")
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args(argv)
    rows = []
    with tempfile.TemporaryDirectory(prefix="concurrency-") as work:
        repo = make_repo(Path(work) / "repo")
        with Stack(Path(work) / "data") as stack:
            api = Api(stack)
            job = api.ingest(f"file://{repo}", 300)
            api.close()
            assert job["status"] == "complete", job
            similar = f"/api/v1/graph/similar?repo_url={api.repo_url}&file_path=app/models.py"
            paths = [
                "/health",
                "/api/v1/ingestion/jobs/history",
                "/api/v1/ingestion/worker/status",
                similar,
            ]
            for clients in (int(n) for n in args.clients.split(",")):
                rows.append(asyncio.run(load(stack.url, paths, clients, args.seconds)))
    first = ["clients", "requests", "5xx", "req/s", "p50 ms", "p99 ms", "max ms"]
    keys = first + sorted({k for row in rows for k in row} - set(first))
    print("| " + " | ".join(keys) + " |")
    print("| " + " | ".join("---" for _ in keys) + " |")
    for row in rows:
        cells = (f"{row.get(k, 0):.0f}" if k != "req/s" else f"{row[k]:.1f}" for k in keys)
        print("| " + " | ".join(cells) + " |")
    for row in rows:
        share = row["5xx"] / max(row["requests"], 1)
        print(
            f"{row['clients']:.0f} clients: 5xx {row['5xx']:.0f} of {row['requests']:.0f} "
            f"({share:.4f}; target 0)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
