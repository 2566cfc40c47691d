"""HEAD of a repository: its tree, and the files asked for in their own temporary
directory, always removed. Nothing is ever checked out.

HEAD's tree is listed first (`git ls-tree -r -l`, `tree.py`) and refused when its
files together exceed `max_bytes` or number more than `max_files`, before any content
is read. That listing gives every file's blob id, the content hash the parse cache is
keyed by, so the caller can then ask for only the files it has to read
(`ClonedRepository.read`; `read_all` asks for every one): one `git cat-file --batch`
streams their blobs, exactly as committed, into the directory (no filter, attribute or
hook runs; symlinks are made as symlinks, never followed; submodules are left out).

A local source (LOCAL mode's `file:///` URLs) is read, not cloned: its tree and blobs
come from its own object store, and nothing is written into it. Sympy's 1,602 files,
all written: 0.8-2.2 s, against 2.1-3.0 s for a depth-1 clone and its checkout (on the
2-core machine, most of either being the files' creation); on a warm parse cache none
is read (`benchmarks/README.md`, "Issue 19 §1").

A remote is cloned without checkout and without file contents: `--filter=blob:none`,
`--depth 1`, or `--depth N` with `history_commits` (N ≥ 2) for the co-change signal
(`history.py`), so one fetch brings HEAD's tree and the history's commits and trees.
The blobs asked for are then fetched in one batch (`git fetch --stdin`); no other blob
(no old file content, no file the parse cache holds) is ever fetched. git runs with
no shell, no system or global config, no hooks, no LFS or other filters, no
submodules, no credential prompts and an allow-list of transports (https; file only
for the canonical `file:///` URLs accepted in LOCAL mode). Transient network failures
are retried within the timeout. The download is watched while git runs (the packs
may not exceed `max_bytes`). Apart from those fetches, git runs with
`protocol.allow=never`, so nothing can lazily fetch behind our back. A partial clone
with history that fails for another reason than a missing repository, the timeout or
a cancel (a server that cannot serve it, a damaged old commit) is made again at depth
1 with every blob; its history is then none, with a note saying why, as when the log
cannot be read.

Each job gets a fresh 0700 directory (P13), deleted when the `with` block ends however
it ends (P14); a SIGKILL's leftovers are swept by the next parser (`sweep_leftovers`).
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
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from services.common.children import die_with_parent_command, exit_waiter
from services.common.repo_url import is_local
from services.parser.history import History, parse_log
from services.parser.tree import MAX_LINK_BYTES, SYMLINK_MODE, HeadTree, TreeFile

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


def _read_nothing(paths: Iterable[str]) -> Mapping[str, int]:
    """A `ClonedRepository` made by hand has nothing more to read."""
    return {}


@dataclass(frozen=True, slots=True)
class ClonedRepository:
    """HEAD's files under `path`, the full hash of its HEAD commit, each regular file's
    blob id, the file lists of its recent commits (empty, with a note, when not asked
    for), HEAD's tree, the git repository the blobs come from (the local source
    itself, or the clone), and `read(paths)`, which writes those of HEAD's files that
    are not under `path` yet and gives the size of each one asked for (other paths are
    ignored; raises like `cloned_repository`)."""

    path: Path
    commit: str
    blobs: Mapping[str, str]
    history: History = _NOT_ASKED
    tree: HeadTree = field(default_factory=HeadTree)
    repository: Path | None = None
    read: Callable[[Iterable[str]], Mapping[str, int]] = _read_nothing


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


def _git_command(
    canonical_url: str, destination: Path, history_commits: int = 0, filtered: bool = True
) -> list[str]:
    """`git clone` of HEAD's commit and trees (and its last `history_commits` commits',
    when 2 or more), `filtered` of all blobs, else with HEAD's."""
    depth = ["--depth", str(history_commits) if history_commits >= 2 else "1"]
    if filtered:
        depth.append("--filter=blob:none")
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
    filtered: bool,
) -> Path:
    destination = workdir / f"clone-{attempt}"
    code, stderr = _run(
        _git_command(url, destination, history_commits, filtered),
        env=_env(str(workdir)),
        cwd=str(workdir),
        deadline=deadline,
        cancel=cancel,
        watch=_download_watch(url, destination, max_bytes),
    )
    if code != 0:
        shutil.rmtree(destination, ignore_errors=True)
        message = _clean_stderr(stderr).replace(str(destination), "<clone>")
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


