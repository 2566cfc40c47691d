"""`alexandria up` as a service manager, on real processes: a child killed with
SIGKILL (the parser, the embedded Redis) is logged with its status and started again
while `up` runs on; a SIGKILL of `up` itself, or a SIGHUP (a closed terminal), leaves
none of its children running."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from git_repos import SAMPLE_PYTHON_REPO, make_git_repo

from alexandria.stack import free_port, grpc_serving

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]  # this repository: a job of a few seconds
CHILDREN = ("parser", "embedder", "gateway", "redis")  # the gateway runs the coordinator


def children_of(pid: int) -> dict[str, int]:
    """`up`'s children by what they run (serve parser → parser, redis-server → redis);
    only they are read beyond their stat (some other process's cmdline can block)."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) != pid:
                continue
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except (OSError, IndexError):
            continue
        if b"serve" in argv:
            found[argv[argv.index(b"serve") + 1].decode()] = int(entry.name)
        elif any(b"redis-server" in a for a in argv):
            found["redis"] = int(entry.name)
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


@dataclass
class Up:
    proc: subprocess.Popen[str]
    data_dir: Path
    url: str

    def healthy(self) -> bool:
        try:
            return httpx.get(f"{self.url}/health", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False


@contextmanager
def start_up(data_dir: Path, env: dict[str, str], cwd: Path | None = None) -> Iterator[Up]:
    """`alexandria up` on a free port with `env`, until it supervises; stopped after."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "alexandria.cli", "up", "--port", str(port)],
        env=env,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    running = Up(proc, data_dir, f"http://127.0.0.1:{port}")
    try:
        assert proc.stdout is not None
        for line in proc.stdout:  # `up` is supervising once it says how to stop it
            if line.startswith("Ctrl-C stops everything"):
                break
        else:
            pytest.fail(f"up exited: {proc.communicate(timeout=60)[1]}")
        yield running
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            proc.communicate(timeout=60)


@pytest.fixture
def up(tmp_path: Path) -> Iterator[Up]:
    data_dir = tmp_path / "data"
    env = {
        **os.environ,
        "ALEXANDRIA_DATA_DIR": str(data_dir),
        "ALEXANDRIA_JOB_LEASE_SECONDS": "5",  # a job whose worker died is taken up again soon
        "ALEXANDRIA_HEARTBEAT_SECONDS": "1",
        "ALEXANDRIA_JOB_RETRY_DELAY_SECONDS": "1",
        "ALEXANDRIA_QUEUE_BLOCK_SECONDS": "1",  # idle reads end soon, so the next poll reclaims it
    }
    with start_up(data_dir, env) as running:
        yield running


def test_every_directory_finds_the_users_stack(tmp_path: Path) -> None:
    """Without ALEXANDRIA_DATA_DIR, `up` started in one directory and `ingest` run from
    another meet in the user's data dir ($XDG_DATA_HOME/alexandria): the port and the
    token come from there, and neither directory gets a data dir of its own."""
    home, started_in, run_from = tmp_path / "xdg", tmp_path / "a", tmp_path / "b"
    started_in.mkdir()
    run_from.mkdir()
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("ALEXANDRIA_DATA_DIR", "ALEXANDRIA_GATEWAY_URL")
    }
    env["XDG_DATA_HOME"] = str(home)
    repo = make_git_repo(tmp_path / "repo", SAMPLE_PYTHON_REPO)
    with start_up(home / "alexandria", env, cwd=started_in) as up:
        assert (up.data_dir / "stack.json").exists()
        done = subprocess.run(
            [sys.executable, "-m", "alexandria.cli", "ingest", str(repo), "--wait"],
            env=env,
            cwd=run_from,
            capture_output=True,
            text=True,
            timeout=180,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        assert done.stdout.startswith(f"queued file://{repo}")
    assert up.data_dir.stat().st_mode & 0o777 == 0o700
    assert list(started_in.iterdir()) == [] and list(run_from.iterdir()) == []


def test_every_killed_child_is_started_again_and_up_runs_on(up: Up) -> None:
    before = children_of(up.proc.pid)
    assert set(before) == set(CHILDREN)
    for pid in before.values():
        os.kill(pid, signal.SIGKILL)

    def all_restarted() -> bool:
        now = children_of(up.proc.pid)
        return set(now) == set(CHILDREN) and not set(now.values()) & set(before.values())

    wait_for(all_restarted, "the restarts")
    for service in ("parser", "embedder"):
        sock = f"unix:{up.data_dir / service}.sock"
        wait_for(lambda sock=sock: grpc_serving(sock), service)  # type: ignore[misc]
    wait_for(up.healthy, "the gateway's health (Redis back)")
    assert up.proc.poll() is None
    up.proc.send_signal(signal.SIGTERM)
    _, err = up.proc.communicate(timeout=60)
    for name in CHILDREN:
        assert f"{name} exited (killed by SIGKILL); restarting in 1s" in err


@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGHUP], ids=["kill-9", "hup"])
def test_no_child_outlives_up(up: Up, how: signal.Signals) -> None:
    children = children_of(up.proc.pid)
    assert set(children) == set(CHILDREN)
    up.proc.send_signal(how)
    up.proc.communicate(timeout=60)
    wait_for(lambda: not any(alive(pid) for pid in children.values()), "the children to end", 60)


def test_ingest_wait_rides_out_a_gateway_killed_mid_job(up: Up) -> None:
    """The gateway (with its coordinator) dies during the job: `up` starts it again, the
    job is taken up again once its lease expires, and `ingest --wait` follows it to the
    end through the outage."""
    waiting = subprocess.Popen(
        [sys.executable, "-m", "alexandria.cli", "ingest", str(ROOT), "--wait", "--timeout", "180"],
        env={**os.environ, "ALEXANDRIA_DATA_DIR": str(up.data_dir)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert waiting.stdout is not None
    assert waiting.stdout.readline().startswith("queued file://")
    time.sleep(0.5)
    os.kill(children_of(up.proc.pid)["gateway"], signal.SIGKILL)
    out, err = waiting.communicate(timeout=240)
    assert waiting.returncode == 0, out + err
    assert out.startswith("complete: ")
    assert "retrying" in err


def test_up_detach_returns_healthy_and_down_stops_everything(tmp_path: Path) -> None:
    """`up --detach` returns once the stack answers, in a session of its own; `ingest`
    works at once; a second one is refused (2) naming the first; `down` ends it all."""
    env = {**os.environ, "ALEXANDRIA_DATA_DIR": str(tmp_path / "data")}
    env.pop("ALEXANDRIA_GATEWAY_URL", None)
    cli = [sys.executable, "-m", "alexandria.cli"]

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*cli, *args], env=env, capture_output=True, text=True, timeout=240)

    port = str(free_port())
    started = run("up", "--detach", "--port", port)
    assert started.returncode == 0, started.stdout + started.stderr
    assert started.stdout.startswith(f"healthy at http://127.0.0.1:{port} (pid ")
    pid = int(started.stdout.split("(pid ")[1].split(")")[0])
    assert os.getsid(pid) == pid  # its own session: a closed terminal does not stop it
    children = children_of(pid)
    assert set(children) == set(CHILDREN)
    repo = make_git_repo(tmp_path / "repo", SAMPLE_PYTHON_REPO)
    ingested = run("ingest", str(repo), "--wait")
    assert ingested.returncode == 0, ingested.stderr
    second = run("up", "--detach", "--port", str(free_port()))
    assert second.returncode == 2
    assert f"is in use by pid {pid}, at http://127.0.0.1:{port}" in second.stderr
    stopped = run("down")
    assert stopped.returncode == 0 and stopped.stdout == f"stopped the stack of pid {pid}\n"
    assert not alive(pid) and not any(alive(child) for child in children.values())
    assert run("down").stdout.startswith("no stack runs on ")
