"""R1/R7: the gateway process (with its in-process coordinator) never loads ML or parsing
libraries. Checked in a fresh interpreter so other tests' imports cannot hide a leak."""

from __future__ import annotations

import subprocess
import sys

FORBIDDEN = ("torch", "torch_geometric", "tree_sitter")

CHECK = """
import sys
import gateway.app, gateway.server, services.ingest.coordinator, alexandria.cli
app = gateway.app.create_app(with_coordinator=True)
print(",".join(sorted(m for m in {forbidden!r} if m in sys.modules)))
"""


def test_gateway_and_coordinator_import_no_torch_or_tree_sitter(tmp_path) -> None:
    out = subprocess.run(
        [sys.executable, "-c", CHECK.format(forbidden=FORBIDDEN)],
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path,
        env={"ALEXANDRIA_DATA_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"},
    )
    assert out.stdout.strip() == ""
