"""A running job whose worker is offline or gone says so, with when it will be taken up
again; any other job does not."""

from __future__ import annotations

from neo_alexandria.v1 import jobs_pb2
from services.common.jobs import OFFLINE, TRAINING, stalled

LEASE = 120.0


def running(worker_id: str = "w1") -> jobs_pb2.JobRecord:
    record = jobs_pb2.JobRecord(
        job_id="j", status=jobs_pb2.JOB_STATUS_RUNNING, phase="train", worker_id=worker_id
    )
    record.started_at.FromSeconds(900)
    return record


def worker(heartbeat: int, state: int = TRAINING) -> jobs_pb2.WorkerStatus:
    found = jobs_pb2.WorkerStatus(
        worker_id="w1", state=state, repo_url="x", heartbeat_interval_seconds=15
    )
    found.heartbeat_at.FromSeconds(heartbeat)
    return found


def test_a_live_worker_is_not_stalled() -> None:
    assert stalled(running(), worker(1000), 1030.0, LEASE) == ""


def test_an_offline_worker_says_since_when_and_until_when() -> None:
    # offline once its heartbeat is over 2 x 15 + 10 s old
    assert stalled(running(), worker(1000), 1100.0, LEASE) == (
        "worker w1 offline since 1970-01-01T00:16:40Z, will be retried by 1970-01-01T00:18:40Z"
    )
    assert stalled(running(), worker(1000), 1200.0, LEASE) == (
        "worker w1 offline since 1970-01-01T00:16:40Z, will be retried at the next poll of a "
        "coordinator"
    )
    assert stalled(running(), worker(1000, OFFLINE), 1001.0, LEASE).startswith(
        "worker w1 offline since"
    )


def test_a_worker_gone_from_the_set_is_said_to_be_gone() -> None:
    assert stalled(running("w9"), None, 1000.0, LEASE) == (
        "worker w9 is gone, will be retried by 1970-01-01T00:17:00Z"
    )


def test_jobs_not_running_are_never_stalled() -> None:
    for status in (jobs_pb2.JOB_STATUS_QUEUED, jobs_pb2.JOB_STATUS_COMPLETE):
        record = running()
        record.status = status
        assert stalled(record, None, 5000.0, LEASE) == ""
