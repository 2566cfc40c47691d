"""deploy/render.yaml (R12): a web service started on Render's $PORT in CLOUD mode, health
checked at /health, every variable one the gateway reads, secrets never in the file."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from services.common.config import Settings, env_name, load_settings

BLUEPRINT = Path(__file__).resolve().parents[3] / "deploy" / "render.yaml"
RENDER_ONLY = {"PYTHON_VERSION"}


def gateway_service() -> dict:
    (service,) = yaml.safe_load(BLUEPRINT.read_text())["services"]
    return service


def test_the_gateway_serves_on_renders_port_with_a_health_check() -> None:
    service = gateway_service()
    assert service["type"] == "web" and service["healthCheckPath"] == "/health"
    assert "alexandria serve gateway" in service["startCommand"]
    assert "--host 0.0.0.0" in service["startCommand"] and "--port $PORT" in service["startCommand"]
    assert "[gateway]" in service["buildCommand"]


def test_every_variable_is_read_by_the_gateway_and_secrets_stay_out() -> None:
    env = {v["key"]: v for v in gateway_service()["envVars"]}
    fields = {env_name(name) for name in Settings.model_fields}
    assert set(env) - RENDER_ONLY <= fields
    assert env["ALEXANDRIA_MODE"]["value"] == "CLOUD"
    for key, spec in env.items():
        if any(word in key for word in ("TOKEN", "URL", "KEY")):
            assert "value" not in spec, f"{key} must be entered in the dashboard, not committed"


def test_the_committed_values_pass_cloud_validation(monkeypatch: pytest.MonkeyPatch) -> None:
    """As Render would run it: the file's values plus the dashboard's secrets, from the env."""
    env = {v["key"]: v["value"] for v in gateway_service()["envVars"] if "value" in v}
    env |= {
        "ALEXANDRIA_ADMIN_TOKEN": "generated-by-render",
        "REDIS_URL": "rediss://default:pw@eu1.upstash.io:6379",
        "DATABASE_URL": "postgresql://u:p@ep.neon.tech/db?sslmode=require",
        "QDRANT_URL": "https://x.cloud.qdrant.io:6333",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    settings = load_settings()
    assert settings.mode == "CLOUD" and settings.cors_allow_origins == ()
