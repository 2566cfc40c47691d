"""Job records and worker status as protobuf messages, with their JSON form in Redis."""

from __future__ import annotations

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

IDLE = "Idle"
OFFLINE = "Offline"


def training_status(repo_url: str) -> str:
    """The worker status string while a job runs (R9.1)."""
    return f"Training Graph on {repo_url}"


def error_status(message: str) -> str:
    """The worker status string after a failed job (R9.1), on one line."""
    return f"Error: {' '.join(message.split()) or 'unknown error'}"


def is_offline(worker: jobs_pb2.WorkerStatus, at_seconds: float) -> bool:
    """Offline: it said so, or its heartbeat is over twice its interval (+10 s) old."""
    if worker.status == OFFLINE:
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