def _head_tree(
    repository: Path,
    workdir: Path,
    deadline: float,
    cancel: threading.Event | None,
    *,
    revision: str,
    max_bytes: int,
    max_files: int,
    url: str,
    sized: bool = True,
) -> HeadTree:
    """`revision`'s tree (`tree.py`), refused when its regular files are over the size
    or file limits: listed, so no content is read. Not `sized` (a partial clone, whose
    blobs are absent: `-l` would need each one), only the file count is checked."""
    listing = _git_output(
        repository,
        workdir,
        ["ls-tree", "-r", *(["-l"] if sized else []), "-z", "--full-tree", revision],
        deadline,
        cancel,
    )
    entries: list[tuple[bytes, str, int | None, bytes]] = []
    total = files = 0
    for entry in listing.split(b"\0"):
        if not entry:
            continue
        meta, _, raw_path = entry.partition(b"\t")
        mode, kind, blob, *size = meta.split()
        if kind != b"blob":  # a submodule is a commit
            continue
        # `-l` says BAD for a blob it cannot find: sized when read, if it ever is.
        known = int(size[0]) if size and size[0].isdigit() else None
        entries.append((mode, blob.decode("ascii"), known, raw_path))
        if mode != SYMLINK_MODE:
            total += known or 0
            files += 1
        if total > max_bytes or files > max_files:
            raise CloneTooLarge(
                f"{url} is too large: over {max_bytes} bytes (ALEXANDRIA_MAX_REPO_BYTES) or "
                f"{max_files} files (ALEXANDRIA_MAX_REPO_FILES) at HEAD"
            )
    return HeadTree.from_listing(entries)


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


class _HeadFiles:
    """Writes HEAD's files under `path` on demand, from `repository`'s objects.

    Each `read` writes the files asked for that `tree` has and that are not written
    yet (other paths are ignored). For a partial clone their blobs missing so far are
    first fetched in one `git fetch --stdin` (the download watched against
    `max_bytes`); those the listing did not size (a partial clone's has no sizes) are
    sized (`git cat-file --batch-check`), so that the files written in all stay within
    `max_bytes` before one is written. One `git cat-file --batch` then streams them,
    exactly as committed (no filter, attribute or hook runs). Files are written with
    O_EXCL | O_NOFOLLOW; symlinks are made as symlinks, never followed, after the
    files. Each `read` has `timeout_seconds` of its own."""

    def __init__(
        self,
        repository: Path,
        path: Path,
        tree: HeadTree,
        *,
        workdir: Path,
        url: str,
        cancel: threading.Event | None,
        timeout_seconds: float,
        max_bytes: int,
        partial: bool,
    ) -> None:
        self.repository, self.path, self.tree = repository, path, tree
        self.workdir, self.url, self.cancel = workdir, url, cancel
        self.timeout_seconds, self.max_bytes, self.partial = timeout_seconds, max_bytes, partial
        self.written: set[str] = set()
        self.fetched: set[str] = set()
        self.written_bytes = 0
        self.closed = False

    def read(self, paths: Iterable[str]) -> dict[str, int]:
        """Write `paths` (see the class docstring); each one's size. Raises like
        `cloned_repository`."""
        try:
            return self.read_by(paths, time.monotonic() + self.timeout_seconds)
        except CloneTimeout:
            raise CloneTimeout(
                f"reading {self.url}'s files did not finish within {self.timeout_seconds:g} s"
            ) from None

    def read_by(self, paths: Iterable[str], deadline: float) -> dict[str, int]:
        files = self.tree.files
        asked = {p: files[p] for p in paths if p in files}
        wanted = {p: found for p, found in asked.items() if p not in self.written}
        if wanted:
            if self.closed:
                raise CloneError(f"{self.url}'s files were asked for after the clone was removed")
            if self.partial:
                self._fetch(list(wanted.values()), deadline)
            self._size(list(wanted.values()), deadline)
            self.written_bytes += sum(f.size or 0 for f in wanted.values() if not f.symlink)
            if self.written_bytes > self.max_bytes:
                raise CloneTooLarge(
                    f"{self.url} is too large: its files pass {self.max_bytes} bytes "
                    "(ALEXANDRIA_MAX_REPO_BYTES)"
                )
            self.written.update(wanted)
            _write_blobs(
                self.repository, self.path, wanted, self.workdir, deadline, self.cancel, self.url
            )
        return {p: found.size for p, found in asked.items() if found.size is not None}

    def _fetch(self, wanted: list[TreeFile], deadline: float) -> None:
        """Fetch the blobs of `wanted` not fetched yet."""
        missing = list({f.blob: None for f in wanted if f.blob not in self.fetched})
        _fetch_blobs(
            self.url,
            self.repository,
            self.workdir,
            deadline,
            self.cancel,
            missing,
            max_bytes=self.max_bytes,
        )
        self.fetched.update(missing)

    def _size(self, wanted: list[TreeFile], deadline: float) -> None:
        """Size those of `wanted` the listing did not, from their blobs' headers."""
        unsized = list({f.blob: None for f in wanted if f.size is None})
        sizes = _blob_sizes(self.repository, self.workdir, deadline, self.cancel, unsized)
        for found in wanted:
            if found.size is None:
                found.size = sizes.get(found.blob)
                if found.size is None:
                    raise CloneCorrupt(
                        f"git cat-file: {self.url} has no blob {found.blob} (corrupt or missing)"
                    )


