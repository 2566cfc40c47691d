"""A worker's state is the enum; its display text is built from the state and its fields,
and error messages are single clean lines."""

from __future__ import annotations

import grpc
from hypothesis import given, settings
from hypothesis import strategies as st

from neo_alexandria.v1 import jobs_pb2
from services.common import jobs
from services.ingest.coordinator import describe


def status(state: int, **fields: str) -> jobs_pb2.WorkerStatus:
    return jobs_pb2.WorkerStatus(worker_id="w", state=state, **fields)  # type: ignore[arg-type]


def test_every_state_has_a_name_and_a_text() -> None:
    repo = "https://github.com/a/b"
    texts = {
        jobs.worker_state_name(state): jobs.worker_text(status(state, repo_url=repo, message="m"))
        for state in jobs.WorkerState.values()
        if state != jobs_pb2.WORKER_STATE_UNSPECIFIED
    }
    assert texts == {
        "idle": "Idle",
        "parsing": f"Parsing {repo}",
        "training": f"Training Graph on {repo}",
        "uploading": f"Uploading {repo}",
        "error": "Error: m",
        "offline": "Offline",
    }


def test_a_worker_older_than_the_state_keeps_its_own_text() -> None:
    old = jobs_pb2.WorkerStatus(worker_id="w", status="Training Graph on x")
    assert jobs.worker_state_name(old.state) == "unspecified"
    assert jobs.worker_text(old) == "Training Graph on x"


def test_set_state_clears_what_the_last_state_had() -> None:
    worker = status(jobs.IDLE)
    jobs.set_state(worker, jobs.TRAINING, job_id="j", repo_url="https://github.com/a/b")
    jobs.set_state(worker, jobs.ERROR, repo_url="https://github.com/a/b", message="x\n\x00y")
    assert (worker.state, worker.job_id, worker.message) == (jobs.ERROR, "", "x y")
    jobs.set_state(worker, jobs.ERROR)
    assert worker.message == "unknown error"
    jobs.set_state(worker, jobs.IDLE)
    assert (worker.repo_url, worker.message, worker.job_id) == ("", "", "")


def test_the_busiest_worker_is_busy_then_in_error_then_idle() -> None:
    idle, error = status(jobs.IDLE), status(jobs.ERROR, message="m")
    parsing, offline = status(jobs.PARSING, repo_url="r"), status(jobs.OFFLINE)
    assert jobs.busiest([idle, error, parsing, offline]) is parsing
    assert jobs.busiest([offline, idle, error]) is error
    assert jobs.busiest([offline, idle]) is idle
    assert jobs.busiest([offline]) is None and jobs.busiest([]) is None


@settings(max_examples=200)
@given(st.text(max_size=300))
def test_one_line_leaves_no_control_character_or_line_break(text: str) -> None:
    line = jobs.one_line(text)
    assert not any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in line)
    assert line == line.strip() and "  " not in line and len(line) <= 1000
    assert line == jobs.one_line(line)  # idempotent


def test_an_edge_services_error_is_recorded_as_one_clean_line() -> None:
    error = grpc.aio.AioRpcError(
        grpc.StatusCode.FAILED_PRECONDITION,
        grpc.aio.Metadata(),
        grpc.aio.Metadata(),
        "git clone failed:\x00 remote: \x1b[31mred\x07\r\nfatal: \x9b6n bad\tobject",
    )
    assert (
        describe(error)
        == "FAILED_PRECONDITION: git clone failed: remote: [31mred fatal: 6n bad object"
    )
