"""`alexandria doctor` names what is wrong and how to fix it, per mode."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest
from environment import clear_settings_env

from alexandria import output
from alexandria.doctor import run_checks, run_doctor


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    clear_settings_env(monkeypatch)
    monkeypatch.setenv("ALEXANDRIA_DATA_DIR", str(tmp_path / "data"))
    closed = _closed_port()
    monkeypatch.setenv("ALEXANDRIA_GATEWAY_URL", f"http://127.0.0.1:{closed}")
    monkeypatch.setenv("ALEXANDRIA_PARSER_ADDR", f"127.0.0.1:{closed}")
    monkeypatch.setenv("ALEXANDRIA_EMBEDDER_ADDR", f"127.0.0.1:{closed}")


def test_an_invalid_configuration_is_one_failed_check_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ALEXANDRIA_MODE", "CLOUD")
    assert run_doctor(as_json=True) == output.FAILED
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is False
    [check] = report["checks"]
    assert check["name"] == "configuration" and check["status"] == "fail"
    assert "ALEXANDRIA_ADMIN_TOKEN" in check["detail"] and "QDRANT_URL" in check["detail"]
    assert ".env.cloud.example" in check["fix"]


def test_local_mode_without_the_stack_warns_how_to_start_it(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert run_doctor(as_json=False) == output.OK
    text = capsys.readouterr().out
    assert "warn  parser service" in text and "alexandria up" in text
    mode, checks = run_checks()
    assert mode == "LOCAL"
    assert {c.name: c.status for c in checks}["git"] == "ok"


def test_edge_mode_fails_on_an_unreachable_queue_and_qdrant(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ALEXANDRIA_MODE", "EDGE")
    monkeypatch.setenv("REDIS_URL", f"redis://127.0.0.1:{_closed_port()}/0")
    monkeypatch.setenv("QDRANT_URL", f"http://127.0.0.1:{_closed_port()}")
    mode, checks = run_checks()
    by_name = {c.name: c for c in checks}
    assert mode == "EDGE"
    assert by_name["queue"].status == "fail" and "REDIS_URL" in by_name["queue"].fix
    assert by_name["qdrant"].status == "fail" and "QDRANT_API_KEY" in by_name["qdrant"].fix
    assert "gateway" not in by_name and "metadata DB" not in by_name
    assert "start the edge" in by_name["parser service"].fix


def test_cloud_mode_checks_the_external_services_and_not_the_ml_stack(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    port = _closed_port()
    monkeypatch.setenv("ALEXANDRIA_MODE", "CLOUD")
    monkeypatch.setenv("ALEXANDRIA_ADMIN_TOKEN", "short")
    monkeypatch.setenv("REDIS_URL", f"redis://127.0.0.1:{port}/0")
    monkeypatch.setenv("DATABASE_URL", f"postgresql://nobody@127.0.0.1:{port}/none")
    monkeypatch.setenv("QDRANT_URL", f"http://127.0.0.1:{port}")
    _, checks = run_checks()
    by_name = {c.name: c.status for c in checks}
    assert by_name == {
        "configuration": "ok",
        "admin token": "warn",
        "queue": "fail",
        "metadata DB": "fail",
        "qdrant": "fail",
        "gateway": "warn",
    }
