"""Clone a repository into its own temporary directory, and always remove it.

git runs with no shell, no system or global config, no hooks, no LFS or other
filters, no submodules, no credential prompts and an allow-list of transports
(https; file only for the canonical `file:///` URLs accepted in LOCAL mode).
Each clone gets a fresh 0700 directory (P13), deleted when the `with` block ends
however it ends (P14). Transient network failures are retried within the timeout.

Size is bounded twice: the download is watched while git runs (the pack may not
exceed `max_bytes`), and before anything is checked out the HEAD tree is listed
(`git ls-tree -l`) and refused when its files together exceed `max_bytes` or
number more than `max_files`. That listing also gives every file's blob id, the
content hash the parse cache is keyed by.
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
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from services.common.repo_url import is_local

log = logging.getLogger(__name__)

TEMP_PREFIX = "alexandria-clone-"
DEFAULT_MAX_BYTES = 1 << 30
DEFAULT_MAX_FILES = 200_000
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


class CloneUnavailable(CloneError):
    """A network failure that outlasted the retries: worth trying again later."""


class CloneCancelled(CloneError):
    """The job was cancelled while cloning."""


class CloneTooLarge(CloneError):
    """The repository is over the configured size or file-count limit."""


@dataclass(frozen=True, slots=True)
class ClonedRepository:
    """A checkout, the full hash of its HEAD commit, and each regular file's blob id."""

    path: Path
    commit: str
    blobs: Mapping[str, str]


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
        "--no-checkout",
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
    stdout: IO[bytes] | None = None,
    watch: Callable[[], None] | None = None,
) -> tuple[int, bytes]:
    """Run git in its own process group; kill the whole group on timeout, on cancel, or
    when `watch` (called every 0.2 s) raises."""
    with tempfile.TemporaryFile(dir=cwd) as stderr:
        try:
            process = subprocess.Popen(
                command,
                cwd=cwd,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL if stdout is None else stdout,
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
                if watch is not None:
                    watch()
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


def _directory_bytes(path: Path) -> int:
    """Total size of the files directly in `path` (0 before it exists): a clone's pack
    directory, where the download (`tmp_pack_*`, then `pack-*.pack`) is written."""
    try:
        with os.scandir(path) as entries:
            return sum(e.stat(follow_symlinks=False).st_size for e in entries if e.is_file())
    except OSError:
        return 0


def _clone_once(
    url: str,
    workdir: Path,
    attempt: int,
    deadline: float,
    cancel: threading.Event | None,
    max_bytes: int,
) -> Path:
    destination = workdir / f"checkout-{attempt}"

    def watch() -> None:
        if _directory_bytes(destination / ".git" / "objects" / "pack") > max_bytes:
            raise CloneTooLarge(
                f"git clone {url}: download passed the {max_bytes}-byte limit "
                "(MAX_REPO_BYTES); the repository is too large"
            )

    code, stderr = _run(
        _git_command(url, destination),
        env=_env(str(workdir)),
        cwd=str(workdir),
        deadline=deadline,
        cancel=cancel,
        watch=watch,
    )
    if code != 0:
        shutil.rmtree(destination, ignore_errors=True)
        message = _clean_stderr(stderr).replace(str(destination), "<checkout>")
        error = CloneNotFound if _NOT_FOUND.search(message) else CloneError
        raise error(f"git clone {url} failed: {message}")
    return destination


def _git_output(
    checkout: Path, workdir: Path, args: list[str], deadline: float, cancel: threading.Event | None
) -> bytes:
    """Run a local git command in the checkout (hooks off) and return its stdout."""
    command = ["git", "-c", "core.hooksPath=/dev/null", *args]
    with tempfile.TemporaryFile(dir=workdir) as out:
        code, stderr = _run(
            command,
            env=_env(str(workdir)),
            cwd=str(checkout),
            deadline=deadline,
            cancel=cancel,
            stdout=out,
        )
        if code != 0:
            raise CloneError(f"git {args[0]} failed: {_clean_stderr(stderr)}")
        out.seek(0)
        return out.read()


def _head_commit(checkout: Path, workdir: Path, deadline: float) -> str:
    try:
        raw = _git_output(checkout, workdir, ["rev-parse", "--verify", "HEAD"], deadline, None)
    except CloneError:
        raw = b""
    commit = raw[:200].decode("ascii", errors="replace").strip()
    if not re.fullmatch(r"[0-9a-f]{40}|[0-9a-f]{64}", commit):
        raise CloneError("cloned repository has no HEAD commit (empty repository?)")
    return commit


def _head_blobs(
    checkout: Path,
    workdir: Path,
    deadline: float,
    cancel: threading.Event | None,
    *,
    max_bytes: int,
    max_files: int,
    url: str,
) -> dict[str, str]:
    """Regular files of HEAD → blob id, refusing a tree over the size or file limits.

    Paths are decoded like `os.scandir` names (UTF-8, surrogateescape), so they match
    the walk's. Symlinks and submodules are not regular files and are left out.
    """
    listing = _git_output(
        checkout, workdir, ["ls-tree", "-r", "-l", "-z", "--full-tree", "HEAD"], deadline, cancel
    )
    blobs: dict[str, str] = {}
    total = 0
    for entry in listing.split(b"\0"):
        if not entry:
            continue
        meta, _, raw_path = entry.partition(b"\t")
        mode, kind, blob, size = meta.split(None, 3)
        if kind != b"blob" or mode == b"120000":
            continue
        total += int(size)
        blobs[os.fsdecode(raw_path)] = blob.decode("ascii")
        if total > max_bytes or len(blobs) > max_files:
            raise CloneTooLarge(
                f"{url} is too large: over {max_bytes} bytes (MAX_REPO_BYTES) or "
                f"{max_files} files (MAX_REPO_FILES) at HEAD"
            )
    return blobs


@contextmanager
def cloned_repository(
    canonical_url: str,
    *,
    timeout_seconds: float,
    cancel: threading.Event | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_files: int = DEFAULT_MAX_FILES,
) -> Iterator[ClonedRepository]:
    """Shallow-clone `canonical_url` (already canonicalised) and yield the checkout.

    Raises CloneTimeout past `timeout_seconds` (all attempts together), CloneNotFound
    when git says the repository does not exist, CloneTooLarge over `max_bytes`
    (download, or files at HEAD) or `max_files`, CloneCancelled once `cancel` is set,
    CloneError otherwise. The temporary directory is removed on every exit.
    """
    deadline = time.monotonic() + timeout_seconds
    workdir = Path(tempfile.mkdtemp(prefix=TEMP_PREFIX))
    try:
        try:
            checkout = _clone_with_retries(canonical_url, workdir, deadline, cancel, max_bytes)
            commit = _head_commit(checkout, workdir, deadline)
            blobs = _head_blobs(
                checkout,
                workdir,
                deadline,
                cancel,
                max_bytes=max_bytes,
                max_files=max_files,
                url=canonical_url,
            )
            _git_output(
                checkout, workdir, ["checkout", "--quiet", "--force", "HEAD"], deadline, cancel
            )
        except CloneTimeout:
            raise CloneTimeout(
                f"git clone {canonical_url} did not finish within {timeout_seconds:g} s"
            ) from None
        yield ClonedRepository(path=checkout, commit=commit, blobs=blobs)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
        if workdir.exists():
            log.error("could not remove clone directory %s", workdir)


def _clone_with_retries(
    url: str, workdir: Path, deadline: float, cancel: threading.Event | None, max_bytes: int
) -> Path:
    """Clone, retrying transient network failures (not timeouts, limits or a missing repo)."""
    for attempt in range(1, ATTEMPTS):
        try:
            return _clone_once(url, workdir, attempt, deadline, cancel, max_bytes)
        except (CloneNotFound, CloneTimeout, CloneCancelled, CloneTooLarge):
            raise
        except CloneError as exc:
            if not _TRANSIENT.search(str(exc)):
                raise
            log.warning("clone attempt %d failed, retrying: %s", attempt, exc)
            backoff = RETRY_BACKOFF_SECONDS * 2 ** (attempt - 1)
            time.sleep(min(backoff, max(0.0, deadline - time.monotonic())))
    try:
        return _clone_once(url, workdir, ATTEMPTS, deadline, cancel, max_bytes)
    except CloneError as exc:
        if type(exc) is CloneError and _TRANSIENT.search(str(exc)):
            raise CloneUnavailable(str(exc)) from None
        raise
