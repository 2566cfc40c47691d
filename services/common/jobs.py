"""Job records and worker status as protobuf messages, with their JSON form in Redis."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import TypeVar

from google.protobuf import json_format
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp

from neo_alexandria.v1 import jobs_pb2

JobStatus = jobs_pb2.JobStatus
M = TypeVar("M", bound=Message)

TERMINAL = frozenset(
    {
        JobStatus.JOB_STATUS_COMPLETE,
        JobStatus.JOB_STATUS_FAILED,
        JobStatus.JOB_STATUS_SKIPPED,
        JobStatus.JOB_STATUS_DEAD,
    }
)

WorkerState = jobs_pb2.WorkerState
IDLE = WorkerState.WORKER_STATE_IDLE
PARSING = WorkerState.WORKER_STATE_PARSING
TRAINING = WorkerState.WORKER_STATE_TRAINING
UPLOADING = WorkerState.WORKER_STATE_UPLOADING
ERROR = WorkerState.WORKER_STATE_ERROR
OFFLINE = WorkerState.WORKER_STATE_OFFLINE
_RANK = {PARSING: 3, TRAINING: 3, UPLOADING: 3, ERROR: 2, IDLE: 1}
"""How much a worker's state says about the whole fleet: busy, then error, then idle."""
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def one_line(text: str, *, limit: int = 1000) -> str:
    """`text` on one line, for records and displays: control characters (C0, DEL, C1:
    NUL, escapes, CSI, carriage returns, tabs, newlines) become spaces, runs of
    whitespace one space, at most `limit` characters."""
    return " ".join(_CONTROL.sub(" ", text).split())[:limit]


def set_state(
    worker: jobs_pb2.WorkerStatus,
    state: jobs_pb2.WorkerState.ValueType,
    *,
    job_id: str = "",
    repo_url: str = "",
    message: str = "",
) -> None:
    """Set what `worker` is doing; the fields of the previous state are cleared."""
    worker.state, worker.job_id, worker.repo_url = state, job_id, repo_url
    worker.message = one_line(message) or ("unknown error" if state == ERROR else "")


def worker_state_name(state: int) -> str:
    """`WORKER_STATE_TRAINING` → `training`: the word the REST API and metrics show."""
    return WorkerState.Name(state).removeprefix("WORKER_STATE_").lower()


def worker_text(worker: jobs_pb2.WorkerStatus) -> str:
    """The display text of a worker's state (R9.1): "Idle", "Parsing {repo}", "Training
    Graph on {repo}", "Uploading {repo}", "Error: {message}" or "Offline". A worker from
    before the state (UNSPECIFIED) keeps the text it wrote."""
    repo = worker.repo_url
    return {
        IDLE: "Idle",
        PARSING: f"Parsing {repo}",
        TRAINING: f"Training Graph on {repo}",
        UPLOADING: f"Uploading {repo}",
        ERROR: f"Error: {worker.message or 'unknown error'}",
        OFFLINE: "Offline",
    }.get(worker.state, worker.status)


def busiest(workers: Iterable[jobs_pb2.WorkerStatus]) -> jobs_pb2.WorkerStatus | None:
    """The worker whose state says most about the fleet (busy, then error, then idle;
    the first of equals), or None when none is up (all offline)."""
    return max(
        (w for w in workers if w.state != OFFLINE),
        key=lambda w: _RANK.get(w.state, 0),
        default=None,
    )


def is_offline(worker: jobs_pb2.WorkerStatus, at_seconds: float) -> bool:
    """Offline: it said so, or its heartbeat is over twice its interval (+10 s) old."""
    if worker.state == OFFLINE:
        return True
    interval = worker.heartbeat_interval_seconds or 30.0
    return at_seconds - worker.heartbeat_at.ToSeconds() > 2 * interval + 10


def stalled(
    record: jobs_pb2.JobRecord,
    worker: jobs_pb2.WorkerStatus | None,
    at_seconds: float,
    lease_seconds: float,
) -> str:
    """Why a running job is not moving, or "": its worker is offline (`is_offline`) or
    gone. A job is taken up again once its lease, renewed by each heartbeat, expires."""
    if record.status != jobs_pb2.JOB_STATUS_RUNNING or not record.worker_id:
        return ""
    if worker is not None and not is_offline(worker, at_seconds):
        return ""
    if worker is None:
        last = record.started_at.ToSeconds()
        what = f"worker {record.worker_id} is gone"
    else:
        last = worker.heartbeat_at.ToSeconds()
        what = f"worker {record.worker_id} offline since {_iso(last)}"
    retry = last + lease_seconds
    when = f"by {_iso(retry)}" if retry > at_seconds else "at the next poll of a coordinator"
    return f"{what}, will be retried {when}"


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def status_name(status: int) -> str:
    """`JOB_STATUS_COMPLETE` → `complete`: the word the REST API shows."""
    return JobStatus.Name(status).removeprefix("JOB_STATUS_").lower()


def now() -> Timestamp:
    ts = Timestamp()
    ts.GetCurrentTime()
    return ts


def to_datetime(ts: Timestamp) -> datetime | None:
    """A set Timestamp as an aware datetime, or None when unset."""
    if ts.seconds == 0 and ts.nanos == 0:
        return None
    return ts.ToDatetime(tzinfo=UTC)


def to_json(message: Message) -> str:
    return json_format.MessageToJson(
        message, preserving_proto_field_name=True, indent=None, sort_keys=True
    )


def from_json(text: str | bytes, message_type: type[M]) -> M:
    return json_format.Parse(text, message_type(), ignore_unknown_fields=True)


def to_dict(message: Message) -> dict[str, object]:
    """The REST shape: snake_case fields, zero values included."""
    return json_format.MessageToDict(
        message,
        preserving_proto_field_name=True,
        always_print_fields_with_no_presence=True,
    )
