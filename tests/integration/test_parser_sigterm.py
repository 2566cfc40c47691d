"""P14 under SIGTERM: a parser stopped mid-job removes its clone before it exits; after
a SIGKILL, which leaves it behind, the next parser to start removes it."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import grpc
import pytest
from serving import wait_until_ready

from alexandria.stack import free_port, grpc_serving
from neo_alexandria.v1 import parser_service_pb2, parser_service_pb2_grpc
from services.parser.clone import TEMP_PREFIX

FILES = 1500
BODY = "".join(f"def f{i}(x):\n    return x + {i}\n" for i in range(120))


def _repo(root: Path) -> Path:
    for i in range(FILES):
        path = root / f"pkg{i % 30}" / f"m{i}.py"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"import pkg{(i + 1) % 30}.m{i + 1}\n{BODY}")
    for args in (("init", "-q", "-b", "main"), ("add", "-A"), ("commit", "-q", "-m", "big")):
        subprocess.run(
            ["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=root, check=True
        )
    return root


async def _terminate_mid_parse(
    port: int,
    repo: Path,
    clones: Path,
    server: subprocess.Popen[bytes],
    how: signal.Signals = signal.SIGTERM,
) -> str:
    """Start a job; once its clone exists and parsing has begun, signal the server."""
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        await asyncio.wait_for(channel.channel_ready(), 60)
        stub = parser_service_pb2_grpc.ParserServiceStub(channel)
        request = parser_service_pb2.ParseRepositoryRequest(repo_url=str(repo), job_id="term")
        try:
            async for response in stub.ParseRepository(request, timeout=120):
                if (
                    response.WhichOneof("event") == "progress"
                    and response.progress.phase == "parse"
                ):
                    assert list(clones.glob(f"{TEMP_PREFIX}*")), "the clone exists mid-parse"
                    server.send_signal(how)
                elif response.WhichOneof("event") == "summary":
                    return "finished"
        except grpc.aio.AioRpcError as exc:
            return exc.code().name
    return "the stream ended without a summary"


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _repo(tmp_path_factory.mktemp("big") / "repo")


@pytest.mark.parametrize(("grace", "expected"), [("0", "UNAVAILABLE"), ("60", "finished")])
def test_sigterm_mid_parse_removes_the_clone(
    repo: Path, tmp_path: Path, grace: str, expected: str
) -> None:
    """Without grace the job is cancelled; with enough grace it finishes. Either way
    the process exits 0 and leaves no clone behind."""
    clones = tmp_path / "tmp"
    clones.mkdir()
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "alexandria.cli", "serve", "parser", "--port", str(port)],
        env={
            **os.environ,
            "ALEXANDRIA_DATA_DIR": str(tmp_path / "data"),
            "TMPDIR": str(clones),
            "ALEXANDRIA_SHUTDOWN_GRACE_SECONDS": grace,
        },
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        outcome = asyncio.run(_terminate_mid_parse(port, repo, clones, server))
        assert server.wait(timeout=60) == 0, server.stderr.read() if server.stderr else ""
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
    assert outcome == expected
    assert not list(clones.glob(f"{TEMP_PREFIX}*"))


def test_a_clone_left_by_a_killed_parser_is_swept_by_the_next(repo: Path, tmp_path: Path) -> None:
    clones = tmp_path / "tmp"
    clones.mkdir()
    env = {**os.environ, "ALEXANDRIA_DATA_DIR": str(tmp_path / "data"), "TMPDIR": str(clones)}

    def start(port: int) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [sys.executable, "-m", "alexandria.cli", "serve", "parser", "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    port = free_port()
    killed = start(port)
    try:
        killed_mid_parse = _terminate_mid_parse(port, repo, clones, killed, signal.SIGKILL)
        assert asyncio.run(killed_mid_parse) == "UNAVAILABLE"
    finally:
        killed.kill()
        killed.wait()
    assert list(clones.glob(f"{TEMP_PREFIX}{killed.pid}-*")), "a SIGKILL leaves the clone"
    port = free_port()
    successor = start(port)
    try:
        wait_until_ready(successor, lambda: grpc_serving(f"127.0.0.1:{port}"), "parser")
        assert not list(clones.glob(f"{TEMP_PREFIX}*"))
    finally:
        successor.terminate()
        successor.wait(timeout=60)
