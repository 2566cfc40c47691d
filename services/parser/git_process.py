"""Running git on untrusted repositories: the environment, the errors, and one way to
run a command.

Every git command of the parser runs through `run`: in its own process group, under
`setpriv --pdeathsig KILL` where there is one (`services.common.children`), so a killed
parser leaves no git behind; with no shell, no system or global config, no hooks, no
LFS or other filters, no credential prompts (`git_env`, `transport_options`); killed
with its whole group on timeout, on cancel, or when a watch (a download over its size
limit, `download_watch`) says so. Its exit is seen at once (a pidfd), not at the next
poll. git's complaints are trimmed, credentials and control characters removed
(`clean_stderr`), and classified (`failure`): missing, corrupt, transient or other.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path
from typing import IO

from services.common.children import die_with_parent_command, exit_waiter
from services.common.repo_url import is_local

LOCAL_UPLOAD_PACK = "git -c uploadpack.allowFilter=true upload-pack"
"""A local source's upload-pack refuses `--filter` unless allowed (https hosts allow it)."""
NO_NETWORK = ("-c", "core.hooksPath=/dev/null", "-c", "protocol.allow=never")
"""For git commands after the clone: no hooks, no transport (so no lazy fetch)."""
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
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
"""C0 controls (NUL, escapes, tabs, carriage returns), DEL and C1 controls (CSI...)."""
NOT_FOUND = re.compile(
    r"repository .* not found|not found|does not appear to be a git repository|"
    r"could not read Username|Authentication failed|does not exist",
    re.IGNORECASE,
)
_CORRUPT = re.compile(
    r"is corrupt|corrupt (?:loose|packed|tree|object|commit)|corruption|unable to unpack|"
    r"bad object|does not match index|index file \S+ is too small|inflate: data stream error|"
    r"hash mismatch|bad shallow line|not a tree object|bad tree object|"
    r"missing (?:blob|tree|commit) object|invalid (?:object|tree)",
    re.IGNORECASE,
)
"""git's words for a damaged object store, local or the remote's ("remote: aborting due
to possible repository corruption"): checked before `TRANSIENT`, as such a remote also
cuts the transfer short ("early EOF"). Only git's words: `is_corrupt` first masks the
repository's URL and path, which may contain anything."""
TRANSIENT = re.compile(
    r"Could not resolve host|Connection (timed out|reset|refused)|early EOF|RPC failed|"
    r"The requested URL returned error: 5\d\d|unexpected disconnect|Operation timed out",
    re.IGNORECASE,
)


class CloneError(Exception):
    """The clone failed; the message is git's own (trimmed, credentials removed)."""


class CloneNotFound(CloneError):
    """The repository does not exist, or is private."""


class CloneCorrupt(CloneError):
    """The repository's objects are damaged or missing (or unreadable): permanent, no
    retry can fix it (the parser answers FAILED_PRECONDITION, as for any CloneError)."""


class CloneTimeout(CloneError):
    """The clone took longer than its timeout."""


class CloneUnavailable(CloneError):
    """A network failure that outlasted the retries: worth trying again later."""


class CloneCancelled(CloneError):
    """The job was cancelled while cloning."""


class CloneTooLarge(CloneError):
    """The repository is over the configured size or file-count limit."""


def git_env(home: str) -> dict[str, str]:
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


def transport_options(canonical_url: str) -> list[str]:
    config = [*_SAFE_CONFIG]
    if is_local(canonical_url):
        config.append("protocol.file.allow=always")
    return [arg for item in config for arg in ("-c", item)]


def is_corrupt(message: str, *places: str) -> bool:
    """Whether git's `message` says the object store is damaged; `places` (the URL, paths)
    are masked first, so a repository named "corrupt" is not."""
    for place in sorted(filter(None, places), key=len, reverse=True):
        message = message.replace(place, "<repository>")
    return bool(_CORRUPT.search(message))


def failure(message: str, *places: str) -> type[CloneError]:
    """What a git failure's message says it is: corrupt, transient (network), or neither."""
    if is_corrupt(message, *places):
        return CloneCorrupt
    return CloneUnavailable if TRANSIENT.search(message) else CloneError


def clean_stderr(raw: bytes) -> str:
    """git's complaint, trimmed: its last lines, with any URL credentials removed and
    control characters (NUL, escapes, tabs, C1 such as CSI: the remote's sideband may
    carry anything) turned into single spaces."""
    text = _CREDENTIALS.sub("", raw.decode("utf-8", errors="replace"))
    lines = [" ".join(_CONTROL.sub(" ", line).split()) for line in text.splitlines()]
    lines = [line for line in lines if line]
    message = " ".join(lines[-4:]) or "git clone failed with no message"
    return message[:500]


def run(
    command: list[str],
    *,
    env: dict[str, str],
    cwd: str,
    deadline: float,
    cancel: threading.Event | None,
    stdout: IO[bytes] | None = None,
    watch: Callable[[], None] | None = None,
    stdin: IO[bytes] | None = None,
) -> tuple[int, bytes]:
    """Run git in its own process group, killed if this process dies; kill the whole
    group on timeout, on cancel, or when `watch` (called every 0.2 s) raises."""
    with tempfile.TemporaryFile() as stderr:  # never in `cwd`: it may be the user's repository
        try:
            process = subprocess.Popen(
                [*die_with_parent_command(), *command],
                cwd=cwd,
                env=env,
                stdin=subprocess.DEVNULL if stdin is None else stdin,
                stdout=subprocess.DEVNULL if stdout is None else stdout,
                stderr=stderr,
                start_new_session=True,
            )
        except OSError as exc:
            raise CloneError(f"cannot run git: {exc.strerror or exc}") from None
        try:
            with exit_waiter(process) as exited:
                while True:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        raise CloneTimeout("clone timed out")
                    if cancel is not None and cancel.is_set():
                        raise CloneCancelled("clone cancelled")
                    if watch is not None:
                        watch()
                    if exited(min(remaining, 0.2)):
                        code = process.wait()
                        break
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


def download_watch(url: str, checkout: Path, max_bytes: int) -> Callable[[], None]:
    """Raises CloneTooLarge once the checkout's packs pass `max_bytes`."""

    def watch() -> None:
        if _directory_bytes(checkout / ".git" / "objects" / "pack") > max_bytes:
            raise CloneTooLarge(
                f"git clone {url}: download passed the {max_bytes}-byte limit "
                "(ALEXANDRIA_MAX_REPO_BYTES); the repository is too large"
            )

    return watch


def git_output(
    checkout: Path, workdir: Path, args: list[str], deadline: float, cancel: threading.Event | None
) -> bytes:
    """Run a local git command in the checkout (no hooks, no network) and return its stdout."""
    command = ["git", *NO_NETWORK, *args]
    with tempfile.TemporaryFile(dir=workdir) as out:
        code, stderr = run(
            command,
            env=git_env(str(workdir)),
            cwd=str(checkout),
            deadline=deadline,
            cancel=cancel,
            stdout=out,
        )
        if code != 0:
            message = f"git {args[0]} failed: {clean_stderr(stderr)}"
            raise (CloneCorrupt if is_corrupt(message, str(checkout)) else CloneError)(message)
        out.seek(0)
        return out.read()