def _blob_sizes(
    repository: Path,
    workdir: Path,
    deadline: float,
    cancel: threading.Event | None,
    blobs: list[str],
) -> dict[str, int]:
    """The sizes of those of `blobs` that `repository` holds, read from their headers."""
    if not blobs:
        return {}
    sizes = {}
    with _cat_file(repository, workdir, deadline, cancel, "--batch-check", blobs) as out:
        for line in out.read().decode("ascii", errors="replace").splitlines():
            fields = line.split()
            if len(fields) == 3 and fields[1] == "blob" and fields[2].isdigit():
                sizes[fields[0]] = int(fields[2])
    return sizes


@contextmanager
def _cat_file(
    repository: Path,
    workdir: Path,
    deadline: float,
    cancel: threading.Event | None,
    batch: str,
    blobs: Iterable[str],
) -> Iterator[IO[bytes]]:
    """The output of one `git cat-file <batch>` of `blobs` in `repository`, rewound."""
    with (
        tempfile.TemporaryFile(dir=workdir) as ids,
        tempfile.TemporaryFile(dir=workdir) as out,
    ):
        ids.write("".join(f"{blob}\n" for blob in blobs).encode("ascii"))
        ids.seek(0)
        code, stderr = _run(
            ["git", *_NO_NETWORK, "cat-file", batch],
            env=_env(str(workdir)),
            cwd=str(repository),
            deadline=deadline,
            cancel=cancel,
            stdin=ids,
            stdout=out,
        )
        if code != 0:
            message = f"git cat-file failed: {_clean_stderr(stderr)}"
            raise (CloneCorrupt if _is_corrupt(message, str(repository)) else CloneError)(message)
        out.seek(0)
        yield out


def _write_blobs(
    repository: Path,
    path: Path,
    files: Mapping[str, TreeFile],
    workdir: Path,
    deadline: float,
    cancel: threading.Event | None,
    url: str,
) -> None:
    """Write `files` under `path` from `repository`'s objects (one `git cat-file --batch`)."""
    paths_of: dict[str, list[str]] = {}
    for rel, found in files.items():
        paths_of.setdefault(found.blob, []).append(rel)
    links: list[tuple[bytes, Path]] = []  # made last, so no write goes through one
    with _cat_file(repository, workdir, deadline, cancel, "--batch", paths_of) as out:
        for blob, rels in paths_of.items():
            header = out.readline().split()
            if len(header) != 3 or header[0] != blob.encode("ascii"):
                raise CloneCorrupt(f"git cat-file: {url} has no blob {blob} (corrupt or missing)")
            size = int(header[2])
            outputs = [_new_file(path / rel) for rel in rels if not files[rel].symlink]
            linked = [path / rel for rel in rels if files[rel].symlink]
            # A symlink's blob is its target: no longer than a path may be.
            link_to = out.read(size) if linked and size <= MAX_LINK_BYTES else None
            with ExitStack() as opened:
                writers = [opened.enter_context(f) for f in outputs if f is not None]
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
            links.extend((link_to, target) for target in linked if link_to is not None)
            out.read(1)  # the newline after each object
    for content, target in links:
        with suppress(OSError):
            target.parent.mkdir(parents=True, exist_ok=True)
            os.symlink(content, os.fsencode(target))


