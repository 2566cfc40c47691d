"""The parse workers' blob reader (`blob_reader.py`): one long-lived `git cat-file
--batch` per process, the size checked before content, a damaged or missing object
failing as a damaged repository does, no lazy fetch, and no process left behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from parser_helpers import git

from services.parser import blob_reader
from services.parser.blob_reader import BlobTooLarge, GitObjects, close_when_gone, read_blob
from services.parser.clone import CloneCorrupt, CloneError, CloneTimeout, cloned_repository

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(autouse=True)
def no_reader_left() -> Iterator[None]:
    """Each test starts and ends with this process's reader closed."""
    yield
    with blob_reader._lock:
        if blob_reader._reader is not None:
            blob_reader._reader.close()
            blob_reader._reader = None


def _objects(repo: Path, home: Path) -> GitObjects:
    home.mkdir(exist_ok=True)
    return GitObjects(str(repo), str(home))


def _reader_pid() -> int:
    assert blob_reader._reader is not None
    return blob_reader._reader.process.pid


def _gone(pid: int, seconds: float = 10.0) -> bool:
    """Whether process `pid` has ended (reaped, or a zombie) within `seconds`."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with open(f"/proc/{pid}/stat") as stat:
                if stat.read().rpartition(")")[2].split()[0] == "Z":
                    return True
        except FileNotFoundError:
            return True
        time.sleep(0.05)
    return False


def test_one_process_serves_every_read_of_a_repository(
    make_repo: Callable[..., Path], tmp_path: Path
) -> None:
    repo = make_repo({"a.py": "import b\n", "b.py": "X = 1\n"})
    objects = _objects(repo, tmp_path / "home")
    first = read_blob(objects, git(repo, "rev-parse", "HEAD:a.py"), 100)
    pid = _reader_pid()
    second = read_blob(objects, git(repo, "rev-parse", "HEAD:b.py"), 100)
    assert (first, second) == (b"import b\n", b"X = 1\n")
    assert _reader_pid() == pid
    other = make_repo({"c.py": "Y = 2\n"})
    other_objects = _objects(other, tmp_path / "other-home")
    assert read_blob(other_objects, git(other, "rev-parse", "HEAD:c.py"), 100) == b"Y = 2\n"
    assert _reader_pid() != pid and _gone(pid)  # another repository: the old one closed


def test_a_blob_over_the_limit_is_refused_unread_and_reading_goes_on(
    make_repo: Callable[..., Path], tmp_path: Path
) -> None:
    repo = make_repo({"big.py": "x = 1\n" * 1000, "small.py": "y = 2\n"})
    objects = _objects(repo, tmp_path / "home")
    with pytest.raises(BlobTooLarge, match="larger than 100 bytes"):
        read_blob(objects, git(repo, "rev-parse", "HEAD:big.py"), 100)
    assert read_blob(objects, git(repo, "rev-parse", "HEAD:small.py"), 100) == b"y = 2\n"


def test_a_damaged_object_fails_with_gits_reason(
    make_repo: Callable[..., Path], tmp_path: Path
) -> None:
    repo = make_repo({"a.py": "import b\n", "b.py": "X = 1\n"})
    blob = git(repo, "rev-parse", "HEAD:a.py")
    loose = repo / ".git" / "objects" / blob[:2] / blob[2:]
    loose.chmod(0o644)
    loose.write_bytes(b"not zlib at all\n")
    objects = _objects(repo, tmp_path / "home")
    with pytest.raises(CloneCorrupt, match=r"git cat-file failed: .*(corrupt|inflate|unpack)"):
        read_blob(objects, blob, 1000)
    assert read_blob(objects, git(repo, "rev-parse", "HEAD:b.py"), 100) == b"X = 1\n"


def test_a_partial_clones_missing_blob_is_an_error_never_a_fetch(
    make_repo: Callable[..., Path],
) -> None:
    repo = make_repo({"a.py": "import b\n", "b.py": "X = 1\n"})
    url = f"file://{repo}"
    with cloned_repository(url, timeout_seconds=30, direct=False, read_all=False) as head:
        assert head.objects is not None
        head.ready(["a.py"])
        assert read_blob(head.objects, head.blobs["a.py"], 100) == b"import b\n"
        with pytest.raises(CloneError, match=r"lazy fetching disabled|could not fetch"):
            read_blob(head.objects, head.blobs["b.py"], 100)
        fetched = subprocess.run(
            ["git", "-c", "protocol.allow=never", "cat-file", "-e", head.blobs["b.py"]],
            cwd=head.repository,
            capture_output=True,
        )
        assert fetched.returncode != 0  # still not there: nothing was fetched


def test_the_reader_closes_once_its_builds_directory_is_gone(
    make_repo: Callable[..., Path], tmp_path: Path
) -> None:
    repo = make_repo({"a.py": "import b\n"})
    home = tmp_path / "home"
    read_blob(_objects(repo, home), git(repo, "rev-parse", "HEAD:a.py"), 100)
    pid = _reader_pid()
    close_when_gone()
    assert _reader_pid() == pid  # the build is still on
    home.rmdir()
    close_when_gone()
    assert blob_reader._reader is None and _gone(pid)


KILLED_READER = """
import sys
from services.parser import blob_reader
objects = blob_reader.GitObjects(sys.argv[1], sys.argv[2])
assert blob_reader.read_blob(objects, sys.argv[3], 100) == b"import b\\n"
print(blob_reader._reader.process.pid, flush=True)
sys.stdin.read()
"""


@pytest.mark.skipif(not Path("/proc").exists(), reason="reads processes from /proc")
def test_a_killed_worker_leaves_no_git_process_behind(
    make_repo: Callable[..., Path], tmp_path: Path
) -> None:
    """SIGKILL gives no `finally`: git sees its input close and ends by itself."""
    repo = make_repo({"a.py": "import b\n"})
    home = tmp_path / "home"
    home.mkdir()
    worker = subprocess.Popen(
        [
            sys.executable,
            "-c",
            KILLED_READER,
            str(repo),
            str(home),
            git(repo, "rev-parse", "HEAD:a.py"),
        ],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert worker.stdout is not None
    git_pid = int(worker.stdout.readline())
    os.kill(worker.pid, signal.SIGKILL)
    worker.wait()
    assert _gone(git_pid), "git cat-file outlived its killed worker"


CAPPED_READER = """
import os, resource, sys
from services.parser import blob_reader
with open("/proc/self/status") as status:
    size = next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmSize:"))
