"""One stack per data dir (`alexandria/stack_state.py`): the lock, the state file, a
holder killed with SIGKILL, and the CLI's gateway URL."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest

from alexandria import stack_state
from alexandria.gateway_client import gateway_url
from services.common.config import Settings

HOLDER = """
import sys, time
from pathlib import Path
from alexandria import stack_state
data = Path(sys.argv[1])
lock = stack_state.claim(data)
stack_state.write(data, stack_state.RunningStack(12345, "http://127.0.0.1:8123"))
print("held", flush=True)
time.sleep(60)
"""


def test_a_second_claim_names_the_first_and_a_killed_holder_frees_the_data_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ALEXANDRIA_GATEWAY_URL", raising=False)
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(tmp_path)],
        cwd=Path(__file__).parents[3],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        with pytest.raises(stack_state.DataDirInUse) as refused:
            stack_state.claim(tmp_path)
        assert str(refused.value) == (
            f"the data dir {tmp_path} is in use by pid 12345, at http://127.0.0.1:8123"
        )
        assert stack_state.read(tmp_path) == stack_state.RunningStack(
            12345, "http://127.0.0.1:8123"
        )
        settings = Settings(alexandria_data_dir=tmp_path)
        assert gateway_url(settings) == "http://127.0.0.1:8123"
        explicit = Settings(alexandria_data_dir=tmp_path, gateway_url="http://127.0.0.1:9000")
        assert gateway_url(explicit) == "http://127.0.0.1:9000"  # ALEXANDRIA_GATEWAY_URL wins
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    # The kernel dropped the lock: the state file left behind is not believed.
    assert (tmp_path / stack_state.STATE_FILE).exists()
    assert stack_state.read(tmp_path) is None
    assert gateway_url(Settings(alexandria_data_dir=tmp_path)) == "http://127.0.0.1:8000"
    lock = stack_state.claim(tmp_path)
    stack_state.write(tmp_path, stack_state.RunningStack(1, None))
    stack_state.release(tmp_path, lock)
    assert not (tmp_path / stack_state.STATE_FILE).exists()
    stack_state.release(tmp_path, stack_state.claim(tmp_path))  # free again


def test_a_stack_still_starting_is_named_without_a_state(tmp_path: Path) -> None:
    lock = stack_state.claim(tmp_path)
    try:
        with pytest.raises(
            stack_state.DataDirInUse, match="in use by another stack, still starting"
        ):
            stack_state.claim(tmp_path)
    finally:
        stack_state.release(tmp_path, lock)
