from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Device(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DEVICE_UNSPECIFIED: _ClassVar[Device]
    DEVICE_AUTO: _ClassVar[Device]
    DEVICE_CPU: _ClassVar[Device]
    DEVICE_CUDA: _ClassVar[Device]
DEVICE_UNSPECIFIED: Device
DEVICE_AUTO: Device
DEVICE_CPU: Device
DEVICE_CUDA: Device

class TrainParameters(_message.Message):
    __slots__ = ("num_nodes", "embedding_dim", "walk_length", "context_size", "walks_per_node", "epochs", "p", "q", "seed", "device", "job_id")
    NUM_NODES_FIELD_NUMBER: _ClassVar[int]
    EMBEDDING_DIM_FIELD_NUMBER: _ClassVar[int]
    WALK_LENGTH_FIELD_NUMBER: _ClassVar[int]
    CONTEXT_SIZE_FIELD_NUMBER: _ClassVar[int]
    WALKS_PER_NODE_FIELD_NUMBER: _ClassVar[int]
    EPOCHS_FIELD_NUMBER: _ClassVar[int]
    P_FIELD_NUMBER: _ClassVar[int]
    Q_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    DEVICE_FIELD_NUMBER: _ClassVar[int]
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    num_nodes: int
    embedding_dim: int
    walk_length: int
    context_size: int
    walks_per_node: int
    epochs: int
    p: float
    q: float
    seed: int
    device: Device
    job_id: str
    def __init__(self, num_nodes: _Optional[int] = ..., embedding_dim: _Optional[int] = ..., walk_length: _Optional[int] = ..., context_size: _Optional[int] = ..., walks_per_node: _Optional[int] = ..., epochs: _Optional[int] = ..., p: _Optional[float] = ..., q: _Optional[float] = ..., seed: _Optional[int] = ..., device: _Optional[_Union[Device, str]] = ..., job_id: _Optional[str] = ...) -> None: ...

class EdgeChunk(_message.Message):
    __slots__ = ("sources", "targets")
    SOURCES_FIELD_NUMBER: _ClassVar[int]
    TARGETS_FIELD_NUMBER: _ClassVar[int]
    sources: _containers.RepeatedScalarFieldContainer[int]
    targets: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, sources: _Optional[_Iterable[int]] = ..., targets: _Optional[_Iterable[int]] = ...) -> None: ...

class InitialVectors(_message.Message):
    __slots__ = ("nodes", "dimensions", "values")
    NODES_FIELD_NUMBER: _ClassVar[int]
    DIMENSIONS_FIELD_NUMBER: _ClassVar[int]
    VALUES_FIELD_NUMBER: _ClassVar[int]
    nodes: _containers.RepeatedScalarFieldContainer[int]
    dimensions: int
    values: _containers.RepeatedScalarFieldContainer[float]
    def __init__(self, nodes: _Optional[_Iterable[int]] = ..., dimensions: _Optional[int] = ..., values: _Optional[_Iterable[float]] = ...) -> None: ...

class TrainRequest(_message.Message):
    __slots__ = ("parameters", "edges", "initial")
    PARAMETERS_FIELD_NUMBER: _ClassVar[int]
    EDGES_FIELD_NUMBER: _ClassVar[int]
    INITIAL_FIELD_NUMBER: _ClassVar[int]
    parameters: TrainParameters
    edges: EdgeChunk
    initial: InitialVectors
    def __init__(self, parameters: _Optional[_Union[TrainParameters, _Mapping]] = ..., edges: _Optional[_Union[EdgeChunk, _Mapping]] = ..., initial: _Optional[_Union[InitialVectors, _Mapping]] = ...) -> None: ...

class TrainProgress(_message.Message):
    __slots__ = ("epoch", "epochs", "loss", "walks_per_second", "eta_seconds")
    EPOCH_FIELD_NUMBER: _ClassVar[int]
    EPOCHS_FIELD_NUMBER: _ClassVar[int]
    LOSS_FIELD_NUMBER: _ClassVar[int]
    WALKS_PER_SECOND_FIELD_NUMBER: _ClassVar[int]
    ETA_SECONDS_FIELD_NUMBER: _ClassVar[int]
    epoch: int
    epochs: int
    loss: float
    walks_per_second: float
    eta_seconds: float
    def __init__(self, epoch: _Optional[int] = ..., epochs: _Optional[int] = ..., loss: _Optional[float] = ..., walks_per_second: _Optional[float] = ..., eta_seconds: _Optional[float] = ...) -> None: ...

class EmbeddingChunk(_message.Message):
    __slots__ = ("start_node", "dimensions", "values")
    START_NODE_FIELD_NUMBER: _ClassVar[int]
    DIMENSIONS_FIELD_NUMBER: _ClassVar[int]
    VALUES_FIELD_NUMBER: _ClassVar[int]
    start_node: int
    dimensions: int
    values: _containers.RepeatedScalarFieldContainer[float]
    def __init__(self, start_node: _Optional[int] = ..., dimensions: _Optional[int] = ..., values: _Optional[_Iterable[float]] = ...) -> None: ...

class TrainSummary(_message.Message):
    __slots__ = ("final_loss", "device", "seconds", "num_nodes")
    FINAL_LOSS_FIELD_NUMBER: _ClassVar[int]
    DEVICE_FIELD_NUMBER: _ClassVar[int]
    SECONDS_FIELD_NUMBER: _ClassVar[int]
    NUM_NODES_FIELD_NUMBER: _ClassVar[int]
    final_loss: float
    device: str
    seconds: float
    num_nodes: int
    def __init__(self, final_loss: _Optional[float] = ..., device: _Optional[str] = ..., seconds: _Optional[float] = ..., num_nodes: _Optional[int] = ...) -> None: ...

class TrainResponse(_message.Message):
    __slots__ = ("progress", "embeddings", "summary")
    PROGRESS_FIELD_NUMBER: _ClassVar[int]
    EMBEDDINGS_FIELD_NUMBER: _ClassVar[int]
    SUMMARY_FIELD_NUMBER: _ClassVar[int]
    progress: TrainProgress
    embeddings: EmbeddingChunk
    summary: TrainSummary
    def __init__(self, progress: _Optional[_Union[TrainProgress, _Mapping]] = ..., embeddings: _Optional[_Union[EmbeddingChunk, _Mapping]] = ..., summary: _Optional[_Union[TrainSummary, _Mapping]] = ...) -> None: ...
