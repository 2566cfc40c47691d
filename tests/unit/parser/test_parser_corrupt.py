"""A damaged repository is a permanent failure, never a network one; git's complaints
reach the job record without control bytes."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from git_repos import CORRUPTIONS, corrupt

from services.parser import clone as clone_module
from services.parser import git_process
from services.parser.clone import (
    CloneCorrupt,
    CloneError,
    CloneNotFound,
    CloneUnavailable,
    cloned_repository,
)

CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
FILES = {"a.py": "import b\n", "b.py": "X = 1\n", "c/d.py": "from b import X\n"}


@pytest.mark.parametrize("how", CORRUPTIONS)
@pytest.mark.parametrize("direct", [None, False], ids=["read-in-place", "cloned"])
def test_a_damaged_repository_is_a_permanent_error_tried_once(
    make_repo: Callable[..., Path],
    how: str,
    direct: bool | None,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Read in place (LOCAL) or cloned as a remote is (its upload-pack then dies with
    "early EOF", which alone would read as a network failure): never CloneUnavailable,
    the gRPC UNAVAILABLE the coordinator retries, and never cloned twice."""
    repo = corrupt(make_repo(FILES), how)
    with (
        caplog.at_level(logging.WARNING, logger=clone_module.__name__),
        pytest.raises(CloneError) as raised,
        cloned_repository(f"file://{repo}", timeout_seconds=30, history_commits=50, direct=direct),
    ):
        pass
    assert not isinstance(raised.value, CloneUnavailable), raised.value
    assert not CONTROL.search(str(raised.value))
    assert not [r for r in caplog.records if "retrying" in r.getMessage()]
    missing = how in ("head-missing", "missing-blob")
    if not (missing and direct is False):  # a remote lacking an object says "not our ref"
        assert isinstance(raised.value, CloneCorrupt), raised.value


def test_a_remote_aborting_over_corruption_is_not_retried(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[list[str]] = []

    def dying(command: list[str], **kwargs: object) -> tuple[int, bytes]:
        calls.append(command)
        return 128, (
            b"remote: fatal: packed object 90bb78a8 (stored in ./objects/pack/p.pack) is corrupt\n"
            b"remote: aborting due to possible repository corruption on the remote side.\n"
            b"fatal: early EOF\nfatal: fetch-pack: invalid index-pack output\n"
        )

    monkeypatch.setattr(git_process, "run", dying)
    with (
        pytest.raises(CloneCorrupt, match="corruption"),
        cloned_repository("https://github.com/u/r", timeout_seconds=20),
    ):
        pass
    assert len(calls) == 1


def test_a_name_that_says_corrupt_does_not_make_a_repository_corrupt(tmp_path: Path) -> None:
    """Only git's words count, not the repository's URL or path."""
    missing = tmp_path / "corrupt-objects" / "is corrupt"
    with (
        pytest.raises(CloneNotFound),
        cloned_repository(f"file://{missing}", timeout_seconds=20, direct=False),
    ):
        pass


def test_git_errors_lose_nul_and_control_bytes(monkeypatch: pytest.MonkeyPatch) -> None:
    """NUL, escape sequences, C1 controls (CSI), tabs, bells and carriage returns from a
    remote's sideband are not copied into the error."""

    def hostile(command: list[str], **kwargs: object) -> tuple[int, bytes]:
        return 128, (
            b"remote: \x1b[2J\x1b[31mred\x07 alert\x00NUL\r\n"
            b"fatal: repository \xc2\x9b6n 'x'\tnot\x0bfound\x7f\n"
        )

    monkeypatch.setattr(git_process, "run", hostile)
    with (
        pytest.raises(CloneError) as raised,
        cloned_repository("https://github.com/u/r", timeout_seconds=20),
    ):
        pass
    message = str(raised.value)
    assert not CONTROL.search(message), ascii(message)
    assert "[31mred alert NUL" in message and "6n 'x' not found" in message
