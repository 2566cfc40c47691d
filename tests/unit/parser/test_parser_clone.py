"""Cloning into isolated temporary directories that never outlive the job (P13, P14)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from parser_helpers import git

from services.parser import clone as clone_module
from services.parser import git_process
from services.parser.blob_reader import read_blob
from services.parser.clone import (
    TEMP_PREFIX,
    CloneCancelled,
    CloneError,
    CloneNotFound,
    CloneTimeout,
    CloneTooLarge,
    CloneUnavailable,
    cloned_repository,
    head_commit,
    sweep_leftovers,
)


def _leftovers() -> set[str]:
    """This process's clone directories: another process (a test run in another checkout)
    may make and remove its own at any time."""
    return {p.name for p in Path(tempfile.gettempdir()).glob(f"{TEMP_PREFIX}{os.getpid()}-*")}


def test_clone_returns_checkout_and_commit_then_removes_it(
    make_repo: Callable[..., Path],
) -> None:
    repo = make_repo({"a.py": "import b\n", "b.py": ""})
    with cloned_repository(f"file://{repo}", timeout_seconds=30) as cloned:
        assert cloned.commit == git(repo, "rev-parse", "HEAD")
        assert (cloned.path / "a.py").read_text() == "import b\n"
        workdir = cloned.path.parent
        assert workdir.name.startswith(TEMP_PREFIX)
        assert workdir.stat().st_mode & 0o777 == 0o700
    assert not workdir.exists()


def test_temp_dir_is_removed_when_the_body_raises(make_repo: Callable[..., Path]) -> None:
    repo = make_repo({"a.py": ""})
    with pytest.raises(RuntimeError), cloned_repository(f"file://{repo}", timeout_seconds=30) as c:
        workdir = c.path.parent
        raise RuntimeError("job failed")
    assert not workdir.exists()


def test_concurrent_clones_use_distinct_dirs(make_repo: Callable[..., Path]) -> None:
    repo = make_repo({"a.py": ""})
    barrier = threading.Barrier(2)

    def clone() -> Path:
        with cloned_repository(f"file://{repo}", timeout_seconds=30) as cloned:
            barrier.wait(timeout=10)  # both checkouts exist at the same time
            return cloned.path

    with ThreadPoolExecutor(2) as pool:
        first, second = pool.map(lambda _: clone(), range(2))
    assert first.parent != second.parent
    assert not first.exists() and not second.exists()


def test_missing_repository_raises_clone_error_and_cleans_up(tmp_path: Path) -> None:
    before = _leftovers()
    with (
        pytest.raises(CloneNotFound, match="does not appear to be a git repository"),
        cloned_repository(f"file://{tmp_path}/missing", timeout_seconds=30),
    ):
        pass
    assert issubclass(CloneNotFound, CloneError)
    assert _leftovers() <= before


def test_only_https_and_local_file_transports_are_allowed(tmp_path: Path) -> None:
    with (
        pytest.raises(CloneError, match="transport"),
        cloned_repository("ext::sh -c touch% /tmp/pwned", timeout_seconds=30),
    ):
        pass


def test_timeout_kills_git_and_cleans_up(monkeypatch: pytest.MonkeyPatch) -> None:
    def slow_command(url: str, destination: Path, *options: object) -> list[str]:
        return ["sh", "-c", f"mkdir -p '{destination}' && sleep 30"]

    monkeypatch.setattr(clone_module, "_git_command", slow_command)
    before = _leftovers()
    started = time.monotonic()
    with (
        pytest.raises(CloneTimeout, match=r"did not finish within 0\.5 s"),
        cloned_repository("https://github.com/u/r", timeout_seconds=0.5),
    ):
        pass
    assert time.monotonic() - started < 5
    assert _leftovers() <= before


def test_cancel_stops_the_clone(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A cancel set while git runs kills it within a second and removes its directory,
    long before the clone's own timeout."""
    pid_file = tmp_path / "git.pid"
    destinations: list[Path] = []

    def slow_command(url: str, destination: Path, *options: object) -> list[str]:
        destinations.append(destination)
        return ["sh", "-c", f"mkdir -p '{destination}' && echo $$ > '{pid_file}' && exec sleep 60"]

    monkeypatch.setattr(clone_module, "_git_command", slow_command)
    cancel = threading.Event()
    outcome: list[BaseException | None] = []

    def clone() -> None:
        try:
            with cloned_repository("https://github.com/u/r", timeout_seconds=60, cancel=cancel):
                pass
        except BaseException as exc:  # handed to the test's thread
            outcome.append(exc)
        else:
            outcome.append(None)

    worker = threading.Thread(target=clone, daemon=True)
    worker.start()
    deadline = time.monotonic() + 10
    while not pid_file.exists() or not pid_file.read_text().strip():
        assert time.monotonic() < deadline, "the clone never started"
        time.sleep(0.05)
    git_pid = int(pid_file.read_text())
    assert worker.is_alive() and not outcome  # still cloning: the cancel comes mid-clone
    cancelled_at = time.monotonic()
    cancel.set()
    worker.join(timeout=5)
    try:
        assert not worker.is_alive(), "the clone outlived its cancel by 5 s"
        assert time.monotonic() - cancelled_at < 1.5
        assert len(outcome) == 1 and isinstance(outcome[0], CloneCancelled), outcome
        with pytest.raises(ProcessLookupError):
            os.kill(git_pid, 0)  # killed (and reaped), not left sleeping
        assert destinations and not destinations[0].parent.exists()  # the clone's workdir
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(git_pid, signal.SIGKILL)


