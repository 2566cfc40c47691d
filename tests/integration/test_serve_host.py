"""A LOCAL service reads this machine's repositories, so `alexandria serve` refuses a
non-loopback --host in LOCAL mode unless --allow-remote-local is given, and then warns;
loopback hosts, and other modes, are unchanged."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from serving import http_ok, wait_until_ready

from alexandria import output
from alexandria.stack import free_port

pytestmark = pytest.mark.slow


def serve(tmp_path: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "alexandria.cli", "serve", *args],
        env={**os.environ, "ALEXANDRIA_DATA_DIR": str(tmp_path), "ALEXANDRIA_MODE": "LOCAL"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.parametrize("process", ["gateway", "parser"])
def test_a_non_loopback_host_in_local_mode_is_refused(tmp_path: Path, process: str) -> None:
    refused = serve(tmp_path, process, "--host", "0.0.0.0", "--port", str(free_port()))
    _, err = refused.communicate(timeout=60)
    assert refused.returncode == output.USAGE
    assert "--allow-remote-local" in err and "other machines" in err
    assert len(err.strip().splitlines()) == 1


def test_allowed_it_serves_and_warns(tmp_path: Path) -> None:
    port = free_port()
    allowed = serve(
        tmp_path, "gateway", "--host", "0.0.0.0", "--port", str(port), "--allow-remote-local"
    )
    try:
        wait_until_ready(allowed, lambda: http_ok(f"http://127.0.0.1:{port}/health"), "gateway")
    finally:
        allowed.terminate()
        _, err = allowed.communicate(timeout=60)
    assert "warning: LOCAL gateway listening on 0.0.0.0" in err