def _fetch_blobs(
    url: str,
    clone: Path,
    workdir: Path,
    deadline: float,
    cancel: threading.Event | None,
    blobs: list[str],
    *,
    max_bytes: int,
) -> None:
    """Fetch `blobs` into the partial `clone` in one batch, refusing a download (the
    clone's packs) over `max_bytes`."""
    if not blobs:
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
        oids.write("".join(f"{blob}\n" for blob in blobs).encode("ascii"))
        oids.seek(0)
        code, stderr = _run(
            command,
            env=_env(str(workdir)),
            cwd=str(clone),
            deadline=deadline,
            cancel=cancel,
            watch=_download_watch(url, clone, max_bytes),
            stdin=oids,
        )
    if code != 0:
        message = f"git fetch of {url}'s files failed: {_clean_stderr(stderr)}"
        raise _failure(message, url, url.removeprefix("file://"), str(clone))(message)


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
    read_all: bool = True,
) -> Iterator[ClonedRepository]:
    """HEAD of `canonical_url` (already canonicalised): its tree, and its files in a
    temporary directory, with the file lists of its last `history_commits` commits
    when that is 2 or more.

    A local source is read `direct`ly (the default): its HEAD tree and blobs from its
    object store and its log in place. Otherwise (a remote, or `direct=False`) it is
    cloned without checkout and without file contents (`--filter=blob:none`, `--depth
    history_commits` or 1); a partial clone that fails for another reason than a
    missing repository, the timeout or a cancel (or, without history, the network or
    the size limit) is made again at depth 1 with every blob (and no history; its note
    says why). With `read_all` every file is
    written before this yields; otherwise none is, and the caller writes those it
    needs with `ClonedRepository.read`, so a remote's other blobs are never fetched.

    Raises CloneTimeout past `timeout_seconds` (all attempts together), CloneNotFound
    when the repository does not exist, CloneTooLarge over `max_bytes` (download, or
    files at HEAD) or `max_files`, CloneCancelled once `cancel` is set, CloneError
    otherwise. The temporary directory is removed on every exit.
    """
    deadline = time.monotonic() + timeout_seconds
    workdir = _new_workdir()
    files: _HeadFiles | None = None
    try:
        limits = {"max_bytes": max_bytes, "max_files": max_files}
        try:
            if is_local(canonical_url) and direct is not False:
                source = Path(canonical_url.removeprefix("file://"))
                commit, files = _local_head(
                    source, workdir, deadline, cancel, canonical_url, timeout_seconds, **limits
                )
                history = _NOT_ASKED
                if history_commits >= 2:
                    history = _read_history(
                        source, workdir, deadline, cancel, history_commits, commit
                    )
            else:
                commit, files, history = _cloned(
                    canonical_url,
                    workdir,
                    deadline,
                    cancel,
                    history_commits=history_commits,
                    timeout_seconds=timeout_seconds,
                    **limits,
                )
            if read_all:
                files.read_by(files.tree.files, deadline)
        except CloneTimeout:
            raise CloneTimeout(
                f"git clone {canonical_url} did not finish within {timeout_seconds:g} s"
            ) from None
        if history_commits < 2:
            history = History(
                note=f"no history: ALEXANDRIA_HISTORY_MAX_COMMITS is {history_commits}"
            )
        yield ClonedRepository(
            files.path,
            commit,
            files.tree.blobs,
            history,
            tree=files.tree,
            repository=files.repository,
            read=files.read,
        )
    finally:
        if files is not None:
            files.closed = True
        shutil.rmtree(workdir, ignore_errors=True)
        if workdir.exists():
            log.error("could not remove clone directory %s", workdir)


