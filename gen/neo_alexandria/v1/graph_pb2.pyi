import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Language(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    LANGUAGE_UNSPECIFIED: _ClassVar[Language]
    LANGUAGE_PYTHON: _ClassVar[Language]
    LANGUAGE_JAVASCRIPT: _ClassVar[Language]
    LANGUAGE_TYPESCRIPT: _ClassVar[Language]
    LANGUAGE_JAVA: _ClassVar[Language]
    LANGUAGE_GO: _ClassVar[Language]

class EdgeKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    EDGE_KIND_UNSPECIFIED: _ClassVar[EdgeKind]
    EDGE_KIND_IMPORT: _ClassVar[EdgeKind]
    EDGE_KIND_REQUIRE: _ClassVar[EdgeKind]
    EDGE_KIND_DYNAMIC: _ClassVar[EdgeKind]
    EDGE_KIND_REEXPORT: _ClassVar[EdgeKind]
    EDGE_KIND_TYPE_ONLY: _ClassVar[EdgeKind]
LANGUAGE_UNSPECIFIED: Language
LANGUAGE_PYTHON: Language
LANGUAGE_JAVASCRIPT: Language
LANGUAGE_TYPESCRIPT: Language
LANGUAGE_JAVA: Language
LANGUAGE_GO: Language
EDGE_KIND_UNSPECIFIED: EdgeKind
EDGE_KIND_IMPORT: EdgeKind
EDGE_KIND_REQUIRE: EdgeKind
EDGE_KIND_DYNAMIC: EdgeKind
EDGE_KIND_REEXPORT: EdgeKind
EDGE_KIND_TYPE_ONLY: EdgeKind

class FileNode(_message.Message):
    __slots__ = ("path", "language", "size_bytes", "terms")
    PATH_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    SIZE_BYTES_FIELD_NUMBER: _ClassVar[int]
    TERMS_FIELD_NUMBER: _ClassVar[int]
    path: str
    language: Language
    size_bytes: int
    terms: _containers.RepeatedCompositeFieldContainer[IdentifierTerm]
    def __init__(self, path: _Optional[str] = ..., language: _Optional[_Union[Language, str]] = ..., size_bytes: _Optional[int] = ..., terms: _Optional[_Iterable[_Union[IdentifierTerm, _Mapping]]] = ...) -> None: ...

class IdentifierTerm(_message.Message):
    __slots__ = ("token", "weight")
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    WEIGHT_FIELD_NUMBER: _ClassVar[int]
    token: str
    weight: float
    def __init__(self, token: _Optional[str] = ..., weight: _Optional[float] = ...) -> None: ...

class CoChange(_message.Message):
    __slots__ = ("source", "target", "weight", "commits", "last_changed")
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    TARGET_FIELD_NUMBER: _ClassVar[int]
    WEIGHT_FIELD_NUMBER: _ClassVar[int]
    COMMITS_FIELD_NUMBER: _ClassVar[int]
    LAST_CHANGED_FIELD_NUMBER: _ClassVar[int]
    source: int
    target: int
    weight: float
    commits: int
    last_changed: _timestamp_pb2.Timestamp
    def __init__(self, source: _Optional[int] = ..., target: _Optional[int] = ..., weight: _Optional[float] = ..., commits: _Optional[int] = ..., last_changed: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class DependencyEdge(_message.Message):
    __slots__ = ("source", "target", "kind")
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    TARGET_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    source: int
    target: int
    kind: EdgeKind
    def __init__(self, source: _Optional[int] = ..., target: _Optional[int] = ..., kind: _Optional[_Union[EdgeKind, str]] = ...) -> None: ...

class UnresolvedImport(_message.Message):
    __slots__ = ("source", "specifier")
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    SPECIFIER_FIELD_NUMBER: _ClassVar[int]
    source: int
    specifier: str
    def __init__(self, source: _Optional[int] = ..., specifier: _Optional[str] = ...) -> None: ...

class FileError(_message.Message):
    __slots__ = ("path", "error")
    PATH_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    path: str
    error: str
    def __init__(self, path: _Optional[str] = ..., error: _Optional[str] = ...) -> None: ...

class GraphStats(_message.Message):
    __slots__ = ("files_seen", "files_parsed", "files_skipped", "edges", "unresolved", "parse_seconds", "files_cached", "history_commits", "history_note")
    FILES_SEEN_FIELD_NUMBER: _ClassVar[int]
    FILES_PARSED_FIELD_NUMBER: _ClassVar[int]
    FILES_SKIPPED_FIELD_NUMBER: _ClassVar[int]
    EDGES_FIELD_NUMBER: _ClassVar[int]
    UNRESOLVED_FIELD_NUMBER: _ClassVar[int]
    PARSE_SECONDS_FIELD_NUMBER: _ClassVar[int]
    FILES_CACHED_FIELD_NUMBER: _ClassVar[int]
    HISTORY_COMMITS_FIELD_NUMBER: _ClassVar[int]
    HISTORY_NOTE_FIELD_NUMBER: _ClassVar[int]
    files_seen: int
    files_parsed: int
    files_skipped: int
    edges: int
    unresolved: int
    parse_seconds: float
    files_cached: int
    history_commits: int
    history_note: str
    def __init__(self, files_seen: _Optional[int] = ..., files_parsed: _Optional[int] = ..., files_skipped: _Optional[int] = ..., edges: _Optional[int] = ..., unresolved: _Optional[int] = ..., parse_seconds: _Optional[float] = ..., files_cached: _Optional[int] = ..., history_commits: _Optional[int] = ..., history_note: _Optional[str] = ...) -> None: ...

class GraphChunk(_message.Message):
    __slots__ = ("nodes", "edges", "unresolved", "errors", "cochanges")
    NODES_FIELD_NUMBER: _ClassVar[int]
    EDGES_FIELD_NUMBER: _ClassVar[int]
    UNRESOLVED_FIELD_NUMBER: _ClassVar[int]
    ERRORS_FIELD_NUMBER: _ClassVar[int]
    COCHANGES_FIELD_NUMBER: _ClassVar[int]
    nodes: _containers.RepeatedCompositeFieldContainer[FileNode]
    edges: _containers.RepeatedCompositeFieldContainer[DependencyEdge]
    unresolved: _containers.RepeatedCompositeFieldContainer[UnresolvedImport]
    errors: _containers.RepeatedCompositeFieldContainer[FileError]
    cochanges: _containers.RepeatedCompositeFieldContainer[CoChange]
    def __init__(self, nodes: _Optional[_Iterable[_Union[FileNode, _Mapping]]] = ..., edges: _Optional[_Iterable[_Union[DependencyEdge, _Mapping]]] = ..., unresolved: _Optional[_Iterable[_Union[UnresolvedImport, _Mapping]]] = ..., errors: _Optional[_Iterable[_Union[FileError, _Mapping]]] = ..., cochanges: _Optional[_Iterable[_Union[CoChange, _Mapping]]] = ...) -> None: ...
