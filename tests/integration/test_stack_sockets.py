"""LOCAL mode's parser and embedder listen only on unix sockets in the data dir (0700):
the stack's user reaches them (gRPC health, grpcurl -unix), another OS user cannot, and
neither process listens on any TCP port. Real processes; the other user is `nobody`
(the tests run as root in CI), connecting with the system's Python."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from alexandria.stack import LocalStack, free_port, grpc_serving
from services.common.config import Settings

pytestmark = pytest.mark.slow

GRPCURL = shutil.which("grpcurl", path=str(Path(sys.executable).parent)) or "grpcurl"
CONNECT = """
import socket, sys
s = socket.socket(socket.AF_UNIX)
try:
    s.connect(sys.argv[1])
except OSError as exc:
    print(type(exc).__name__)
else:
    print("connected")
"""


def _tcp_listeners(pid: int) -> set[int]:
    """Inodes of the TCP sockets process `pid` listens on."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        target = os.readlink(fd) if fd.is_symlink() else ""
        if target.startswith("socket:["):
            inodes.add(int(target[8:-1]))
    listening = set()
    for table in ("tcp", "tcp6"):
        for row in Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]:
            fields = row.split()
            if fields[3] == "0A":  # LISTEN
                listening.add(int(fields[9]))
    return inodes & listening


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[LocalStack]:
    settings = Settings(alexandria_data_dir=tmp_path / "data")
    with LocalStack(settings, gateway_port=free_port()) as running:
        yield running


def test_the_edge_services_are_this_users_unix_sockets_only(stack: LocalStack) -> None:
    data_dir = stack.settings.data_dir
    for service in ("parser", "embedder"):
        socket_path = data_dir / f"{service}.sock"
        assert stack.address(service) == f"unix:{socket_path}"
        assert grpc_serving(f"unix:{socket_path}")
        assert _tcp_listeners(stack.processes[service].pid) == set(), service
        listed = subprocess.run(
            [GRPCURL, "-plaintext", "-unix", str(socket_path), "list"],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert "grpc.health.v1.Health" in listed.stdout, listed.stderr
        if os.geteuid() == 0 and shutil.which("runuser"):
            other = subprocess.run(
                [
                    "runuser",
                    "-u",
                    "nobody",
                    "--",
                    "/usr/bin/python3",
                    "-c",
                    CONNECT,
                    str(socket_path),
                ],
                capture_output=True,
                text=True,
                timeout=30,
            )
            assert other.stdout.strip() == "PermissionError", other.stdout + other.stderr
    assert data_dir.stat().st_mode & 0o777 == 0o700


def test_a_data_dir_too_deep_for_a_socket_path_uses_a_private_temporary_one(
    tmp_path: Path,
) -> None:
    deep = tmp_path / ("d" * 60) / ("e" * 60) / "data"
    settings = Settings(alexandria_data_dir=deep)
    path = settings.local_socket("parser")
    assert len(os.fsencode(path)) < 104 and path.name == "parser.sock"
    assert settings.local_socket("redis").parent == path.parent
    assert path.parent.parent.name == f"alexandria-{os.geteuid()}"
    with LocalStack(settings, gateway_port=free_port()) as stack:
        assert grpc_serving(stack.address("parser"))
        for directory in (path.parent, path.parent.parent):
            assert directory.stat().st_mode & 0o777 == 0o700
    assert Settings(alexandria_data_dir=deep).local_socket("parser") == path  # stable
