"""The edge deployment files, checked by their real parsers where one exists: the Compose
file resolved by docker-compose, the systemd unit by systemd-analyze; the Dockerfile by
what it copies and installs (no Docker engine here: the image is never built).

Without docker-compose or systemd-analyze their tests skip, except in CI (.ci/run
installs both), where they fail.
"""

from __future__ import annotations

import configparser
import fnmatch
import shlex
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path
from typing import Any

import pytest
import yaml
from environment import IN_CI, clear_settings_env

from alexandria.cli import build_parser
from alexandria.stack import STOP_TIMEOUT_SECONDS
from services.common.config import Settings

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
EDGE_PROCESSES = {"parser", "embedder", "coordinator"}
UNIT = ROOT / "deploy" / "systemd" / "alexandria-edge.service"
UNIT_PREFIX = "/opt/alexandria/venv"  # where docs/edge.md installs the virtualenv


def require_tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        if IN_CI:
            pytest.fail(f"{name} is required in CI (.ci/run installs it)")
        pytest.skip(f"{name} is not installed")
    return path


# --- docker-compose.edge.yml -----------------------------------------------------------


@pytest.fixture(scope="module")
def compose(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """`docker-compose config` of a copy of the file, with .env.edge from the example."""
    tool = require_tool("docker-compose")
    work = tmp_path_factory.mktemp("compose")
    shutil.copy(ROOT / "docker-compose.edge.yml", work)
    shutil.copy(ROOT / "deploy" / ".env.edge.example", work / ".env.edge")
    run = subprocess.run(
        [tool, "-f", "docker-compose.edge.yml", "config"],
        cwd=work,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    config: dict[str, Any] = yaml.safe_load(run.stdout)
    return config


def test_compose_runs_the_three_edge_processes_from_one_image(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert set(services) == EDGE_PROCESSES
    assert len({s["image"] for s in services.values()}) == 1
    assert len({s["build"]["context"] for s in services.values()}) == 1
    for name, service in services.items():
        args = build_parser().parse_args(service["command"])
        assert (args.command, args.process) == ("serve", name)
        assert service["restart"] == "unless-stopped"


def test_compose_reserves_the_gpu_for_the_embedder_only(compose: dict[str, Any]) -> None:
    services = compose["services"]
    devices = services["embedder"]["deploy"]["resources"]["reservations"]["devices"]
    assert devices == [{"driver": "nvidia", "count": "all", "capabilities": ["gpu"]}]
    assert "deploy" not in services["parser"] and "deploy" not in services["coordinator"]
    assert (
        services["embedder"]["environment"]["ALEXANDRIA_EMBEDDER_DEVICE"] == "auto"
    )  # CPU without one


def test_compose_health_checks_are_alexandria_health_of_each_process(
    compose: dict[str, Any],
) -> None:
    for name, service in compose["services"].items():
        check = service["healthcheck"]
        assert check["test"][:2] == ["CMD", "alexandria"], name
        args = build_parser().parse_args(check["test"][2:])
        assert (args.command, args.target) == ("health", name)
        assert check["retries"] >= 1 and check["timeout"] and check["interval"]
    assert compose["services"]["coordinator"]["depends_on"] == {
        "parser": {"condition": "service_healthy"},
        "embedder": {"condition": "service_healthy"},
    }


def test_compose_wires_addresses_data_and_settings_consistently(
    compose: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The coordinator dials what parser and embedder bind; every process's environment
    (the example .env.edge plus the file's own) is a valid ALEXANDRIA_MODE=EDGE configuration."""
    services = compose["services"]
    for name, service in services.items():
        env = service["environment"]
        with monkeypatch.context() as patch:
            clear_settings_env(patch)
            for key, value in env.items():
                patch.setenv(key, value)
            assert Settings().mode == "EDGE"
        assert any(v.endswith(f":{env['ALEXANDRIA_DATA_DIR']}:rw") for v in service["volumes"])
        for process, addr in (
            ("parser", env["ALEXANDRIA_PARSER_ADDR"]),
            ("embedder", env["ALEXANDRIA_EMBEDDER_ADDR"]),
        ):
            served = build_parser().parse_args(services[process]["command"])
            assert addr == f"{process}:{served.port}", name
            assert served.host == "0.0.0.0"  # reachable on the project network, not published
            assert "ports" not in services[process]


# --- Dockerfile --------------------------------------------------------------------------


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    instructions: list[tuple[str, str]] = []
    pending = ""
    for line in (ROOT / "Dockerfile").read_text().splitlines():
        if line.lstrip().startswith("#") or not line.strip():
            continue
        pending += line.rstrip().removesuffix("\\") + " "
        if not line.rstrip().endswith("\\"):
            keyword, _, rest = pending.strip().partition(" ")
            instructions.append((keyword.upper(), rest.strip()))
            pending = ""
    return instructions


def test_dockerfile_copies_every_package_the_wheel_needs() -> None:
    ignored = [
        p for p in (ROOT / ".dockerignore").read_text().splitlines() if p and not p.startswith("#")
    ]
    copied: list[Path] = []
    for keyword, args in dockerfile_instructions():
        if keyword == "COPY":
            *sources, _ = shlex.split(args)
            for source in sources:
                assert (ROOT / source).exists(), f"COPY {source}: no such file"
                assert not any(fnmatch.fnmatch(source, p) for p in ignored), (
                    f".dockerignore drops {source}"
                )
                copied.append(ROOT / source)
    setuptools = PYPROJECT["tool"]["setuptools"]
    needed = [ROOT / "pyproject.toml", ROOT / PYPROJECT["project"]["readme"]]
    for package in setuptools["packages"]:
        top, _, rest = package.partition(".")
        base = setuptools.get("package-dir", {}).get(top, top)
        needed.append(ROOT / base / rest.replace(".", "/"))
    for path in needed:
        assert any(path == c or c in path.parents for c in copied), f"not copied: {path}"


def test_dockerfile_installs_only_the_edge_extra_on_a_supported_python() -> None:
    instructions = dockerfile_instructions()
    [base] = [args for keyword, args in instructions if keyword == "FROM"]
    assert base.startswith("python:3.11"), base  # pyproject: requires-python >=3.11
    installs = [
        args for keyword, args in instructions if keyword == "RUN" and "pip install" in args
    ]
    extras = {extra for args in installs for extra in _extras(args)}
    assert extras == {"edge"}
    assert all("-c constraints.txt" in args for args in installs)  # the lock applies
    assert extras <= set(PYPROJECT["project"]["optional-dependencies"])
    entrypoint = next(args for keyword, args in instructions if keyword == "ENTRYPOINT")
    assert yaml.safe_load(entrypoint) == ["alexandria"]
    assert "alexandria" in PYPROJECT["project"]["scripts"]
    users = [args for keyword, args in instructions if keyword == "USER"]
    assert users and users[-1] not in ("root", "0")


def _extras(pip_args: str) -> list[str]:
    return [
        extra.strip()
        for word in shlex.split(pip_args)
        if word.startswith(".[")
        for extra in word[2:].rstrip("]").split(",")
    ]


def test_the_edge_processes_import_without_the_gateway_only_packages() -> None:
    """The image has the `edge` extra only: no edge entry point may import what only the
    `gateway` extra installs (FastAPI, SQLAlchemy, ...)."""
    extras = PYPROJECT["project"]["optional-dependencies"]

    def names(requirements: list[str]) -> set[str]:
        return {_dist(r.split("[")[0].split("=")[0]) for r in requirements}

    gateway_only = names(extras["gateway"]) - names(extras["edge"]) - names(extras["runtime"])
    gateway_only.discard("neo-alexandria")
    script = f"""
import importlib.abc, importlib.metadata, sys
blocked = {{top for top, dists in importlib.metadata.packages_distributions().items()
            if any(d.lower().replace("_", "-") in {sorted(gateway_only)!r} for d in dists)}}
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in blocked:
            raise ImportError(f"{{name}} is not in the edge image (gateway extra only)")
sys.meta_path.insert(0, Block())
import alexandria.cli, alexandria.health, services.parser.server, services.embedder.server
import services.ingest.coordinator
alexandria.cli.build_parser()
"""
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-3000:]


def _dist(name: str) -> str:
    """A distribution name in one spelling (PEP 503, as far as the pins here need)."""
    return name.strip().lower().replace("_", "-")


# --- deploy/systemd/alexandria-edge.service ----------------------------------------------


def read_unit() -> configparser.ConfigParser:
    unit = configparser.ConfigParser(interpolation=None, strict=True)
    unit.optionxform = str  # type: ignore[assignment,method-assign]  # keys are case-sensitive
    unit.read_string(UNIT.read_text())
    return unit


def test_the_unit_runs_up_edge_as_a_dedicated_user_restarted_on_failure() -> None:
    unit = read_unit()
    service = unit["Service"]
    executable, *args = shlex.split(service["ExecStart"])
    assert executable == f"{UNIT_PREFIX}/bin/alexandria"
    parsed = build_parser().parse_args(args)
    assert (parsed.command, parsed.edge) == ("up", True)
    assert service["EnvironmentFile"] == "/etc/alexandria/edge.env"
    assert service["Restart"] == "on-failure"
    assert service["User"] not in ("root", "0", "nobody")
    # The supervisor alone gets SIGTERM and must have time to stop its processes.
    assert service["KillMode"] == "mixed"
    assert int(service["TimeoutStopSec"]) > STOP_TIMEOUT_SECONDS
    assert service["NoNewPrivileges"] == "yes" and service["ProtectSystem"] == "strict"
    assert "network-online.target" in unit["Unit"]["After"]
    assert unit["Install"]["WantedBy"] == "multi-user.target"


@pytest.fixture
def installed_unit(tmp_path: Path) -> Path:
    """The unit with its ExecStart pointing at this virtualenv (verify checks it exists)."""
    executable = Path(sys.prefix) / "bin" / "alexandria"
    assert executable.exists(), f"{executable}: install the project (make install)"
    path = tmp_path / UNIT.name
    path.write_text(UNIT.read_text().replace(UNIT_PREFIX, sys.prefix))
    return path


def test_systemd_analyze_verifies_the_unit(installed_unit: Path) -> None:
    tool = require_tool("systemd-analyze")
    run = subprocess.run([tool, "verify", str(installed_unit)], capture_output=True, text=True)
    ours = [line for line in run.stderr.splitlines() if UNIT.name in line]
    assert run.returncode == 0 and not ours, run.stderr


def test_the_unit_is_hardened(installed_unit: Path) -> None:
    """systemd's own exposure score (0 safest, 10 unprotected) stays at 3 or below."""
    tool = require_tool("systemd-analyze")
    run = subprocess.run(
        [tool, "security", "--offline=yes", "--threshold=30", "--no-pager", str(installed_unit)],
        capture_output=True,
        text=True,
    )
    if "unrecognized option" in run.stderr:
        pytest.skip("this systemd-analyze has no offline security check (systemd < 250)")
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr


def test_the_wheel_carries_the_data_files_a_non_editable_install_needs(tmp_path: Path) -> None:
    """Render (`pip install '.[gateway]'`) and the image install a built wheel, not the tree."""
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
    )
    [wheel] = tmp_path.glob("*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for needed in (
        "alexandria/templates/graph.html",
        "gateway/alembic.ini",
        "gateway/migrations/env.py",
        "gateway/migrations/script.py.mako",
        "gateway/migrations/versions/0001_initial.py",
        "neo_alexandria/py.typed",
        "neo_alexandria/v1/jobs_pb2.pyi",
    ):
        assert needed in names, f"the wheel lacks {needed}"
