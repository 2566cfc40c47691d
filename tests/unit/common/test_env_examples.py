"""R12.3: deploy/.env.cloud.example and deploy/.env.edge.example document every variable
their mode reads, name only real settings, and parse into valid Settings of that mode.

Adding a setting? Put its field name in CLOUD and/or EDGE below (or in NOT_DEPLOYED, with
why), and a `NAME=value` line (`# NAME=value` when optional) in each example it belongs to.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from environment import clear_settings_env

from services.common.config import Settings, env_name

DEPLOY = Path(__file__).resolve().parents[3] / "deploy"
QUEUE = {"redis_url", "redis_max_connections", "upstash_redis_rest_url", "upstash_redis_rest_token"}
QDRANT = {"qdrant_url", "qdrant_api_key"}

# The gateway (ALEXANDRIA_MODE=CLOUD).
CLOUD = {
    "mode",
    "admin_token",
    "read_token",
    "cors_allow_origins",
    "max_request_body_bytes",
    "max_request_path_bytes",
    "gateway_head_timeout_seconds",
    "gateway_max_connections",
    "rate_limit_ingest_per_minute",
    "rate_limit_reads_per_minute",
    "forwarded_for_hops",
    "health_cache_seconds",
    *QUEUE,
    "database_url",
    *QDRANT,
    "max_queue_size",
    "worker_forget_seconds",
    "task_ttl_seconds",
    "queue_poll_min_seconds",
    "queue_block_seconds",
    "events_poll_max_seconds",
    "allowed_git_hosts",
    "log_format",
}
# Parser, embedder and coordinator (ALEXANDRIA_MODE=EDGE).
EDGE = {
    "mode",
    "alexandria_data_dir",
    *QUEUE,
    *QDRANT,
    "parser_addr",
    "edge_shared_secret",
    "embedder_max_memory_bytes",
    "embedder_max_walk_steps",
    "embedder_max_edges",
    "embedder_addr",
    "job_lease_seconds",
    "max_job_attempts",
    "job_retry_delay_seconds",
    "queue_poll_min_seconds",
    "queue_poll_max_seconds",
    "queue_block_seconds",
    "heartbeat_seconds",
    "allowed_git_hosts",
    "clone_timeout_seconds",
    "shutdown_grace_seconds",
    "max_repo_bytes",
    "max_repo_files",
    "embedder_device",
    "train_epochs",
    "train_walk_length",
    "train_context_size",
    "train_p",
    "train_q",
    "train_cochange_edges",
    "train_warm_start",
    "train_warm_epochs",
    "train_warm_min_kept",
    "history_max_commits",
    "cochange_max_files",
    "log_format",
    "metrics_host",
    "parser_metrics_port",
    "embedder_metrics_port",
    "coordinator_metrics_port",
}
NOT_DEPLOYED = {
    "gateway_url": "the CLI's gateway address, not read by a deployed process",
    "log_file": "set by `alexandria up` for each process it starts; deployments log to "
    "stdout, which Docker (json-file, 10 MB x 3) and journald rotate",
    "log_max_bytes": "with ALEXANDRIA_LOG_FILE only",
    "log_backups": "with ALEXANDRIA_LOG_FILE only",
}
EXAMPLES = {
    "CLOUD": (DEPLOY / ".env.cloud.example", CLOUD),
    "EDGE": (DEPLOY / ".env.edge.example", EDGE),
}

ASSIGNMENT = re.compile(r"^(#\s*)?([A-Z][A-Z0-9_]*)=(.*)$")
HERE = "tests/unit/common/test_env_examples.py"


def parse_example(path: Path) -> tuple[dict[str, str], set[str]]:
    """The active `NAME=value` lines, and the names of the commented-out ones."""
    active: dict[str, str] = {}
    commented: set[str] = set()
    for number, line in enumerate(path.read_text().splitlines(), 1):
        match = ASSIGNMENT.match(line)
        if match is None:
            assert not line or line.startswith("#"), f"{path.name}:{number}: not NAME=value: {line}"
        elif match[1]:
            commented.add(match[2])
        else:
            assert match[2] not in active, f"{path.name}:{number}: {match[2]} set twice"
            active[match[2]] = match[3]
    return active, commented


def test_every_setting_belongs_to_a_deployment_or_says_why_not() -> None:
    fields = set(Settings.model_fields)
    listed = CLOUD | EDGE | set(NOT_DEPLOYED)
    unlisted = sorted(fields - listed)
    assert not unlisted, "\n".join(
        f"Settings.{name} ({env_name(name)}) is in no deployment: add it to CLOUD and/or EDGE "
        f"in {HERE} and document it in deploy/.env.cloud.example / deploy/.env.edge.example, "
        f"or to NOT_DEPLOYED with the reason"
        for name in unlisted
    )
    assert not listed - fields, f"no longer settings, remove from {HERE}: {listed - fields}"


@pytest.mark.parametrize("mode", sorted(EXAMPLES))
def test_the_example_documents_every_variable_its_mode_reads(mode: str) -> None:
    path, needed = EXAMPLES[mode]
    active, commented = parse_example(path)
    documented = set(active) | commented
    missing = sorted(env_name(name) for name in needed if env_name(name) not in documented)
    assert not missing, (
        f"deploy/{path.name} does not document {', '.join(missing)} "
        f"(read in ALEXANDRIA_MODE={mode}): "
        "add `NAME=value`, or `# NAME=value` when optional, with a comment saying what it does"
    )
    unknown = documented - {env_name(name) for name in Settings.model_fields}
    assert not unknown, f"deploy/{path.name} names variables no setting reads: {sorted(unknown)}"


@pytest.mark.parametrize("mode", sorted(EXAMPLES))
def test_the_example_is_a_valid_configuration_of_its_mode(
    mode: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    clear_settings_env(monkeypatch)  # only the example counts
    path, _ = EXAMPLES[mode]
    active, _ = parse_example(path)
    for name, value in active.items():  # read from the environment, as a deployment does
        monkeypatch.setenv(name, value)
    assert Settings().mode == mode
