"""`alexandria up`: the whole stack as local processes, started, health-checked, stopped.

Parser and embedder run as separate processes (gRPC); the coordinator runs inside
the gateway's process when Qdrant is in local mode (one process per storage path),
else as a process of its own. The embedded redis-server belongs to the stack.
`alexandria up --edge` runs only parser, embedder and coordinator, against the queue
shared with a cloud gateway. Each process logs to `<data dir>/logs/<name>.log`.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Literal

import grpc
import httpx
from grpc_health.v1 import health_pb2, health_pb2_grpc

from alexandria import output, stack_state
from alexandria.supervise import GaveUp, Supervisor
from services.common.children import PARENT_ENV
from services.common.config import Settings
from services.common.local_sockets import prepare_directory
from services.common.transport import check_queue_settings, describe_queue, redis_url
from services.ingest.liveness import is_alive, liveness_file

Service = Literal["parser", "embedder"]
GRPC_SERVICES: tuple[Service, ...] = ("parser", "embedder")
START_TIMEOUT_SECONDS = 120.0
SUPERVISE_SECONDS = 0.5  # how often `up` looks at its children
PRIVATE_UMASK = 0o077
"""The mask the stack runs under: nothing it writes is readable by other users."""
STOP_TIMEOUT_SECONDS = 60.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class LocalStack:
    """The local processes; use as a context manager or call start()/stop().

    `edge`: no gateway and no embedded Redis; the coordinator consumes the configured queue.
    The parser and the embedder listen where `Settings.grpc_address` says (in LOCAL mode,
    unix sockets in the data dir that only this user can reach), or on loopback ports
    `parser_port` / `embedder_port` when given.
    """

    settings: Settings
    gateway_port: int = 8000
    parser_port: int | None = None
    embedder_port: int | None = None
    edge: bool = False
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    _redis: subprocess.Popen[bytes] | None = None
    _child_env: dict[str, str] = field(default_factory=dict)  # what the children start with
    _claim: IO[str] | None = None  # the data dir's lock (stack_state.py)
    _umask: int | None = None  # this process's own, restored on stop

    @property
    def gateway_url(self) -> str:
        return f"http://127.0.0.1:{self.gateway_port}"

    def address(self, service: Service) -> str:
        """Where `service` listens: its port on loopback when given, else the settings'."""
        port = self.parser_port if service == "parser" else self.embedder_port
        return f"127.0.0.1:{port}" if port else self.settings.grpc_address(service)

    @property
    def log_dir(self) -> Path:
        return self.settings.data_dir / "logs"

    def _env(self, redis: str | None) -> dict[str, str]:
        env = dict(os.environ)
        if redis is not None:  # else the Upstash REST variables, inherited
            env["REDIS_URL"] = redis
        env.update(
            ALEXANDRIA_DATA_DIR=str(self.settings.data_dir),
            ALEXANDRIA_PARSER_ADDR=self.address("parser"),
            ALEXANDRIA_EMBEDDER_ADDR=self.address("embedder"),
            ALEXANDRIA_MODE=self.settings.mode,
        )
        env[PARENT_ENV] = str(os.getpid())  # each child ends when `up` does (children.py)
        if not self.edge:  # the ingest token is the gateway's
            env["ALEXANDRIA_ADMIN_TOKEN"] = self.settings.ingest_token()
        return env

    def _commands(self) -> dict[str, list[str]]:
        """Each process's `alexandria` arguments, in start order."""
        commands: dict[str, list[str]] = {
            service: ["serve", service, *_listen_arguments(self.address(service))]
            for service in GRPC_SERVICES
        }
        gateway = ["serve", "gateway", "--port", str(self.gateway_port)]
        if self.edge or self.settings.qdrant_url:
            commands["coordinator"] = ["serve", "coordinator"]
        else:
            gateway.append("--with-coordinator")
        if not self.edge:
            commands["gateway"] = gateway
        return commands

    def _healthy(self, name: str) -> bool:
        if name == "gateway":
            return _http_ok(f"{self.gateway_url}/health")
        if name == "coordinator":
            return is_alive(liveness_file(self.settings))
        return grpc_serving(self.address("parser" if name == "parser" else "embedder"))

    def _spawn(self, name: str, args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        """Start child `name`: its log lines go to `<name>.log`, rotated by the child
        (ALEXANDRIA_LOG_FILE), and whatever it prints outside its log (a crash's traceback) to
        `<name>.out`."""
        self.log_dir.mkdir(parents=True, exist_ok=True)
        env = {**env, "ALEXANDRIA_LOG_FILE": str(self.log_dir / f"{name}.log")}
        with open(self.log_dir / f"{name}.out", "ab") as printed:
            self.processes[name] = process = subprocess.Popen(
                [sys.executable, "-m", "alexandria.cli", *args],
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=printed,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return process

    def supervised(self) -> dict[str, subprocess.Popen[bytes]]:
        """The processes `up` keeps running: every child, and the embedded Redis when
        this stack started it."""
        found = dict(self.processes)
        if self._redis is not None:
            found["redis"] = self._redis
        return found

    def restart(self, name: str) -> subprocess.Popen[bytes]:
        """Start child `name` again, as it was started (see `supervised`)."""
        if name != "redis":
            return self._spawn(name, self._commands()[name], self._child_env)
        _, self._redis = redis_url(self.settings, die_with_caller=True)
        if self._redis is None:
            raise RuntimeError("the embedded Redis was started again by another process")
        return self._redis

    def log_of(self, name: str) -> str:
        if name == "redis":
            return str(self.settings.data_dir / "redis.log")
        return f"{self.log_dir / name}.log, .out"

    def start(self) -> None:
        """Start everything and wait until healthy; DataDirInUse when another stack runs
        on the data dir (nothing is started then). The data dir and everything the stack
        writes (databases, Redis's file, logs, the token) are this user's alone: 0700
        directories and 0600 files, the processes inheriting the mask."""
        self.settings.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.settings.data_dir.chmod(0o700)  # a data dir made before, or by `ingest`
        self._claim = stack_state.claim(self.settings.data_dir)
        self._umask = os.umask(PRIVATE_UMASK)
        for service in GRPC_SERVICES:
            if (address := self.address(service)).startswith("unix:"):
                path = Path(address.removeprefix("unix:"))
                prepare_directory(path, self.settings.data_dir)
                path.unlink(missing_ok=True)  # a dead stack's: this one holds the lock
        url = None
        if not self.settings.upstash_redis_rest_url:
            url, self._redis = redis_url(self.settings, die_with_caller=True)
        try:
            # Bad queue credentials stop the stack before anything is spawned.
            asyncio.run(check_queue_settings(self.settings))
            self._child_env = self._env(url)
            liveness_file(self.settings).unlink(missing_ok=True)  # a stale one would look alive
            for name, args in self._commands().items():
                self._spawn(name, args, self._child_env)
            self._wait_healthy()
            url = None if self.edge else self.gateway_url
            stack_state.write(self.settings.data_dir, stack_state.RunningStack(os.getpid(), url))
        except BaseException:
            self.stop()
            raise

    def _wait_healthy(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        pending = set(self.processes)
        while pending:
            for name, proc in self.processes.items():
                if proc.poll() is not None:
                    raise RuntimeError(
                        f"{name} exited with {proc.returncode}; see {self.log_dir / name}.log"
                    )
            pending = {name for name in pending if not self._healthy(name)}
            if time.monotonic() > deadline:
                raise TimeoutError(f"not healthy after {START_TIMEOUT_SECONDS:.0f}s: {pending}")
            time.sleep(0.2)

    def stop(self) -> None:
        """SIGTERM every process (gateway first, so the coordinator releases its job)."""
        for name in ("gateway", "coordinator", "parser", "embedder"):
            proc = self.processes.get(name)
            if proc is not None and proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT_SECONDS
        for proc in self.processes.values():
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self.processes.clear()
        if self._redis is not None:
            self._redis.terminate()
            self._redis.wait(timeout=10)
            self._redis = None
        if self._claim is not None:
            stack_state.release(self.settings.data_dir, self._claim)
            self._claim = None
        if self._umask is not None:
            os.umask(self._umask)
            self._umask = None

    def __enter__(self) -> LocalStack:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _listen_arguments(address: str) -> list[str]:
    """`alexandria serve` arguments that make a service listen at `address`."""
    if address.startswith("unix:"):
        return ["--socket", address.removeprefix("unix:")]
    host, _, port = address.rpartition(":")
    return ["--host", host or "127.0.0.1", "--port", port]


def _where(address: str) -> str:
    if address.startswith("unix:"):
        path = address.removeprefix("unix:")
        return f"{path}  (gRPC; grpcurl -plaintext -unix {path} list)"
    return f"{address}  (gRPC)"


def grpc_serving(target: int | str) -> bool:
    """True when the gRPC server at `target` (HOST:PORT, unix:PATH, or a port on 127.0.0.1) reports
    SERVING to a grpc.health.v1 Check."""
    addr = f"127.0.0.1:{target}" if isinstance(target, int) else target
    try:
        with grpc.insecure_channel(addr) as channel:
            reply = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(), timeout=1.0
            )
            return reply.status == health_pb2.HealthCheckResponse.SERVING
    except grpc.RpcError:
        return False


def _http_ok(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2.0).status_code == 200
    except httpx.HTTPError:
        return False


def run_until_interrupted(settings: Settings, *, gateway_port: int, edge: bool = False) -> int:
    """`alexandria up [--edge]`: start everything, print where it is, keep it running
    (`supervise.py`), stop on Ctrl-C, SIGTERM or SIGHUP (a closed terminal)."""
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):  # SIGINT: it may arrive ignored
        signal.signal(sig, _interrupt)
    started = time.monotonic()
    try:
        with LocalStack(settings, gateway_port=gateway_port, edge=edge) as stack:
            print(f"healthy in {time.monotonic() - started:.1f}s")
            for name, where in _locations(stack):
                print(f"{name:<11} {where}")
            print("Ctrl-C stops everything.", flush=True)
            supervisor = Supervisor(stack.supervised(), stack.restart, stack.log_of, sys.stderr)
            while True:
                supervisor.check()
                time.sleep(SUPERVISE_SECONDS)
    except GaveUp as exc:
        print(f"{exc}; stopped everything", file=sys.stderr, flush=True)
        return output.FAILED
    except KeyboardInterrupt:  # Ctrl-C
        print("stopped.", flush=True)
        return output.INTERRUPTED
    except _Terminated:  # a service manager's stop
        print("stopped.", flush=True)
        return output.OK


def _locations(stack: LocalStack) -> list[tuple[str, str]]:
    services = [(name, _where(stack.address(name))) for name in GRPC_SERVICES]
    logs = ("logs", str(stack.log_dir))
    if stack.edge:
        return [*services, ("coordinator", f"consuming {describe_queue(stack.settings)}"), logs]
    url = stack.gateway_url
    settings = stack.settings
    token = "$ALEXANDRIA_ADMIN_TOKEN" if settings.admin_token else str(settings.admin_token_file)
    return [("gateway", f"{url}  (docs at {url}/docs)"), *services, logs, ("token", token)]


class _Terminated(Exception):
    """SIGTERM or SIGHUP arrived: stop everything, as on Ctrl-C, and exit 0."""


def _interrupt(signum: int, _frame: object) -> None:
    raise KeyboardInterrupt if signum == signal.SIGINT else _Terminated