def _local_head(
    source: Path,
    workdir: Path,
    deadline: float,
    cancel: threading.Event | None,
    url: str,
    timeout_seconds: float,
    *,
    max_bytes: int,
    max_files: int,
) -> tuple[str, _HeadFiles]:
    """The local repository `source`'s HEAD commit, and its files read from its own
    objects: no clone, and nothing is written into it."""
    _check_repository(source, workdir, deadline, cancel, url)
    commit = _head_commit(source, workdir, deadline)
    tree = _head_tree(
        source,
        workdir,
        deadline,
        cancel,
        revision=commit,
        max_bytes=max_bytes,
        max_files=max_files,
        url=url,
    )
    checkout = workdir / "checkout"
    checkout.mkdir()
    files = _HeadFiles(
        source,
        checkout,
        tree,
        workdir=workdir,
        url=url,
        cancel=cancel,
        timeout_seconds=timeout_seconds,
        max_bytes=max_bytes,
        partial=False,
    )
    return commit, files


def _cloned(
    url: str,
    workdir: Path,
    deadline: float,
    cancel: threading.Event | None,
    *,
    max_bytes: int,
    max_files: int,
    history_commits: int,
    timeout_seconds: float,
) -> tuple[str, _HeadFiles, History]:
    """A clone's HEAD commit, its files (read from the clone, which has no checkout),
    and its history when asked for."""
    partial = True
    unfetched = ""  # why the partial clone's history could not be fetched
    try:
        clone = _clone_with_retries(url, workdir, deadline, cancel, max_bytes, history_commits)
    except (CloneNotFound, CloneTimeout, CloneCancelled):
        raise
    except CloneError as exc:
        if history_commits < 2 and isinstance(exc, CloneUnavailable | CloneTooLarge | CloneCorrupt):
            raise  # HEAD alone already: a whole clone would fail alike, or be larger
        # The partial clone is what failed (a server that cannot serve it or the
        # history, a damaged old commit, too much history): HEAD alone still makes a graph.
        log.warning("a partial clone failed, cloning HEAD with all its blobs: %s", exc)
        if history_commits >= 2:
            unfetched = f"no history: it could not be fetched ({exc})"
        partial = False
        clone = _clone_with_retries(url, workdir, deadline, cancel, max_bytes, 0, filtered=False)
    commit = _head_commit(clone, workdir, deadline)
    tree = _head_tree(
        clone,
        workdir,
        deadline,
        cancel,
        revision="HEAD",
        max_bytes=max_bytes,
        max_files=max_files,
        url=url,
        sized=not partial,
    )
    history = _NOT_ASKED
    if unfetched:
        history = History(note=unfetched)
    elif history_commits >= 2:
        history = _read_history(clone, workdir, deadline, cancel, history_commits)
    files = _HeadFiles(
        clone,
        clone,
        tree,
        workdir=workdir,
        url=url,
        cancel=cancel,
        timeout_seconds=timeout_seconds,
        max_bytes=max_bytes,
        partial=partial,
    )
    return commit, files, history


def _clone_with_retries(
    url: str,
    workdir: Path,
    deadline: float,
    cancel: threading.Event | None,
    max_bytes: int,
    history_commits: int,
    *,
    filtered: bool = True,
) -> Path:
    """Clone, retrying transient network failures (not timeouts, limits, a missing or a
    corrupt repository)."""
    options = (max_bytes, history_commits, filtered)
    for attempt in range(1, ATTEMPTS):
        try:
            return _clone_once(url, workdir, attempt, deadline, cancel, *options)
        except (CloneNotFound, CloneTimeout, CloneCancelled, CloneTooLarge, CloneCorrupt):
            raise
        except CloneError as exc:
            if not _TRANSIENT.search(str(exc)):
                raise
            log.warning("clone attempt %d failed, retrying: %s", attempt, exc)
            backoff = RETRY_BACKOFF_SECONDS * 2 ** (attempt - 1)
            time.sleep(min(backoff, max(0.0, deadline - time.monotonic())))
    try:
        return _clone_once(url, workdir, ATTEMPTS, deadline, cancel, *options)
    except CloneError as exc:
        if type(exc) is CloneError and _TRANSIENT.search(str(exc)):
            raise CloneUnavailable(str(exc)) from None
        raise
