"""R1/R7: the gateway process (with its in-process coordinator) never loads ML or parsing
libraries. Checked in a fresh interpreter so other tests' imports cannot hide a leak."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

FORBIDDEN = ("torch", "torch_geometric", "tree_sitter")
# With QDRANT_URL the gateway speaks Qdrant's REST API itself: qdrant-client's models
# alone are ~48 MB of a 512 MB free-tier host.
FORBIDDEN_IN_CLOUD = (*FORBIDDEN, "qdrant_client")

CHECK = """
import sys
import gateway.app, gateway.server, services.ingest.coordinator, alexandria.cli
app = gateway.app.create_app(with_coordinator=True)
print(",".join(sorted(m for m in {forbidden!r} if m in sys.modules)))
"""


def loaded(script: str, cwd: Path, env: dict[str, str]) -> str:
    """What `script` prints when run in a fresh interpreter (the forbidden modules loaded)."""
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, cwd=cwd, env=env
    )
    return out.stdout.strip()


def test_gateway_and_coordinator_import_no_torch_or_tree_sitter(tmp_path: Path) -> None:
    env = {"ALEXANDRIA_DATA_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"}
    assert loaded(CHECK.format(forbidden=FORBIDDEN), tmp_path, env) == ""


SERVE_CLOUD = """
import sys
from fastapi.testclient import TestClient
import gateway.server
from gateway.app import create_app
from services.common.config import load_settings
with TestClient(create_app(load_settings())) as client:
    client.get("/health")
    client.get("/api/v1/ingestion/worker/status")
    client.get("/metrics")
    client.get("/api/v1/graph/similar", params={{"repo_url": "github.com/a/b", "file_path": "x"}})
print(",".join(sorted(m for m in {forbidden!r} if m in sys.modules)))
"""


def test_a_cloud_gateway_serving_requests_imports_no_torch_tree_sitter_or_qdrant_client(
    tmp_path: Path, embedded_redis_url: str
) -> None:
    env = {
        "PATH": "/usr/bin:/bin",
        "ALEXANDRIA_MODE": "CLOUD",
        "ALEXANDRIA_DATA_DIR": str(tmp_path),
        "ALEXANDRIA_ADMIN_TOKEN": "cloud-token",
        "REDIS_URL": embedded_redis_url,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'metadata.db'}",
        "QDRANT_URL": "http://127.0.0.1:9",  # down: the gateway still serves
    }
    assert loaded(SERVE_CLOUD.format(forbidden=FORBIDDEN_IN_CLOUD), tmp_path, env) == ""