def test_git_runs_without_user_config_hooks_or_prompts(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, object] = {}

    def spy(command: list[str], **kwargs: object) -> tuple[int, bytes]:
        seen.update(command=command, env=kwargs["env"])
        return 128, b"fatal: unable to access: Could not resolve host: invalid.invalid\n"

    monkeypatch.setattr(git_process, "run", spy)
    monkeypatch.setenv("GIT_DIR", "/somewhere/else")
    monkeypatch.setattr(clone_module, "RETRY_BACKOFF_SECONDS", 0.0)
    with (
        pytest.raises(CloneError, match="Could not resolve host"),
        cloned_repository("https://invalid.invalid/u/r", timeout_seconds=20),
    ):
        pass
    command, env = seen["command"], seen["env"]
    assert isinstance(command, list) and isinstance(env, dict)
    assert command[command.index("--") + 1] == "https://invalid.invalid/u/r"
    for flag in ("--depth", "--no-recurse-submodules", "--single-branch"):
        assert flag in command
    for config in ("core.hooksPath=/dev/null", "protocol.allow=never", "filter.lfs.smudge="):
        assert config in command
    assert "protocol.file.allow=always" not in command
    assert env["GIT_TERMINAL_PROMPT"] == "0"
    assert env["GIT_CONFIG_GLOBAL"] == "/dev/null"
    assert "GIT_DIR" not in env


