"""The coordinator's liveness file (services/ingest/liveness.py): fresh while touched,
stale after twice its interval plus the grace, replaced when a new run first touches it."""

from __future__ import annotations

import os
import time
from pathlib import Path

from services.ingest.liveness import GRACE_SECONDS, Liveness, is_alive


def age(path: Path, seconds: float) -> None:
    then = time.time() - seconds
    os.utime(path, (then, then))


def test_alive_until_twice_the_interval_plus_the_grace(tmp_path: Path) -> None:
    path = tmp_path / "coordinator.alive"
    liveness = Liveness(path, interval_seconds=60)
    assert not is_alive(path)
    liveness.beat()
    assert is_alive(path)
    age(path, 2 * 60 + GRACE_SECONDS - 2)
    assert is_alive(path)
    age(path, 2 * 60 + GRACE_SECONDS + 2)
    assert not is_alive(path)
    liveness.beat()
    assert is_alive(path)


def test_a_new_run_replaces_a_stale_file_and_clear_removes_it(tmp_path: Path) -> None:
    path = tmp_path / "coordinator.alive"
    path.write_text("3600\n")  # left by a killed run with another interval
    age(path, 3 * 3600)
    liveness = Liveness(path, interval_seconds=5)
    liveness.beat()
    assert path.read_text() == "5\n" and is_alive(path)
    liveness.clear()
    assert not path.exists() and not is_alive(path)
    liveness.beat()  # after a clear the next touch writes the file again
    assert is_alive(path)


def test_an_unreadable_file_is_not_alive(tmp_path: Path) -> None:
    path = tmp_path / "coordinator.alive"
    path.write_text("")
    assert not is_alive(path)
