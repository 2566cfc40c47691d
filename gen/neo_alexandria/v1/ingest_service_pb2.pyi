import datetime

from google.api import annotations_pb2 as _annotations_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from neo_alexandria.v1 import graph_pb2 as _graph_pb2
from neo_alexandria.v1 import jobs_pb2 as _jobs_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ImportRelation(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    IMPORT_RELATION_UNSPECIFIED: _ClassVar[ImportRelation]
    IMPORT_RELATION_NONE: _ClassVar[ImportRelation]
    IMPORT_RELATION_IMPORTS: _ClassVar[ImportRelation]
    IMPORT_RELATION_IMPORTED_BY: _ClassVar[ImportRelation]
    IMPORT_RELATION_BOTH: _ClassVar[ImportRelation]
IMPORT_RELATION_UNSPECIFIED: ImportRelation
IMPORT_RELATION_NONE: ImportRelation
IMPORT_RELATION_IMPORTS: ImportRelation
IMPORT_RELATION_IMPORTED_BY: ImportRelation
IMPORT_RELATION_BOTH: ImportRelation

class IngestRepositoryRequest(_message.Message):
    __slots__ = ("repo_url",)
    REPO_URL_FIELD_NUMBER: _ClassVar[int]
    repo_url: str
    def __init__(self, repo_url: _Optional[str] = ...) -> None: ...

class IngestRepositoryResponse(_message.Message):
    __slots__ = ("job_id", "queue_position", "queue_size", "max_queue_size", "status", "repo_url")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    QUEUE_POSITION_FIELD_NUMBER: _ClassVar[int]
    QUEUE_SIZE_FIELD_NUMBER: _ClassVar[int]
    MAX_QUEUE_SIZE_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    REPO_URL_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    queue_position: int
    queue_size: int
    max_queue_size: int
    status: str
    repo_url: str
    def __init__(self, job_id: _Optional[str] = ..., queue_position: _Optional[int] = ..., queue_size: _Optional[int] = ..., max_queue_size: _Optional[int] = ..., status: _Optional[str] = ..., repo_url: _Optional[str] = ...) -> None: ...

class GetJobRequest(_message.Message):
    __slots__ = ("job_id",)
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    def __init__(self, job_id: _Optional[str] = ...) -> None: ...

class GetJobResponse(_message.Message):
    __slots__ = ("job",)
    JOB_FIELD_NUMBER: _ClassVar[int]
    job: _jobs_pb2.JobRecord
    def __init__(self, job: _Optional[_Union[_jobs_pb2.JobRecord, _Mapping]] = ...) -> None: ...

class ListJobHistoryRequest(_message.Message):
    __slots__ = ("limit",)
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    limit: int
    def __init__(self, limit: _Optional[int] = ...) -> None: ...

class ListJobHistoryResponse(_message.Message):
    __slots__ = ("jobs",)
    JOBS_FIELD_NUMBER: _ClassVar[int]
    jobs: _containers.RepeatedCompositeFieldContainer[_jobs_pb2.JobRecord]
    def __init__(self, jobs: _Optional[_Iterable[_Union[_jobs_pb2.JobRecord, _Mapping]]] = ...) -> None: ...

class GetWorkerStatusRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetWorkerStatusResponse(_message.Message):
    __slots__ = ("status", "workers", "state")
    STATUS_FIELD_NUMBER: _ClassVar[int]
    WORKERS_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    status: str
    workers: _containers.RepeatedCompositeFieldContainer[_jobs_pb2.WorkerStatus]
    state: _jobs_pb2.WorkerState
    def __init__(self, status: _Optional[str] = ..., workers: _Optional[_Iterable[_Union[_jobs_pb2.WorkerStatus, _Mapping]]] = ..., state: _Optional[_Union[_jobs_pb2.WorkerState, str]] = ...) -> None: ...

class ListRepositoriesRequest(_message.Message):
    __slots__ = ("limit",)
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    limit: int
    def __init__(self, limit: _Optional[int] = ...) -> None: ...

class RepositorySummary(_message.Message):
    __slots__ = ("repo_url", "last_commit", "last_job_id", "file_count", "updated_at")
    REPO_URL_FIELD_NUMBER: _ClassVar[int]
    LAST_COMMIT_FIELD_NUMBER: _ClassVar[int]
    LAST_JOB_ID_FIELD_NUMBER: _ClassVar[int]
    FILE_COUNT_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    repo_url: str
    last_commit: str
    last_job_id: str
    file_count: int
    updated_at: _timestamp_pb2.Timestamp
    def __init__(self, repo_url: _Optional[str] = ..., last_commit: _Optional[str] = ..., last_job_id: _Optional[str] = ..., file_count: _Optional[int] = ..., updated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ListRepositoriesResponse(_message.Message):
    __slots__ = ("repositories",)
    REPOSITORIES_FIELD_NUMBER: _ClassVar[int]
    repositories: _containers.RepeatedCompositeFieldContainer[RepositorySummary]
    def __init__(self, repositories: _Optional[_Iterable[_Union[RepositorySummary, _Mapping]]] = ...) -> None: ...

class FindSimilarFilesRequest(_message.Message):
    __slots__ = ("repo_url", "file_path", "limit", "same_repo", "mode")
    REPO_URL_FIELD_NUMBER: _ClassVar[int]
    FILE_PATH_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    SAME_REPO_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    repo_url: str
    file_path: str
    limit: int
    same_repo: bool
    mode: str
    def __init__(self, repo_url: _Optional[str] = ..., file_path: _Optional[str] = ..., limit: _Optional[int] = ..., same_repo: _Optional[bool] = ..., mode: _Optional[str] = ...) -> None: ...

class SimilarityReasons(_message.Message):
    __slots__ = ("structure", "text", "shared_identifiers", "commits_together", "last_changed_together", "import_relation", "same_directory", "history", "same_name")
    STRUCTURE_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    SHARED_IDENTIFIERS_FIELD_NUMBER: _ClassVar[int]
    COMMITS_TOGETHER_FIELD_NUMBER: _ClassVar[int]
    LAST_CHANGED_TOGETHER_FIELD_NUMBER: _ClassVar[int]
    IMPORT_RELATION_FIELD_NUMBER: _ClassVar[int]
    SAME_DIRECTORY_FIELD_NUMBER: _ClassVar[int]
    HISTORY_FIELD_NUMBER: _ClassVar[int]
    SAME_NAME_FIELD_NUMBER: _ClassVar[int]
    structure: float
    text: float
    shared_identifiers: _containers.RepeatedScalarFieldContainer[str]
    commits_together: int
    last_changed_together: _timestamp_pb2.Timestamp
    import_relation: ImportRelation
    same_directory: bool
    history: float
    same_name: bool
    def __init__(self, structure: _Optional[float] = ..., text: _Optional[float] = ..., shared_identifiers: _Optional[_Iterable[str]] = ..., commits_together: _Optional[int] = ..., last_changed_together: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., import_relation: _Optional[_Union[ImportRelation, str]] = ..., same_directory: _Optional[bool] = ..., history: _Optional[float] = ..., same_name: _Optional[bool] = ...) -> None: ...

class SimilarFile(_message.Message):
    __slots__ = ("repo_url", "file_path", "language", "score", "reasons")
    REPO_URL_FIELD_NUMBER: _ClassVar[int]
    FILE_PATH_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    REASONS_FIELD_NUMBER: _ClassVar[int]
    repo_url: str
    file_path: str
    language: _graph_pb2.Language
    score: float
    reasons: SimilarityReasons
    def __init__(self, repo_url: _Optional[str] = ..., file_path: _Optional[str] = ..., language: _Optional[_Union[_graph_pb2.Language, str]] = ..., score: _Optional[float] = ..., reasons: _Optional[_Union[SimilarityReasons, _Mapping]] = ...) -> None: ...

class FindSimilarFilesResponse(_message.Message):
    __slots__ = ("repo_url", "file_path", "results", "mode", "history")
    REPO_URL_FIELD_NUMBER: _ClassVar[int]
    FILE_PATH_FIELD_NUMBER: _ClassVar[int]
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    HISTORY_FIELD_NUMBER: _ClassVar[int]
    repo_url: str
    file_path: str
    results: _containers.RepeatedCompositeFieldContainer[SimilarFile]
    mode: str
    history: str
    def __init__(self, repo_url: _Optional[str] = ..., file_path: _Optional[str] = ..., results: _Optional[_Iterable[_Union[SimilarFile, _Mapping]]] = ..., mode: _Optional[str] = ..., history: _Optional[str] = ...) -> None: ...

class SearchFilesRequest(_message.Message):
    __slots__ = ("repo_url", "q", "limit")
    REPO_URL_FIELD_NUMBER: _ClassVar[int]
    Q_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    repo_url: str
    q: str
    limit: int
    def __init__(self, repo_url: _Optional[str] = ..., q: _Optional[str] = ..., limit: _Optional[int] = ...) -> None: ...

class SearchFilesResponse(_message.Message):
    __slots__ = ("repo_url", "q", "results")
    REPO_URL_FIELD_NUMBER: _ClassVar[int]
    Q_FIELD_NUMBER: _ClassVar[int]
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    repo_url: str
    q: str
    results: _containers.RepeatedCompositeFieldContainer[SimilarFile]
    def __init__(self, repo_url: _Optional[str] = ..., q: _Optional[str] = ..., results: _Optional[_Iterable[_Union[SimilarFile, _Mapping]]] = ...) -> None: ...

class ListRepositoryFilesRequest(_message.Message):
    __slots__ = ("repo_url", "limit")
    REPO_URL_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    repo_url: str
    limit: int
    def __init__(self, repo_url: _Optional[str] = ..., limit: _Optional[int] = ...) -> None: ...

class RepositoryFile(_message.Message):
    __slots__ = ("file_path", "language", "vector", "imports")
    FILE_PATH_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    VECTOR_FIELD_NUMBER: _ClassVar[int]
    IMPORTS_FIELD_NUMBER: _ClassVar[int]
    file_path: str
    language: _graph_pb2.Language
    vector: _containers.RepeatedScalarFieldContainer[float]
    imports: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, file_path: _Optional[str] = ..., language: _Optional[_Union[_graph_pb2.Language, str]] = ..., vector: _Optional[_Iterable[float]] = ..., imports: _Optional[_Iterable[str]] = ...) -> None: ...

class ListRepositoryFilesResponse(_message.Message):
    __slots__ = ("repo_url", "commit", "files", "truncated")
    REPO_URL_FIELD_NUMBER: _ClassVar[int]
    COMMIT_FIELD_NUMBER: _ClassVar[int]
    FILES_FIELD_NUMBER: _ClassVar[int]
    TRUNCATED_FIELD_NUMBER: _ClassVar[int]
    repo_url: str
    commit: str
    files: _containers.RepeatedCompositeFieldContainer[RepositoryFile]
    truncated: bool
    def __init__(self, repo_url: _Optional[str] = ..., commit: _Optional[str] = ..., files: _Optional[_Iterable[_Union[RepositoryFile, _Mapping]]] = ..., truncated: _Optional[bool] = ...) -> None: ...