def test_transient_failures_are_retried(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []

    def flaky(command: list[str], **kwargs: object) -> tuple[int, bytes]:
        calls.append(1)
        return 128, b"fatal: unable to access: Could not resolve host: github.com\n"

    monkeypatch.setattr(git_process, "run", flaky)
    monkeypatch.setattr(clone_module, "RETRY_BACKOFF_SECONDS", 0.0)
    with (
        pytest.raises(CloneUnavailable),  # retried later as a job: gRPC UNAVAILABLE
        cloned_repository("https://github.com/u/r", timeout_seconds=20),
    ):
        pass
    assert len(calls) == clone_module.ATTEMPTS


@pytest.mark.parametrize("read_all", [True, False], ids=["all", "asked"])
@pytest.mark.parametrize("direct", [None, False], ids=["objects", "clone"])
def test_head_is_read_from_git_objects_exactly_as_committed(
    make_repo: Callable[..., Path], tmp_path: Path, direct: bool | None, read_all: bool
) -> None:
    """No checkout: read from the source's objects, or from a clone's, every regular
    file holds the bytes `git show HEAD:path` gives (odd names, a name that is not
    UTF-8, CRLF under an eol attribute, an LFS pointer, the same blob twice, a blob
    larger than a copy chunk), symlinks stay symlinks, a submodule entry and
    uncommitted edits are left out. Asked for by name, the same files are written,
    with their sizes, and nothing before; readied instead, nothing is written and the
    parse workers' blob reader gives the same bytes."""
    lfs_pointer = (
        "version https://git-lfs.github.com/spec/v1\n"
        "oid sha256:4d7a214614ab2935c943f9e0ff69d22eadbb8f32b1258daaa5e2ca24d17e2393\n"
        "size 12345\n"
    )
    files: dict[str, str | bytes] = {
        "a.py": "import b\n",
        "b.py": "import a\n",
        "same.py": "import b\n",
        "spaces and ünïcödé/x y.py": "X = 1\n",
        "weird/-dash.py": "Y = 2\n",
        os.fsdecode(b"latin-caf\xe9.py"): "Z = 3\n",
        "crlf.txt": "one\ntwo\n",
        ".gitattributes": "crlf.txt eol=crlf\n*.bin filter=lfs diff=lfs merge=lfs -text\n",
        "model.bin": lfs_pointer,
        "raw.dat": bytes(range(256)),
        "big.bin": bytes(range(256)) * 10_000,  # 2.5 MB: copied in chunks
    }
    repo = make_repo(files)
    (repo / "link.py").symlink_to("a.py")
    (repo / "outside").symlink_to("/etc/passwd")
    module = make_repo({"m.py": ""}, name="module")
    git(repo, "-c", "protocol.file.allow=always", "submodule", "add", "-q", str(module), "sub")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "links and a submodule")
    (repo / "a.py").write_text("uncommitted\n")
    (repo / "untracked.py").write_text("nope\n")
    committed = [*files, ".gitmodules"]
    shown = {
        name: subprocess.run(
            ["git", "show", f"HEAD:{name}"], cwd=repo, capture_output=True, check=True
        ).stdout
        for name in committed
    }

    def written(root: Path) -> list[str]:
        found = (str(p.relative_to(root)) for p in root.rglob("*") if not p.is_dir())
        return sorted(p for p in found if not p.startswith(".git/"))

    url = f"file://{repo}"
    with cloned_repository(url, timeout_seconds=30, direct=direct, read_all=read_all) as read:
        assert read.commit == git(repo, "rev-parse", "HEAD")
        assert (read.path / ".git").exists() == (direct is False)  # the clone's own
        if not read_all:
            assert written(read.path) == []
            sized = {name: len(body) for name, body in shown.items()}
            assert read.ready(committed) == sized
            assert written(read.path) == []  # readied for the workers, not written
            assert read.objects is not None
            for name in committed:  # what the parse workers read
                assert read_blob(read.objects, read.blobs[name], 1 << 22) == shown[name], name
            sizes = read.read([*committed, "link.py", "outside", "sub", "untracked.py"])
            assert sizes == {
                **{name: len(body) for name, body in shown.items()},
                "link.py": len("a.py"),
                "outside": len("/etc/passwd"),
            }
        assert written(read.path) == sorted([*committed, "link.py", "outside"])
        for name in committed:
            assert (read.path / name).read_bytes() == shown[name], name
        assert os.readlink(read.path / "link.py") == "a.py"
        assert os.readlink(read.path / "outside") == "/etc/passwd"
        assert set(read.blobs) == set(committed)  # symlinks are not regular files
        assert read.blobs["a.py"] == read.blobs["same.py"]
        assert not (read.path / "sub").exists()


