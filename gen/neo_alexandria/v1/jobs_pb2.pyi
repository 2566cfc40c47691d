import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class JobStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    JOB_STATUS_UNSPECIFIED: _ClassVar[JobStatus]
    JOB_STATUS_QUEUED: _ClassVar[JobStatus]
    JOB_STATUS_RUNNING: _ClassVar[JobStatus]
    JOB_STATUS_COMPLETE: _ClassVar[JobStatus]
    JOB_STATUS_FAILED: _ClassVar[JobStatus]
    JOB_STATUS_SKIPPED: _ClassVar[JobStatus]
    JOB_STATUS_DEAD: _ClassVar[JobStatus]

class WorkerState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    WORKER_STATE_UNSPECIFIED: _ClassVar[WorkerState]
    WORKER_STATE_IDLE: _ClassVar[WorkerState]
    WORKER_STATE_PARSING: _ClassVar[WorkerState]
    WORKER_STATE_TRAINING: _ClassVar[WorkerState]
    WORKER_STATE_UPLOADING: _ClassVar[WorkerState]
    WORKER_STATE_ERROR: _ClassVar[WorkerState]
    WORKER_STATE_OFFLINE: _ClassVar[WorkerState]
JOB_STATUS_UNSPECIFIED: JobStatus
JOB_STATUS_QUEUED: JobStatus
JOB_STATUS_RUNNING: JobStatus
JOB_STATUS_COMPLETE: JobStatus
JOB_STATUS_FAILED: JobStatus
JOB_STATUS_SKIPPED: JobStatus
JOB_STATUS_DEAD: JobStatus
WORKER_STATE_UNSPECIFIED: WorkerState
WORKER_STATE_IDLE: WorkerState
WORKER_STATE_PARSING: WorkerState
WORKER_STATE_TRAINING: WorkerState
WORKER_STATE_UPLOADING: WorkerState
WORKER_STATE_ERROR: WorkerState
WORKER_STATE_OFFLINE: WorkerState

class QueuedTask(_message.Message):
    __slots__ = ("job_id", "repo_url", "submitted_at", "ttl_seconds", "request_id", "force")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    REPO_URL_FIELD_NUMBER: _ClassVar[int]
    SUBMITTED_AT_FIELD_NUMBER: _ClassVar[int]
    TTL_SECONDS_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    FORCE_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    repo_url: str
    submitted_at: _timestamp_pb2.Timestamp
    ttl_seconds: int
    request_id: str
    force: bool
    def __init__(self, job_id: _Optional[str] = ..., repo_url: _Optional[str] = ..., submitted_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., ttl_seconds: _Optional[int] = ..., request_id: _Optional[str] = ..., force: _Optional[bool] = ...) -> None: ...

class JobRecord(_message.Message):
    __slots__ = ("job_id", "repo_url", "status", "phase", "progress_percent", "submitted_at", "started_at", "finished_at", "duration_seconds", "files_processed", "embeddings_generated", "final_loss", "error", "commit", "worker_id", "attempts", "history", "unchanged", "phase_seconds", "warm_start")
    class PhaseSecondsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    REPO_URL_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    PHASE_FIELD_NUMBER: _ClassVar[int]
    PROGRESS_PERCENT_FIELD_NUMBER: _ClassVar[int]
    SUBMITTED_AT_FIELD_NUMBER: _ClassVar[int]
    STARTED_AT_FIELD_NUMBER: _ClassVar[int]
    FINISHED_AT_FIELD_NUMBER: _ClassVar[int]
    DURATION_SECONDS_FIELD_NUMBER: _ClassVar[int]
    FILES_PROCESSED_FIELD_NUMBER: _ClassVar[int]
    EMBEDDINGS_GENERATED_FIELD_NUMBER: _ClassVar[int]
    FINAL_LOSS_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    COMMIT_FIELD_NUMBER: _ClassVar[int]
    WORKER_ID_FIELD_NUMBER: _ClassVar[int]
    ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    HISTORY_FIELD_NUMBER: _ClassVar[int]
    UNCHANGED_FIELD_NUMBER: _ClassVar[int]
    PHASE_SECONDS_FIELD_NUMBER: _ClassVar[int]
    WARM_START_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    repo_url: str
    status: JobStatus
    phase: str
    progress_percent: float
    submitted_at: _timestamp_pb2.Timestamp
    started_at: _timestamp_pb2.Timestamp
    finished_at: _timestamp_pb2.Timestamp
    duration_seconds: float
    files_processed: int
    embeddings_generated: int
    final_loss: float
    error: str
    commit: str
    worker_id: str
    attempts: int
    history: str
    unchanged: bool
    phase_seconds: _containers.ScalarMap[str, float]
    warm_start: bool
    def __init__(self, job_id: _Optional[str] = ..., repo_url: _Optional[str] = ..., status: _Optional[_Union[JobStatus, str]] = ..., phase: _Optional[str] = ..., progress_percent: _Optional[float] = ..., submitted_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., started_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., finished_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., duration_seconds: _Optional[float] = ..., files_processed: _Optional[int] = ..., embeddings_generated: _Optional[int] = ..., final_loss: _Optional[float] = ..., error: _Optional[str] = ..., commit: _Optional[str] = ..., worker_id: _Optional[str] = ..., attempts: _Optional[int] = ..., history: _Optional[str] = ..., unchanged: _Optional[bool] = ..., phase_seconds: _Optional[_Mapping[str, float]] = ..., warm_start: _Optional[bool] = ...) -> None: ...

class WorkerStatus(_message.Message):
    __slots__ = ("worker_id", "status", "heartbeat_at", "job_id", "device", "heartbeat_interval_seconds", "state", "repo_url", "message")
    WORKER_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    HEARTBEAT_AT_FIELD_NUMBER: _ClassVar[int]
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    DEVICE_FIELD_NUMBER: _ClassVar[int]
    HEARTBEAT_INTERVAL_SECONDS_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    REPO_URL_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    worker_id: str
    status: str
    heartbeat_at: _timestamp_pb2.Timestamp
    job_id: str
    device: str
    heartbeat_interval_seconds: float
    state: WorkerState
    repo_url: str
    message: str
    def __init__(self, worker_id: _Optional[str] = ..., status: _Optional[str] = ..., heartbeat_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., job_id: _Optional[str] = ..., device: _Optional[str] = ..., heartbeat_interval_seconds: _Optional[float] = ..., state: _Optional[_Union[WorkerState, str]] = ..., repo_url: _Optional[str] = ..., message: _Optional[str] = ...) -> None: ...
