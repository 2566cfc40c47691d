"""`alexandria health TARGET`: exit 0 when one edge process is healthy, 1 when not.

For container health checks (docker-compose.edge.yml) and scripts. The parser and the
embedder answer a grpc.health.v1 Check where they listen (`Settings.grpc_address`: in
LOCAL mode the data dir's unix sockets, else ALEXANDRIA_PARSER_ADDR /
ALEXANDRIA_EMBEDDER_ADDR), or at any HOST:PORT or unix:PATH given; the coordinator
serves no port, so it is healthy while the liveness file it touches whenever the queue
answers is fresh (services/ingest/liveness.py).
"""

from __future__ import annotations

import sys

from alexandria import output
from alexandria.stack import grpc_serving
from services.common.config import ConfigError, load_settings
from services.ingest.liveness import is_alive, liveness_file

PROCESSES = ("parser", "embedder", "coordinator")


def check(target: str) -> tuple[bool, str]:
    """Whether `target` (a process name, HOST:PORT or unix:PATH) is healthy, and what was
    checked."""
    if target not in PROCESSES:
        return grpc_serving(target), f"{target} (grpc.health.v1)"
    settings = load_settings()
    if target == "coordinator":
        path = liveness_file(settings)
        return is_alive(path), f"coordinator (liveness file {path})"
    addr = settings.grpc_address("parser" if target == "parser" else "embedder")
    return grpc_serving(addr), f"{target} at {addr} (grpc.health.v1)"


def run_health(target: str) -> int:
    """Print the verdict; exit code 0 healthy, 1 not, 2 for a target that is neither."""
    address = target.startswith("unix:") or target.rpartition(":")[2].isdigit()
    if target not in PROCESSES and not address:
        print(
            f"alexandria health: expected {', '.join(PROCESSES)}, HOST:PORT or unix:PATH",
            file=sys.stderr,
        )
        return output.USAGE
    try:
        healthy, what = check(target)
    except ConfigError as exc:
        print(f"alexandria health: {exc}", file=sys.stderr)
        return output.FAILED
    print(f"{what}: {'healthy' if healthy else 'NOT healthy'}")
    return output.OK if healthy else output.FAILED