@pytest.fixture
def git_commands(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """Every git command run from here on, in order (each still runs)."""
    ran: list[list[str]] = []
    real_run = git_process.run

    def spy(command: list[str], **kwargs: object) -> tuple[int, bytes]:
        ran.append(command)
        return real_run(command, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(git_process, "run", spy)
    return ran


def test_a_local_source_over_the_limits_is_refused_before_any_content_is_read(
    make_repo: Callable[..., Path], git_commands: list[list[str]]
) -> None:
    repo = make_repo({"a.py": "x" * 5_000, "b.py": "y" * 5_000})
    with (
        pytest.raises(CloneTooLarge, match="ALEXANDRIA_MAX_REPO_BYTES"),
        cloned_repository(f"file://{repo}", timeout_seconds=30, max_bytes=8_000),
    ):
        pass
    assert not any("cat-file" in command for command in git_commands)
    with (
        pytest.raises(CloneTooLarge, match="ALEXANDRIA_MAX_REPO_FILES"),
        cloned_repository(f"file://{repo}", timeout_seconds=30, max_files=1),
    ):
        pass


def test_a_clones_files_over_the_size_limit_are_refused_before_any_is_written(
    make_repo: Callable[..., Path], git_commands: list[list[str]]
) -> None:
    """A partial clone's listing has no sizes, and 3 MB of zeros download as a few
    kilobytes: the blobs are sized once fetched, and refused before one is written."""
    repo = make_repo({"small.py": "x = 1\n", "zeros.py": "0" * 3_000_000})
    url = f"file://{repo}"
    with cloned_repository(
        url, timeout_seconds=30, direct=False, max_bytes=1_000_000, read_all=False
    ) as head:
        assert head.read(["small.py"]) == {"small.py": 6}
        with pytest.raises(CloneTooLarge, match="ALEXANDRIA_MAX_REPO_BYTES"):
            head.read(["zeros.py"])
        assert not (head.path / "zeros.py").exists()
    assert sum("--batch" in command for command in git_commands) == 1  # small.py's write only
    with (
        pytest.raises(CloneTooLarge, match="ALEXANDRIA_MAX_REPO_BYTES"),
        cloned_repository(url, timeout_seconds=30, direct=False, max_bytes=1_000_000),
    ):
        pass


def test_a_directory_inside_a_repository_is_not_taken_for_it(
    make_repo: Callable[..., Path],
) -> None:
    repo = make_repo({"pkg/a.py": "", "b.py": ""})
    for inside in (repo / "pkg", repo / ".git" / "objects"):
        with (
            pytest.raises(CloneNotFound, match="does not appear to be a git repository"),
            cloned_repository(f"file://{inside}", timeout_seconds=30),
        ):
            pass


def test_reading_a_local_source_writes_nothing_into_it(make_repo: Callable[..., Path]) -> None:
    repo = make_repo({"a.py": "", "b.py": ""})
    git(repo, "commit", "-q", "--allow-empty", "-m", "two commits: history is read too")

    def snapshot() -> dict[str, int]:
        return {str(p): p.stat().st_mtime_ns for p in repo.rglob("*")}

    before = snapshot()
    with cloned_repository(f"file://{repo}", timeout_seconds=30, history_commits=10) as read:
        assert len(read.history.commits) == 2
    assert snapshot() == before


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to give the repository to nobody")
def test_another_users_repository_is_refused_with_gits_reason(
    make_repo: Callable[..., Path],
) -> None:
    repo = make_repo({"a.py": ""})
    subprocess.run(["chown", "-R", "nobody", str(repo)], check=True)
    with (
        pytest.raises(CloneError, match=r"dubious ownership.*safe\.directory"),
        cloned_repository(f"file://{repo}", timeout_seconds=30),
    ):
        pass


@pytest.mark.parametrize("direct", [None, False], ids=["rev-parse", "ls-remote"])
def test_head_commit_reads_head_without_cloning(
    make_repo: Callable[..., Path], tmp_path: Path, direct: bool | None
) -> None:
    repo = make_repo({"a.py": ""})
    before = _leftovers()
    url = f"file://{repo}"
    assert head_commit(url, timeout_seconds=30, direct=direct) == git(repo, "rev-parse", "HEAD")
    (repo / "b.py").write_text("")
    git(repo, "add", "b.py")
    git(repo, "commit", "-q", "-m", "b")
    assert head_commit(url, timeout_seconds=30, direct=direct) == git(repo, "rev-parse", "HEAD")
    with pytest.raises(CloneNotFound):
        head_commit(f"file://{tmp_path}/missing", timeout_seconds=30, direct=direct)
    empty = tmp_path / "empty"
    git(tmp_path, "init", "-q", str(empty))
    with pytest.raises(CloneError, match="no HEAD commit"):
        head_commit(f"file://{empty}", timeout_seconds=30, direct=direct)
    assert _leftovers() <= before


def test_head_commit_of_a_remote_obeys_the_transport_rules() -> None:
    with pytest.raises(CloneError, match="transport"):
        head_commit("ext::sh -c touch% /tmp/pwned", timeout_seconds=30)


def test_clone_directories_of_processes_gone_are_swept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, make_repo: Callable[..., Path]
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    gone = subprocess.Popen(["true"])
    gone.wait()
    leftover = tmp_path / f"{TEMP_PREFIX}{gone.pid}-abc"
    (leftover / "checkout").mkdir(parents=True)
    mine = tmp_path / f"{TEMP_PREFIX}{os.getpid()}-def"
    mine.mkdir()
    unnamed = tmp_path / f"{TEMP_PREFIX}oldstyle"  # not named for a process: left alone
    unnamed.mkdir()
    assert sweep_leftovers() == [leftover]
    assert not leftover.exists() and mine.exists() and unnamed.exists()
    repo = make_repo({"a.py": ""})
    with cloned_repository(f"file://{repo}", timeout_seconds=30) as cloned:
        assert cloned.path.parent.name.startswith(f"{TEMP_PREFIX}{os.getpid()}-")
