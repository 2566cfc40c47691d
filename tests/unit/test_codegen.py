"""Generated contract code in gen/ matches proto/ (CI fails when it is stale)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

from alexandria.codegen import check, generate

ROOT = Path(__file__).resolve().parents[2]


def test_committed_gen_is_fresh() -> None:
    assert check(ROOT / "gen") == []


def test_check_reports_a_hand_edit(tmp_path: Path) -> None:
    generate(tmp_path)
    stub = tmp_path / "neo_alexandria" / "v1" / "jobs_pb2.py"
    stub.write_text(stub.read_text() + "\n# edited\n")
    assert check(tmp_path) == ["stale: neo_alexandria/v1/jobs_pb2.py"]


def base_dependencies() -> list[str]:
    """pyproject.toml's base `dependencies`: what `pip install neo-alexandria` brings."""
    with (ROOT / "pyproject.toml").open("rb") as f:
        return list(tomllib.load(f)["project"]["dependencies"])


IMPORT_EVERY_CONTRACT = """
import importlib, importlib.metadata, json, pkgutil, sys
import neo_alexandria.v1 as package
prefix = package.__name__ + "."
project = ("alexandria", "gateway", "services")
modules = sorted(m.name for m in pkgutil.iter_modules(package.__path__, prefix))
loaded = [importlib.import_module(name) for name in modules]
grpc_modules = [m for m in loaded if m.__name__.endswith("_grpc")]
print(json.dumps({
    "modules": modules,
    "files": [m.__file__ for m in (package, *loaded)],
    "services": sorted(sys.modules[prefix + "ingest_service_pb2"].DESCRIPTOR.services_by_name),
    "stubs": sorted(n for m in grpc_modules for n in vars(m) if n.endswith("ServiceStub")),
    "distributions": sorted(d.metadata["Name"].lower() for d in importlib.metadata.distributions()),
    "project": sorted(m for m in sys.modules if m.partition(".")[0] in project),
}))
"""


def test_contracts_import_with_only_protobuf_and_grpc(tmp_path: Path) -> None:
    """In a fresh venv holding only the base dependencies (as pinned; pip, from the index
    `make install` uses), gen/ alone imports: every generated module, all three services."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    pip = [str(python), "-m", "pip", "install", "--quiet", "--no-input", *base_dependencies()]
    installed = subprocess.run(pip, capture_output=True, text=True, timeout=600)
    assert installed.returncode == 0, installed.stderr[-3000:]
    run = subprocess.run(
        [str(python), "-c", IMPORT_EVERY_CONTRACT],
        cwd=tmp_path,  # not the repository root, whose packages would be importable
        env={"PATH": os.environ["PATH"], "PYTHONPATH": str(ROOT / "gen")},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    seen = json.loads(run.stdout)
    generated = sorted(p.stem for p in (ROOT / "gen" / "neo_alexandria" / "v1").glob("*.py"))
    assert [m.rpartition(".")[2] for m in seen["modules"]] == [
        g for g in generated if g != "__init__"
    ]
    assert all(f.startswith(str(ROOT / "gen")) for f in seen["files"]), seen["files"]
    assert "IngestService" in seen["services"]
    assert seen["stubs"] == ["EmbedderServiceStub", "IngestServiceStub", "ParserServiceStub"]
    assert seen["project"] == []
    pinned = {re.split(r"[=<>!~\[; ]", d, maxsplit=1)[0].lower() for d in base_dependencies()}
    extra = set(seen["distributions"]) - pinned - {"pip", "setuptools"}
    # What the pinned three pull in themselves, and nothing from the project's extras.
    assert extra <= {"typing-extensions", "typing_extensions"}, extra
