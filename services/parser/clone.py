"""HEAD's files of a repository in their own temporary directory, always removed.

A local source (LOCAL mode's `file:///` URLs) is read, not cloned: its HEAD tree is
listed (`git ls-tree -l`) and refused when its files together exceed `max_bytes` or
number more than `max_files`, then one `git cat-file --batch` streams every blob from
its object store, exactly as committed, into the directory (no checkout, so no
filter, attribute or hook runs; symlinks are made as symlinks, never followed;
submodules are left out). Nothing is written into the source. Sympy's 1,602 files:
0.8-2.2 s, against 2.1-3.0 s for a depth-1 clone and its checkout (on the 2-core
machine, most of either being the files' creation).

A remote is cloned. git runs with no shell, no system or global config, no hooks, no
LFS or other filters, no submodules, no credential prompts and an allow-list of
transports (https; file only for the canonical `file:///` URLs accepted in LOCAL
mode). Transient network failures are retried within the timeout. Size is bounded
twice: the download is watched while git runs (the packs may not exceed
`max_bytes`), and before anything is checked out the HEAD tree is listed and refused
over the limits, as above. That listing also gives every file's blob id, the content
hash the parse cache is keyed by. Each job gets a fresh 0700 directory (P13), deleted
when the `with` block ends however it ends (P14).

With `history_commits` (N ≥ 2) the file lists of the last N commits are read with
`git log` for the co-change signal (`history.py`): in place for a local source, at
its HEAD commit; for a remote the clone is partial: `--depth N --filter=blob:none`
brings those commits and their trees but no file contents; HEAD's blobs are fetched
in one batch (the file count is checked before, the download watched during). No old
file content is ever fetched, and after the clone no git command may use any
transport (`protocol.allow=never`), so nothing can lazily fetch behind our back. A
history that cannot be read or fetched leaves HEAD's files usable, with no history
and a note saying why.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import signal
import stat
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from services.common.children import die_with_parent_command
from services.common.repo_url import is_local
from services.parser.history import History, parse_log

log = logging.getLogger(__name__)

TEMP_PREFIX = "alexandria-clone-"
DEFAULT_MAX_BYTES = 1 << 30
DEFAULT_MAX_FILES = 200_000
ATTEMPTS = 3
RETRY_BACKOFF_SECONDS = 1.0
MAX_LOG_BYTES = 64 << 20
"""The history's `git log` output is read up to this size (newest commits first)."""
_LOCAL_UPLOAD_PACK = "git -c uploadpack.allowFilter=true upload-pack"
"""A local source's upload-pack refuses `--filter` unless allowed (https hosts allow it)."""
_NOT_ASKED = History(note="no history: not asked for")
SYMLINK = b"120000"  # a tree entry's mode for a symbolic link
MAX_LINK_BYTES = 4096  # PATH_MAX: a longer symlink target is not made
COPY_CHUNK = 1 << 20
_NO_NETWORK = ("-c", "core.hooksPath=/dev/null", "-c", "protocol.allow=never")
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
_NOT_FOUND = re.compile(
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
to possible repository corruption"): checked before `_TRANSIENT`, as such a remote also
cuts the transfer short ("early EOF"). Only git's words: `_is_corrupt` first masks the
repository's URL and path, which may contain anything."""
_TRANSIENT = re.compile(
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


@dataclass(frozen=True, slots=True)
class ClonedRepository:
    """A checkout, the full hash of its HEAD commit, each regular file's blob id, and
    the file lists of its recent commits (empty, with a note, when not asked for)."""

    path: Path
    commit: str
    blobs: Mapping[str, str]
    history: History = _NOT_ASKED


def _new_workdir() -> Path:
    """A fresh private directory for one clone, named for this process
    (`alexandria-clone-<pid>-…`), so that `sweep_leftovers` can tell whose it is."""
    return Path(tempfile.mkdtemp(prefix=f"{TEMP_PREFIX}{os.getpid()}-"))


def sweep_leftovers() -> list[Path]:
    """Remove the clone directories that processes which are no longer running left
    behind (a SIGKILL or the OOM killer gives no `finally`): this user's
    `alexandria-clone-<pid>-*` whose pid is gone. Returns what was removed."""
    removed = []
    for path in Path(tempfile.gettempdir()).glob(f"{TEMP_PREFIX}*"):
        owner = path.name.removeprefix(TEMP_PREFIX).partition("-")[0]
        try:
            info = path.lstat()
        except OSError:
            continue
        if not owner.isdigit() or not stat.S_ISDIR(info.st_mode) or info.st_uid != os.geteuid():
            continue
        if not _running(int(owner)):
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process has that pid now
        return True
    return True


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


def _transport_options(canonical_url: str) -> list[str]:
    config = [*_SAFE_CONFIG]
    if is_local(canonical_url):
        config.append("protocol.file.allow=always")
    return [arg for item in config for arg in ("-c", item)]


def _git_command(canonical_url: str, destination: Path, history_commits: int = 0) -> list[str]:
    depth = ["--depth", "1"]
    if history_commits >= 2:
        depth = ["--depth", str(history_commits), "--filter=blob:none"]
        if is_local(canonical_url):
            depth += ["--upload-pack", _LOCAL_UPLOAD_PACK]
    return [
        "git",
        *_transport_options(canonical_url),
        "clone",
        "--quiet",
        *depth,
        "--single-branch",
        "--no-tags",
        "--no-recurse-submodules",
        "--no-checkout",
        "--",
        canonical_url,
        str(destination),
    ]


def _is_corrupt(message: str, *places: str) -> bool:
    """Whether git's `message` says the object store is damaged; `places` (the URL, paths)
    are masked first, so a repository named "corrupt" is not."""
    for place in sorted(filter(None, places), key=len, reverse=True):
        message = message.replace(place, "<repository>")
    return bool(_CORRUPT.search(message))


def _failure(message: str, *places: str) -> type[CloneError]:
    """What a git failure's message says it is: corrupt, transient (network), or neither."""
    if _is_corrupt(message, *places):
        return CloneCorrupt
    return CloneUnavailable if _TRANSIENT.search(message) else CloneError


def _clean_stderr(raw: bytes) -> str:
    """git's complaint, trimmed: its last lines, with any URL credentials removed and
    control characters (NUL, escapes, tabs, C1 such as CSI: the remote's sideband may
    carry anything) turned into single spaces."""
    text = _CREDENTIALS.sub("", raw.decode("utf-8", errors="replace"))
    lines = [" ".join(_CONTROL.sub(" ", line).split()) for line in text.splitlines()]
    lines = [line for line in lines if line]
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


def _download_watch(url: str, checkout: Path, max_bytes: int) -> Callable[[], None]:
    """Raises CloneTooLarge once the checkout's packs pass `max_bytes`."""

    def watch() -> None:
        if _directory_bytes(checkout / ".git" / "objects" / "pack") > max_bytes:
            raise CloneTooLarge(
                f"git clone {url}: download passed the {max_bytes}-byte limit "
                "(ALEXANDRIA_MAX_REPO_BYTES); the repository is too large"
            )

    return watch


def _clone_once(
    url: str,
    workdir: Path,
    attempt: int,
    deadline: float,
    cancel: threading.Event | None,
    max_bytes: int,
    history_commits: int,
) -> Path:
    destination = workdir / f"checkout-{attempt}"
    code, stderr = _run(
        _git_command(url, destination, history_commits),
        env=_env(str(workdir)),
        cwd=str(workdir),
        deadline=deadline,
        cancel=cancel,
        watch=_download_watch(url, destination, max_bytes),
    )
    if code != 0:
        shutil.rmtree(destination, ignore_errors=True)
        message = _clean_stderr(stderr).replace(str(destination), "<checkout>")
        error = CloneError
        if _is_corrupt(message, url, url.removeprefix("file://")):
            error = CloneCorrupt
        elif _NOT_FOUND.search(message):
            error = CloneNotFound
        raise error(f"git clone {url} failed: {message}")
    return destination


def _git_output(
    checkout: Path, workdir: Path, args: list[str], deadline: float, cancel: threading.Event | None
) -> bytes:
    """Run a local git command in the checkout (no hooks, no network) and return its stdout."""
    command = ["git", *_NO_NETWORK, *args]
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
            message = f"git {args[0]} failed: {_clean_stderr(stderr)}"
            raise (CloneCorrupt if _is_corrupt(message, str(checkout)) else CloneError)(message)
        out.seek(0)
        return out.read()


def _head_commit(checkout: Path, workdir: Path, deadline: float) -> str:
    try:
        raw = _git_output(checkout, workdir, ["rev-parse", "--verify", "HEAD"], deadline, None)
    except CloneTimeout:
        raise
    except CloneError:
        raw = b""
    commit = raw[:200].decode("ascii", errors="replace").strip()
    if not re.fullmatch(r"[0-9a-f]{40}|[0-9a-f]{64}", commit):
        raise CloneError("cloned repository has no HEAD commit (empty repository?)")
    return commit


def head_commit(
    canonical_url: str,
    *,
    timeout_seconds: float,
    cancel: threading.Event | None = None,
    direct: bool | None = None,
) -> str:
    """The full hash of `canonical_url`'s HEAD commit, without cloning: `git rev-parse`
    in a local repository read `direct`ly (the default), `git ls-remote` otherwise.
    Raises like `cloned_repository` (CloneNotFound, CloneTimeout, CloneUnavailable,
    CloneError)."""
    deadline = time.monotonic() + timeout_seconds
    workdir = _new_workdir()
    try:
        if is_local(canonical_url) and direct is not False:
            source = Path(canonical_url.removeprefix("file://"))
            _check_repository(source, workdir, deadline, cancel, canonical_url)
            return _head_commit(source, workdir, deadline)
        command = ["git", *_transport_options(canonical_url), "ls-remote", "--", canonical_url]
        with tempfile.TemporaryFile(dir=workdir) as out:
            code, stderr = _run(
                [*command, "HEAD"],
                env=_env(str(workdir)),
                cwd=str(workdir),
                deadline=deadline,
                cancel=cancel,
                stdout=out,
            )
            out.seek(0)
            listing = out.read(4096).decode("ascii", errors="replace")
        if code != 0:
            message = _clean_stderr(stderr)
            if _NOT_FOUND.search(message):
                raise CloneNotFound(f"git ls-remote {canonical_url} failed: {message}")
            error = _failure(message, canonical_url, canonical_url.removeprefix("file://"))
            raise error(f"git ls-remote {canonical_url} failed: {message}")
        commit = listing.partition("\t")[0].strip()
        if not re.fullmatch(r"[0-9a-f]{40}|[0-9a-f]{64}", commit):
            raise CloneError(f"{canonical_url} has no HEAD commit (empty repository?)")
        return commit
    except CloneTimeout:
        raise CloneTimeout(
            f"reading {canonical_url}'s HEAD did not finish within {timeout_seconds:g} s"
        ) from None
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _tree_entries(
    repository: Path,
    workdir: Path,
    deadline: float,
    cancel: threading.Event | None,
    *,
    revision: str,
    max_bytes: int,
    max_files: int,
    url: str,
) -> list[tuple[bytes, str, bytes]]:
    """`revision`'s tree as (mode, blob id, raw path), blobs only (files and symlinks;
    not submodules), refusing a tree whose regular files are over the size or file
    limits, and one with an object git cannot read (CloneCorrupt)."""
    listing = _git_output(
        repository,
        workdir,
        ["ls-tree", "-r", "-l", "-z", "--full-tree", revision],
        deadline,
        cancel,
    )
    entries: list[tuple[bytes, str, bytes]] = []
    total = files = 0
    for entry in listing.split(b"\0"):
        if not entry:
            continue
        meta, _, raw_path = entry.partition(b"\t")
        mode, kind, blob, size = meta.split(None, 3)
        if kind != b"blob":
            continue
        if not size.isdigit():  # git lists "BAD" for an object it cannot read
            name = _CONTROL.sub("?", raw_path.decode("utf-8", errors="replace"))
            raise CloneCorrupt(
                f"{url}: the object of {name} ({blob.decode('ascii')}) is corrupt or missing"
            )
        entries.append((mode, blob.decode("ascii"), raw_path))
        if mode != SYMLINK:
            total += int(size)
            files += 1
        if total > max_bytes or files > max_files:
            raise CloneTooLarge(
                f"{url} is too large: over {max_bytes} bytes (ALEXANDRIA_MAX_REPO_BYTES) or "
                f"{max_files} files (ALEXANDRIA_MAX_REPO_FILES) at HEAD"
            )
    return entries


def _regular_blobs(entries: list[tuple[bytes, str, bytes]]) -> dict[str, str]:
    """Regular files → blob id (symlinks left out). Paths are decoded like `os.scandir`
    names (UTF-8, surrogateescape), so they match the walk's."""
    return {os.fsdecode(path): blob for mode, blob, path in entries if mode != SYMLINK}


def _safe_path(raw_path: bytes) -> bool:
    """A tree path that stays inside the checkout: no empty, `.`, `..` or `.git` part."""
    parts = raw_path.split(b"/")
    return all(part and part not in (b".", b"..") and part.lower() != b".git" for part in parts)


def _check_repository(
    source: Path, workdir: Path, deadline: float, cancel: threading.Event | None, url: str
) -> None:
    """Refuse `source` unless it is a git repository itself (its work tree's top, or a
    bare repository), not a directory inside one that git would find above it."""
    if not source.is_dir():
        raise CloneNotFound(f"{url} does not appear to be a git repository")
    try:
        raw = _git_output(source, workdir, ["rev-parse", "--absolute-git-dir"], deadline, cancel)
        git_dir = Path(os.fsdecode(raw.strip()))
    except (CloneCancelled, CloneTimeout):
        raise
    except CloneError as exc:
        if "dubious ownership" in str(exc):  # another user's repository: git says how to allow it
            raise CloneError(f"{url}: {exc}") from None
        git_dir = None
    dotgit = source / ".git"
    if git_dir is None or not (
        git_dir == source.resolve() or git_dir == dotgit.resolve() or dotgit.is_file()
    ):
        raise CloneNotFound(f"{url} does not appear to be a git repository")


def _new_file(path: Path) -> IO[bytes] | None:
    """`path` created for writing (0600, never through a symlink); None when a malformed
    tree gives a path twice, or under a file: the first one wins."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
        return os.fdopen(os.open(path, flags, 0o600), "wb")
    except OSError:
        return None


def _export_head(
    source: Path,
    workdir: Path,
    deadline: float,
    cancel: threading.Event | None,
    *,
    max_bytes: int,
    max_files: int,
    url: str,
) -> ClonedRepository:
    """HEAD's files of the local repository `source`, read from its object store into
    a fresh directory under `workdir`: no clone, no checkout.

    The tree is listed (and the limits checked) before any content is read; one
    `git cat-file --batch` then streams every blob, exactly as committed (no filter,
    attribute or hook runs). Files are written with O_EXCL | O_NOFOLLOW, symlinks are
    made as symlinks (never followed), submodules are left out, and a path with an
    empty, `..` or `.git` part is skipped."""
    _check_repository(source, workdir, deadline, cancel, url)
    commit = _head_commit(source, workdir, deadline)
    entries = [
        entry
        for entry in _tree_entries(
            source,
            workdir,
            deadline,
            cancel,
            revision=commit,
            max_bytes=max_bytes,
            max_files=max_files,
            url=url,
        )
        if _safe_path(entry[2])
    ]
    paths_of: dict[str, list[tuple[bytes, bytes]]] = {}
    for mode, blob, path in entries:
        paths_of.setdefault(blob, []).append((mode, path))
    checkout = workdir / "checkout"
    checkout.mkdir()
    links: list[tuple[bytes, Path]] = []  # made last, so no write goes through one
    with (
        tempfile.TemporaryFile(dir=workdir) as ids,
        tempfile.TemporaryFile(dir=workdir) as out,
    ):
        ids.write("".join(f"{blob}\n" for blob in paths_of).encode("ascii"))
        ids.seek(0)
        code, stderr = _run(
            ["git", *_NO_NETWORK, "cat-file", "--batch"],
            env=_env(str(workdir)),
            cwd=str(source),
            deadline=deadline,
            cancel=cancel,
            stdin=ids,
            stdout=out,
        )
        if code != 0:
            message = f"git cat-file failed: {_clean_stderr(stderr)}"
            raise (CloneCorrupt if _is_corrupt(message, str(source)) else CloneError)(message)
        out.seek(0)
        for blob, paths in paths_of.items():
            header = out.readline().split()
            if len(header) != 3 or header[0] != blob.encode("ascii"):
                raise CloneCorrupt(f"git cat-file: {url} has no blob {blob} (corrupt or missing)")
            size = int(header[2])
            files = [_new_file(checkout / os.fsdecode(p)) for m, p in paths if m != SYMLINK]
            linked = [checkout / os.fsdecode(p) for m, p in paths if m == SYMLINK]
            # A symlink's blob is its target: no longer than a path may be.
            link_to = out.read(size) if linked and size <= MAX_LINK_BYTES else None
            with ExitStack() as opened:
                writers = [opened.enter_context(f) for f in files if f is not None]
                remaining = 0 if link_to is not None else size
                while remaining > 0:  # copied in chunks: a blob may be as large as the limit
                    chunk = out.read(min(remaining, COPY_CHUNK))
                    if not chunk:
                        raise CloneCorrupt(f"git cat-file: {url}'s blob {blob} ended early")
                    for writer in writers:
                        writer.write(chunk)
                    remaining -= len(chunk)
                if link_to is not None:
                    for writer in writers:
                        writer.write(link_to)
            links.extend((link_to, path) for path in linked if link_to is not None)
            out.read(1)  # the newline after each object
    for content, target in links:
        with suppress(OSError):
            target.parent.mkdir(parents=True, exist_ok=True)
            os.symlink(content, os.fsencode(target))
    return ClonedRepository(path=checkout, commit=commit, blobs=_regular_blobs(entries))


def _fetch_head_blobs(
    url: str,
    checkout: Path,
    workdir: Path,
    deadline: float,
    cancel: threading.Event | None,
    *,
    max_bytes: int,
    max_files: int,
) -> None:
    """Fetch every blob of HEAD's tree in one batch (a partial clone has none yet),
    refusing a tree of more than `max_files` files before, and a download over
    `max_bytes` during."""
    listing = _git_output(
        checkout, workdir, ["ls-tree", "-r", "-z", "--full-tree", "HEAD"], deadline, cancel
    )
    wanted: dict[bytes, None] = {}
    files = 0
    for entry in listing.split(b"\0"):
        meta = entry.partition(b"\t")[0].split()
        if len(meta) == 3 and meta[1] == b"blob":
            wanted[meta[2]] = None
            files += meta[0] != b"120000"
    if files > max_files:
        raise CloneTooLarge(
            f"{url} is too large: over {max_files} files (ALEXANDRIA_MAX_REPO_FILES) at HEAD"
        )
    if not wanted:
        return
    command = [
        "git",
        *_transport_options(url),
        "-c",
        "fetch.negotiationAlgorithm=noop",
        "fetch",
        "--quiet",
        "--no-tags",
        "--no-write-fetch-head",
        "--recurse-submodules=no",
        *(["--upload-pack", _LOCAL_UPLOAD_PACK] if is_local(url) else []),
        "--stdin",
        "origin",
    ]
    with tempfile.TemporaryFile(dir=workdir) as oids:
        oids.write(b"".join(oid + b"\n" for oid in wanted))
        oids.seek(0)
        code, stderr = _run(
            command,
            env=_env(str(workdir)),
            cwd=str(checkout),
            deadline=deadline,
            cancel=cancel,
            watch=_download_watch(url, checkout, max_bytes),
            stdin=oids,
        )
    if code != 0:
        message = f"git fetch of {url}'s files failed: {_clean_stderr(stderr)}"
        raise _failure(message, url, url.removeprefix("file://"), str(checkout))(message)


def _read_history(
    repository: Path,
    workdir: Path,
    deadline: float,
    cancel: threading.Event | None,
    max_commits: int,
    revision: str = "HEAD",
) -> History:
    """The file lists of `revision`'s last `max_commits` non-merge commits in the git
    repository at `repository` (`history.py`).

    Exact renames only (`-M100%`): finding them compares blob ids, so no content is
    needed. Raises CloneCancelled on cancel; any other failure, the timeout included,
    gives no history and a note.
    """
    command = [
        "git",
        *_NO_NETWORK,
        "log",
        "--no-merges",
        f"--max-count={max_commits}",
        "--name-status",
        "-M100%",
        "--no-ext-diff",
        "--no-textconv",
        "-z",
        "--format=%x01%H %ct",
        revision,
        "--",
    ]
    try:
        git_dir = repository / ".git" if (repository / ".git").is_dir() else repository
        shallow = (git_dir / "shallow").read_bytes().split()
    except FileNotFoundError:
        shallow = []
    except OSError as exc:
        return History(note=f"no history: cannot read .git/shallow: {exc.strerror or exc}")
    truncated = False
    with tempfile.TemporaryFile(dir=workdir) as out:

        def watch() -> None:
            nonlocal truncated
            if os.fstat(out.fileno()).st_size > MAX_LOG_BYTES:
                truncated = True
                raise _LogTooLong

        try:
            code, stderr = _run(
                command,
                env=_env(str(workdir)),
                cwd=str(repository),
                deadline=deadline,
                cancel=cancel,
                stdout=out,
                watch=watch,
            )
        except CloneCancelled:
            raise
        except CloneTimeout:
            return History(note="no history: reading it passed the clone timeout")
        except CloneError as exc:  # cannot run git at all
            return History(note=f"no history: {exc}")
        except _LogTooLong:
            code, stderr = 0, b""
        if code != 0:
            return History(note=f"no history: git log failed: {_clean_stderr(stderr)}")
        out.seek(0)
        raw = out.read(MAX_LOG_BYTES)
    return parse_log(raw, frozenset(shallow), complete=not truncated)


class _LogTooLong(Exception):
    """The history's log passed MAX_LOG_BYTES: what was read so far is used."""


@contextmanager
def cloned_repository(
    canonical_url: str,
    *,
    timeout_seconds: float,
    cancel: threading.Event | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_files: int = DEFAULT_MAX_FILES,
    history_commits: int = 0,
    direct: bool | None = None,
) -> Iterator[ClonedRepository]:
    """HEAD's files of `canonical_url` (already canonicalised) in a temporary directory,
    with the file lists of its last `history_commits` commits when that is 2 or more.

    A local source is read `direct`ly (the default): HEAD's blobs from its object store
    (`_export_head`) and its log in place. Otherwise (a remote, or `direct=False`) it is
    cloned: shallow, or partial for history; a partial clone that fails for another
    reason than a missing repository, the timeout or a cancel is made again without
    history, and the history's note says why.

    Raises CloneTimeout past `timeout_seconds` (all attempts together), CloneNotFound
    when the repository does not exist, CloneTooLarge over `max_bytes` (download, or
    files at HEAD) or `max_files`, CloneCancelled once `cancel` is set, CloneError
    otherwise. The temporary directory is removed on every exit.
    """
    deadline = time.monotonic() + timeout_seconds
    workdir = _new_workdir()
    try:
        try:
            if is_local(canonical_url) and direct is not False:
                source = Path(canonical_url.removeprefix("file://"))
                repo = _export_head(
                    source,
                    workdir,
                    deadline,
                    cancel,
                    max_bytes=max_bytes,
                    max_files=max_files,
                    url=canonical_url,
                )
                history = _NOT_ASKED
                if history_commits >= 2:
                    history = _read_history(
                        source, workdir, deadline, cancel, history_commits, repo.commit
                    )
            else:
                repo, history = _cloned(
                    canonical_url,
                    workdir,
                    deadline,
                    cancel,
                    max_bytes=max_bytes,
                    max_files=max_files,
                    history_commits=history_commits,
                )
        except CloneTimeout:
            raise CloneTimeout(
                f"git clone {canonical_url} did not finish within {timeout_seconds:g} s"
            ) from None
        if history_commits < 2:
            history = History(
                note=f"no history: ALEXANDRIA_HISTORY_MAX_COMMITS is {history_commits}"
            )
        yield ClonedRepository(repo.path, repo.commit, repo.blobs, history)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
        if workdir.exists():
            log.error("could not remove clone directory %s", workdir)


def _cloned(
    url: str,
    workdir: Path,
    deadline: float,
    cancel: threading.Event | None,
    *,
    max_bytes: int,
    max_files: int,
    history_commits: int,
) -> tuple[ClonedRepository, History]:
    """A clone's checkout of HEAD, and its history (partial clone) when asked for."""
    partial = history_commits >= 2
    unfetched = ""  # why the partial clone's history could not be fetched
    try:
        checkout = _clone_with_retries(
            url, workdir, deadline, cancel, max_bytes, history_commits * partial
        )
    except (CloneNotFound, CloneTimeout, CloneCancelled):
        raise
    except CloneError as exc:
        if not partial:
            raise
        # The history is what failed (a server that cannot serve it, a damaged old
        # commit, too much of it): HEAD alone still makes a graph.
        log.warning("cloning %d commits of history failed, HEAD alone: %s", history_commits, exc)
        unfetched = f"no history: it could not be fetched ({exc})"
        partial = False
        checkout = _clone_with_retries(url, workdir, deadline, cancel, max_bytes, 0)
    commit = _head_commit(checkout, workdir, deadline)
    if partial:
        _fetch_head_blobs(
            url, checkout, workdir, deadline, cancel, max_bytes=max_bytes, max_files=max_files
        )
    entries = _tree_entries(
        checkout,
        workdir,
        deadline,
        cancel,
        revision="HEAD",
        max_bytes=max_bytes,
        max_files=max_files,
        url=url,
    )
    _git_output(checkout, workdir, ["checkout", "--quiet", "--force", "HEAD"], deadline, cancel)
    history = _NOT_ASKED
    if unfetched:
        history = History(note=unfetched)
    elif partial:
        history = _read_history(checkout, workdir, deadline, cancel, history_commits)
    return ClonedRepository(checkout, commit, _regular_blobs(entries)), history


def _clone_with_retries(
    url: str,
    workdir: Path,
    deadline: float,
    cancel: threading.Event | None,
    max_bytes: int,
    history_commits: int,
) -> Path:
    """Clone, retrying transient network failures (not timeouts, limits, a missing or a
    corrupt repository)."""
    for attempt in range(1, ATTEMPTS):
        try:
            return _clone_once(url, workdir, attempt, deadline, cancel, max_bytes, history_commits)
        except (CloneNotFound, CloneTimeout, CloneCancelled, CloneTooLarge, CloneCorrupt):
            raise
        except CloneError as exc:
            if not _TRANSIENT.search(str(exc)):
                raise
            log.warning("clone attempt %d failed, retrying: %s", attempt, exc)
            backoff = RETRY_BACKOFF_SECONDS * 2 ** (attempt - 1)
            time.sleep(min(backoff, max(0.0, deadline - time.monotonic())))
    try:
        return _clone_once(url, workdir, ATTEMPTS, deadline, cancel, max_bytes, history_commits)
    except CloneError as exc:
        if type(exc) is CloneError and _TRANSIENT.search(str(exc)):
            raise CloneUnavailable(str(exc)) from None
        raise
