"""Clone a repository into its own temporary directory, and always remove it.

git runs with no shell, no system or global config, no hooks, no LFS or other
filters, no submodules, no credential prompts and an allow-list of transports
(https; file only for the canonical `file:///` URLs accepted in LOCAL mode).
Each clone gets a fresh 0700 directory (P13), deleted when the `with` block ends
however it ends (P14). Transient network failures are retried within the timeout.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

from services.common.repo_url import is_local

log = logging.getLogger(__name__)

TEMP_PREFIX = "alexandria-clone-"
ATTEMPTS = 3
RETRY_BACKOFF_SECONDS = 1.0
_PASSED_ENV = (
    "PATH",
    "LANG",
    "TMPDIR",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "GIT_SSL_CAINFO",
    "HTTPS_PROXY",
    "https_proxy",
    "NO_PROXY",
    "no_proxy",
)
_SAFE_CONFIG = (
    "core.hooksPath=/dev/null",
    "core.fsmonitor=false",
    "filter.lfs.smudge=",
    "filter.lfs.process=",
    "filter.lfs.required=false",
    "protocol.allow=never",
    "protocol.https.allow=always",
    "credential.helper=",
)
_CREDENTIALS = re.compile(r"(?<=://)[^/@\s]+@")
_NOT_FOUND = re.compile(
    r"repository .* not found|not found|does not appear to be a git repository|"
    r"could not read Username|Authentication failed|does not exist",
    re.IGNORECASE,
)
_TRANSIENT = re.compile(
    r"Could not resolve host|Connection (timed out|reset|refused)|early EOF|RPC failed|"
    r"The requested URL returned error: 5\d\d|unexpected disconnect|Operation timed out",
    re.IGNORECASE,
)


class CloneError(Exception):
    """The clone failed; the message is git's own (trimmed, credentials removed)."""


class CloneNotFound(CloneError):
    """The repository does not exist, or is private."""


class CloneTimeout(CloneError):
    """The clone took longer than its timeout."""


class CloneCancelled(CloneError):
    """The job was cancelled while cloning."""


@dataclass(frozen=True, slots=True)
class ClonedRepository:
    """A checkout and the full hash of its HEAD commit."""

    path: Path
    commit: str


def _env(home: str) -> dict[str, str]:
    env = {k: os.environ[k] for k in _PASSED_ENV if k in os.environ}
    env.update(
        HOME=home,
        LC_ALL="C",
        GIT_TERMINAL_PROMPT="0",
        GIT_CONFIG_NOSYSTEM="1",
        GIT_CONFIG_GLOBAL="/dev/null",
        GIT_ASKPASS="/bin/true",
        GIT_LFS_SKIP_SMUDGE="1",
        GIT_PROTOCOL_FROM_USER="0",
    )
    return env


def _git_command(canonical_url: str, destination: Path) -> list[str]:
    config = [*_SAFE_CONFIG]
    if is_local(canonical_url):
        config.append("protocol.file.allow=always")
    options = [arg for item in config for arg in ("-c", item)]
    return [
        "git",
        *options,
        "clone",
        "--quiet",
        "--depth",
        "1",
        "--single-branch",
        "--no-tags",
        "--no-recurse-submodules",
        "--",
        canonical_url,
        str(destination),
    ]


def _clean_stderr(raw: bytes) -> str:
    """git's complaint, trimmed: its last lines, with any URL credentials removed."""
    text = _CREDENTIALS.sub("", raw.decode("utf-8", errors="replace"))
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    message = " ".join(lines[-4:]) or "git clone failed with no message"
    return message[:500]


def _run(
    command: list[str],
    *,
    env: dict[str, str],
    cwd: str,
    deadline: float,
    cancel: threading.Event | None,
) -> tuple[int, bytes]:
    """Run git in its own process group; kill the whole group on timeout or cancel."""
    with tempfile.TemporaryFile(dir=cwd) as stderr:
        try:
            process = subprocess.Popen(
                command,
                cwd=cwd,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=stderr,
                start_new_session=True,
            )
        except OSError as exc:
            raise CloneError(f"cannot run git: {exc.strerror or exc}") from None
        try:
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise CloneTimeout("clone timed out")
                if cancel is not None and cancel.is_set():
                    raise CloneCancelled("clone cancelled")
                try:
                    code = process.wait(timeout=min(remaining, 0.2))
                    break
                except subprocess.TimeoutExpired:
                    continue
        finally:
            if process.poll() is None:
                _kill_group(process)
        stderr.seek(0)
        return code, stderr.read(64 * 1024)


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    with suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def _clone_once(
    url: str, workdir: Path, attempt: int, deadline: float, cancel: threading.Event | None
) -> Path:
    destination = workdir / f"checkout-{attempt}"
    env = _env(str(workdir))
    code, stderr = _run(
        _git_command(url, destination), env=env, cwd=str(workdir), deadline=deadline, cancel=cancel
    )
    if code != 0:
        shutil.rmtree(destination, ignore_errors=True)
        message = _clean_stderr(stderr).replace(str(destination), "<checkout>")
        error = CloneNotFound if _NOT_FOUND.search(message) else CloneError
        raise error(f"git clone {url} failed: {message}")
    return destination


def _head_commit(checkout: Path, workdir: Path, deadline: float) -> str:
    command = ["git", "-c", "core.hooksPath=/dev/null", "rev-parse", "--verify", "HEAD"]
    with tempfile.TemporaryFile(dir=workdir) as out:
        try:
            result = subprocess.run(
                command,
                cwd=checkout,
                env=_env(str(workdir)),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.DEVNULL,
                timeout=max(1.0, deadline - time.monotonic()),
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise CloneTimeout("git rev-parse HEAD timed out") from None
        out.seek(0)
        commit = out.read(200).decode("ascii", errors="replace").strip()
    if result.returncode != 0 or not re.fullmatch(r"[0-9a-f]{40}|[0-9a-f]{64}", commit):
        raise CloneError("cloned repository has no HEAD commit (empty repository?)")
    return commit


@contextmanager
def cloned_repository(
    canonical_url: str, *, timeout_seconds: float, cancel: threading.Event | None = None
) -> Iterator[ClonedRepository]:
    """Shallow-clone `canonical_url` (already canonicalised) and yield the checkout.

    Raises CloneTimeout past `timeout_seconds` (all attempts together), CloneNotFound
    when git says the repository does not exist, CloneCancelled once `cancel` is set,
    CloneError otherwise. The temporary directory is removed on every exit.
    """
    deadline = time.monotonic() + timeout_seconds
    workdir = Path(tempfile.mkdtemp(prefix=TEMP_PREFIX))
    try:
        for attempt in range(1, ATTEMPTS + 1):
            try:
                checkout = _clone_once(canonical_url, workdir, attempt, deadline, cancel)
                break
            except CloneTimeout:
                raise CloneTimeout(
                    f"git clone {canonical_url} did not finish within {timeout_seconds:g} s"
                ) from None
            except CloneNotFound:
                raise
            except CloneError as exc:
                if attempt == ATTEMPTS or not _TRANSIENT.search(str(exc)):
                    raise
                log.warning("clone attempt %d failed, retrying: %s", attempt, exc)
                backoff = RETRY_BACKOFF_SECONDS * 2 ** (attempt - 1)
                time.sleep(min(backoff, max(0.0, deadline - time.monotonic())))
        yield ClonedRepository(path=checkout, commit=_head_commit(checkout, workdir, deadline))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
        if workdir.exists():
            log.error("could not remove clone directory %s", workdir)