resource.setrlimit(resource.RLIMIT_AS, (size + (64 << 20), resource.RLIM_INFINITY))
objects = blob_reader.GitObjects(sys.argv[1], sys.argv[2])
for blob in sys.argv[3:]:
    print(len(blob_reader.read_blob(objects, blob, 1 << 30)), flush=True)
"""


@pytest.mark.skipif(not Path("/proc").exists(), reason="reads the address space from /proc")
def test_a_pack_larger_than_the_workers_address_space_headroom_is_read(tmp_path: Path) -> None:
    """A worker's address space is capped (`workers.py`) and git inherits the cap: by
    default it would map a pack in windows of up to 1 GiB and fail ("cannot be mapped")
    on a pack larger than the headroom. The reader maps small windows."""
    repo = tmp_path / "big"
    git(tmp_path, "init", "-q", str(repo))
    stream = tmp_path / "import"
    with stream.open("wb") as out:  # 200 MB of random blobs, stored (level 0) in one pack
        for mark in range(1, 21):
            out.write(
                b"blob\nmark :%d\ndata %d\n" % (mark, 10 << 20) + os.urandom(10 << 20) + b"\n"
            )
        out.write(b"blob\nmark :21\ndata 9\nimport a\n\n")
        out.write(b"commit refs/heads/main\ncommitter b <b@b> 0 +0000\ndata 2\nx\n")
        out.write(b"".join(b"M 100644 :%d f%d\n" % (mark, mark) for mark in range(1, 22)))
    with stream.open("rb") as data:
        subprocess.run(
            [
                "git",
                "-c",
                "pack.compression=0",
                "-c",
                "fastimport.unpackLimit=0",
                "fast-import",
                "--quiet",
            ],
            cwd=repo,
            stdin=data,
            check=True,
        )
    stream.unlink()
    assert sum(p.stat().st_size for p in (repo / ".git/objects/pack").glob("*.pack")) > 200 << 20
    blobs = [git(repo, "rev-parse", f"main:{name}") for name in ("f21", "f20", "f1")]
    home = tmp_path / "home"
    home.mkdir()
    read = subprocess.run(
        [sys.executable, "-c", CAPPED_READER, str(repo), str(home), *blobs],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert read.stdout.split() == ["9", str(10 << 20), str(10 << 20)], read.stderr[-500:]


def test_a_git_that_stops_answering_fails_the_read_in_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A hung disk must not hang the worker: past READ_TIMEOUT_SECONDS without a byte
    the read fails (the job then fails as timed out) and git is killed. The `git` here
    is a test double on PATH that reads the request and never answers."""
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "git").write_text("#!/bin/sh\nread request\nexec sleep 60\n")
    (fake / "git").chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake}:{os.environ['PATH']}")
    monkeypatch.setattr(blob_reader, "READ_TIMEOUT_SECONDS", 0.5)
    started = time.monotonic()
    with pytest.raises(CloneTimeout, match=r"gave nothing for 0\.5 s"):
        read_blob(_objects(tmp_path, tmp_path / "home"), "0" * 40, 100)
    assert time.monotonic() - started < 10
    assert blob_reader._reader is None  # closed: the next read starts a new git
