"""P13 (concurrent clones use distinct temp dirs) and P14 (every temp dir is removed,
whatever happens to the job), over random mixes of concurrent job outcomes."""

from __future__ import annotations

import os
import subprocess
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.parser.clone import TEMP_PREFIX, CloneError, cloned_repository

OUTCOMES = ("ok", "body_raises", "missing", "too_large", "too_many_files", "cancelled", "timeout")


class JobFailed(Exception):
    """Raised by a job's own code while its clone exists."""


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("origin")
    for name in ("a.py", "b.py", "c.go"):
        (root / name).write_text("x = 1\n" * 100)
    for args in (("init", "-q", "-b", "main"), ("add", "-A"), ("commit", "-q", "-m", "x")):
        subprocess.run(
            ["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=root, check=True
        )
    return root


def _leftovers() -> set[Path]:
    """This process's clone directories: another process (a test run in another checkout)
    may make and remove its own at any time."""
    return set(Path(tempfile.gettempdir()).glob(f"{TEMP_PREFIX}{os.getpid()}-*"))


def _job(repo: Path, outcome: str, inside: threading.Barrier, seen: list[Path]) -> str:
    url = f"file://{repo}" if outcome != "missing" else f"file://{repo}-missing"
    cancel = threading.Event()
    if outcome == "cancelled":
        cancel.set()
    limits = {"too_large": {"max_bytes": 100}, "too_many_files": {"max_files": 2}}.get(outcome, {})
    timeout = 0.001 if outcome == "timeout" else 30.0
    try:
        with cloned_repository(url, timeout_seconds=timeout, cancel=cancel, **limits) as cloned:
            seen.append(cloned.path.parent)
            inside.wait(timeout=20)  # every job that got a clone holds it at the same time
            if outcome == "body_raises":
                raise JobFailed
        return "ok"
    except (CloneError, JobFailed) as exc:
        return type(exc).__name__


@settings(max_examples=100, deadline=None)
@given(outcomes=st.lists(st.sampled_from(OUTCOMES), min_size=1, max_size=4))
def test_clones_are_isolated_and_always_removed(repo: Path, outcomes: list[str]) -> None:
    before = _leftovers()
    reaching_body = sum(o in ("ok", "body_raises") for o in outcomes)
    inside = threading.Barrier(max(reaching_body, 1))
    seen: list[Path] = []
    with ThreadPoolExecutor(len(outcomes)) as pool:
        results = list(pool.map(lambda o: _job(repo, o, inside, seen), outcomes))

    expected = {
        "ok": "ok",
        "body_raises": "JobFailed",
        "missing": "CloneNotFound",
        "too_large": "CloneTooLarge",
        "too_many_files": "CloneTooLarge",
        "cancelled": "CloneCancelled",
        "timeout": "CloneTimeout",
    }
    assert results == [expected[o] for o in outcomes]
    assert len(set(seen)) == len(seen) == reaching_body  # P13
    assert not any(path.exists() for path in seen)  # P14
    assert _leftovers() <= before  # P14, including jobs that never reached their body
