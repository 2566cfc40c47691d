"""HEAD of a repository: its tree, and the files asked for in their own temporary
directory, always removed. Nothing is ever checked out.

HEAD's tree is listed first (`git ls-tree -r -l`, `tree.py`) and refused when its
files together exceed `max_bytes` or number more than `max_files`, before any content
is read. That listing gives every file's blob id, the content hash the parse cache is
keyed by, so the caller can then ask for only the files it has to read
(`ClonedRepository.read`; `read_all` asks for every one): one `git cat-file --batch`
streams their blobs, exactly as committed, into the directory (no filter, attribute or
hook runs; symlinks are made as symlinks, never followed; submodules are left out;
`head_files.py`). The files to parse are only readied (`ClonedRepository.ready`): the
parse workers read their blobs from `ClonedRepository.objects` (`blob_reader.py`).
Every git command of this process runs through `git_process.run`.

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
import stat
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from services.common.repo_url import is_local
from services.parser import git_process
from services.parser.blob_reader import GitObjects
from services.parser.git_process import (
    LOCAL_UPLOAD_PACK,
    NO_NETWORK,
    NOT_FOUND,
    TRANSIENT,
    CloneCancelled,
    CloneCorrupt,
    CloneError,
    CloneNotFound,
    CloneTimeout,
    CloneTooLarge,
    CloneUnavailable,
    clean_stderr,
    download_watch,
    failure,
    git_env,
    git_output,
    is_corrupt,
    transport_options,
)
from services.parser.head_files import HeadFiles
from services.parser.history import History, parse_log
from services.parser.tree import SYMLINK_MODE, HeadTree

log = logging.getLogger(__name__)

TEMP_PREFIX = "alexandria-clone-"
DEFAULT_MAX_BYTES = 1 << 30
DEFAULT_MAX_FILES = 200_000
ATTEMPTS = 3
RETRY_BACKOFF_SECONDS = 1.0
MAX_LOG_BYTES = 64 << 20
"""The history's `git log` output is read up to this size (newest commits first)."""
_NOT_ASKED = History(note="no history: not asked for")


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
    ignored; raises like `cloned_repository`). `ready(paths)` does the same without
    writing: the files' blobs are then read from `objects` (`blob_reader.py`)."""

    path: Path
    commit: str
    blobs: Mapping[str, str]
    history: History = _NOT_ASKED
    tree: HeadTree = field(default_factory=HeadTree)
    repository: Path | None = None
    read: Callable[[Iterable[str]], Mapping[str, int]] = _read_nothing
    ready: Callable[[Iterable[str]], Mapping[str, int]] = _read_nothing
    objects: GitObjects | None = None


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


def _git_command(
    canonical_url: str, destination: Path, history_commits: int = 0, filtered: bool = True
) -> list[str]:
    """`git clone` of HEAD's commit and trees (and its last `history_commits` commits',
    when 2 or more), `filtered` of all blobs, else with HEAD's."""
    depth = ["--depth", str(history_commits) if history_commits >= 2 else "1"]
    if filtered:
        depth.append("--filter=blob:none")
        if is_local(canonical_url):
            depth += ["--upload-pack", LOCAL_UPLOAD_PACK]
    return [
        "git",
        *transport_options(canonical_url),
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
    code, stderr = git_process.run(
        _git_command(url, destination, history_commits, filtered),
        env=git_env(str(workdir)),
        cwd=str(workdir),
        deadline=deadline,
        cancel=cancel,
        watch=download_watch(url, destination, max_bytes),
    )
    if code != 0:
        shutil.rmtree(destination, ignore_errors=True)
        message = clean_stderr(stderr).replace(str(destination), "<clone>")
        error = CloneError
        if is_corrupt(message, url, url.removeprefix("file://")):
            error = CloneCorrupt
        elif NOT_FOUND.search(message):
            error = CloneNotFound
        raise error(f"git clone {url} failed: {message}")
    return destination


def _head_commit(checkout: Path, workdir: Path, deadline: float) -> str:
    try:
        raw = git_output(checkout, workdir, ["rev-parse", "--verify", "HEAD"], deadline, None)
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
        command = ["git", *transport_options(canonical_url), "ls-remote", "--", canonical_url]
        with tempfile.TemporaryFile(dir=workdir) as out:
            code, stderr = git_process.run(
                [*command, "HEAD"],
                env=git_env(str(workdir)),
                cwd=str(workdir),
                deadline=deadline,
                cancel=cancel,
                stdout=out,
            )
            out.seek(0)
            listing = out.read(4096).decode("ascii", errors="replace")
        if code != 0:
            message = clean_stderr(stderr)
            if NOT_FOUND.search(message):
                raise CloneNotFound(f"git ls-remote {canonical_url} failed: {message}")
            error = failure(message, canonical_url, canonical_url.removeprefix("file://"))
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
    listing = git_output(
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
        raw = git_output(source, workdir, ["rev-parse", "--absolute-git-dir"], deadline, cancel)
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
        *NO_NETWORK,
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
            code, stderr = git_process.run(
                command,
                env=git_env(str(workdir)),
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
            return History(note=f"no history: git log failed: {clean_stderr(stderr)}")
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
    files: HeadFiles | None = None
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
            ready=files.ready,
            objects=files.objects,
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
) -> tuple[str, HeadFiles]:
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
    files = HeadFiles(
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
) -> tuple[str, HeadFiles, History]:
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
    files = HeadFiles(
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
            if not TRANSIENT.search(str(exc)):
                raise
            log.warning("clone attempt %d failed, retrying: %s", attempt, exc)
            backoff = RETRY_BACKOFF_SECONDS * 2 ** (attempt - 1)
            time.sleep(min(backoff, max(0.0, deadline - time.monotonic())))
    try:
        return _clone_once(url, workdir, ATTEMPTS, deadline, cancel, *options)
    except CloneError as exc:
        if type(exc) is CloneError and TRANSIENT.search(str(exc)):
            raise CloneUnavailable(str(exc)) from None
        raise
