from neo_alexandria.v1 import graph_pb2 as _graph_pb2
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ParseRepositoryRequest(_message.Message):
    __slots__ = ("repo_url", "job_id", "unless_commit")
    REPO_URL_FIELD_NUMBER: _ClassVar[int]
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    UNLESS_COMMIT_FIELD_NUMBER: _ClassVar[int]
    repo_url: str
    job_id: str
    unless_commit: str
    def __init__(self, repo_url: _Optional[str] = ..., job_id: _Optional[str] = ..., unless_commit: _Optional[str] = ...) -> None: ...

class ParseProgress(_message.Message):
    __slots__ = ("phase", "files_done", "files_total")
    PHASE_FIELD_NUMBER: _ClassVar[int]
    FILES_DONE_FIELD_NUMBER: _ClassVar[int]
    FILES_TOTAL_FIELD_NUMBER: _ClassVar[int]
    phase: str
    files_done: int
    files_total: int
    def __init__(self, phase: _Optional[str] = ..., files_done: _Optional[int] = ..., files_total: _Optional[int] = ...) -> None: ...

class ParseSummary(_message.Message):
    __slots__ = ("repo_url", "commit", "stats", "unchanged")
    REPO_URL_FIELD_NUMBER: _ClassVar[int]
    COMMIT_FIELD_NUMBER: _ClassVar[int]
    STATS_FIELD_NUMBER: _ClassVar[int]
    UNCHANGED_FIELD_NUMBER: _ClassVar[int]
    repo_url: str
    commit: str
    stats: _graph_pb2.GraphStats
    unchanged: bool
    def __init__(self, repo_url: _Optional[str] = ..., commit: _Optional[str] = ..., stats: _Optional[_Union[_graph_pb2.GraphStats, _Mapping]] = ..., unchanged: _Optional[bool] = ...) -> None: ...

class ParseRepositoryResponse(_message.Message):
    __slots__ = ("progress", "chunk", "summary")
    PROGRESS_FIELD_NUMBER: _ClassVar[int]
    CHUNK_FIELD_NUMBER: _ClassVar[int]
    SUMMARY_FIELD_NUMBER: _ClassVar[int]
    progress: ParseProgress
    chunk: _graph_pb2.GraphChunk
    summary: ParseSummary
    def __init__(self, progress: _Optional[_Union[ParseProgress, _Mapping]] = ..., chunk: _Optional[_Union[_graph_pb2.GraphChunk, _Mapping]] = ..., summary: _Optional[_Union[ParseSummary, _Mapping]] = ...) -> None: ...
