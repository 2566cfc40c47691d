"""The REST shapes (the JSON form of IngestService's messages) with OpenAPI examples,
and the documented error responses of each route."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

JobStatusName = Literal["queued", "running", "complete", "failed", "skipped", "dead"]
WorkerStateName = Literal[
    "unspecified", "idle", "parsing", "training", "uploading", "error", "offline"
]
REPO = "https://github.com/psf/requests"
JOB_ID = "3f9c2a7e5b1d4c8f9a0e6b2d7c4f1a35"


def _examples(*examples: dict[str, Any]) -> ConfigDict:
    return ConfigDict(json_schema_extra={"examples": list(examples)})


class ErrorBody(BaseModel):
    """Every error: a machine-readable code and a human-readable detail."""

    model_config = _examples({"error": "invalid_repo_url", "detail": "ports are not accepted"})
    error: str
    detail: Any


class IngestAccepted(BaseModel):
    model_config = _examples(
        {
            "job_id": JOB_ID,
            "queue_position": 2,
            "queue_size": 2,
            "max_queue_size": 10,
            "status": "queued",
            "repo_url": REPO,
        }
    )
    job_id: str
    queue_position: int = Field(description="jobs ahead of and including this one")
    queue_size: int = Field(description="pending jobs: queued + in flight")
    max_queue_size: int
    status: JobStatusName = Field(description="'queued', or a retried request's job's status")
    repo_url: str = Field(description="the canonical URL queued")


class Job(BaseModel):
    model_config = _examples(
        {
            "job_id": JOB_ID,
            "repo_url": REPO,
            "status": "running",
            "phase": "train",
            "progress_percent": 62.5,
            "submitted_at": "2026-11-26T08:00:00Z",
            "started_at": "2026-11-26T08:00:02Z",
            "duration_seconds": 0.0,
            "files_processed": 0,
            "embeddings_generated": 0,
            "final_loss": 0.0,
            "error": "",
            "commit": "",
            "worker_id": "edge-1-4242-a1b2c3",
            "attempts": 1,
            "history": "",
            "phase_seconds": {},
            "stalled": "",
            "unchanged": False,
            "warm_start": False,
        }
    )
    job_id: str
    repo_url: str
    status: JobStatusName
    phase: str = Field(description="queued, parse, train, upload, done, unchanged, skipped or dead")
    progress_percent: float
    submitted_at: datetime | None = None
    started_at: datetime | None = Field(
        default=None, description="when a coordinator first took it (a retry keeps it)"
    )
    finished_at: datetime | None = None
    duration_seconds: float = Field(
        description="from started_at to the end: every attempt and the waits between them "
        "(so far, while a failed attempt waits to be retried)"
    )
    files_processed: int
    embeddings_generated: int
    final_loss: float
    error: str
    commit: str
    worker_id: str
    attempts: int
    history: str = Field(
        default="",
        description="set on completion: what the repository's history gave the related-files "
        "ranking, e.g. '2000 commits', or why there is none ('no history: ...')",
    )
    phase_seconds: dict[str, float] = Field(
        default_factory=dict,
        description="set on completion: how long each phase took, in seconds (parse, train, "
        "candidates, upload; an unchanged job has parse only)",
    )
    stalled: str = Field(
        default="",
        description="set while a running job's worker is offline or gone: since when, and "
        "when the job will be taken up again; empty otherwise",
    )
    unchanged: bool = Field(
        default=False,
        description="complete without writing anything: the commit was already indexed with "
        "the same code and parameters (queue it with force=true to redo it)",
    )
    warm_start: bool = Field(
        default=False,
        description="set on completion: the training started from the vectors of the "
        "repository's previous index, as for a commit that kept most of its files",
    )


class JobResponse(BaseModel):
    job: Job


class JobHistory(BaseModel):
    jobs: list[Job] = Field(description="newest first, at most 100")


class Worker(BaseModel):
    worker_id: str
    state: WorkerStateName = Field(
        description="what the worker is doing: idle; parsing, training or uploading "
        "`repo_url`; error (idle, its last job failed: `message`); offline (stopped, or its "
        "heartbeat too old); unspecified (a worker older than the state: read `status`)"
    )
    repo_url: str = Field(
        description="the repository of the job in hand, or of the job that failed; empty otherwise"
    )
    message: str = Field(description="why the last job failed (state error); empty otherwise")
    status: str = Field(
        description="the state as text for people (programs read `state`): 'Idle', "
        "'Parsing {repo}', 'Training Graph on {repo}', 'Uploading {repo}', "
        "'Error: {message}' or 'Offline'"
    )
    heartbeat_at: datetime | None = None
    heartbeat_age_seconds: float
    heartbeat_interval_seconds: float
    job_id: str
    device: str


class WorkerStatuses(BaseModel):
    model_config = _examples(
        {
            "status": f"Training Graph on {REPO}",
            "state": "training",
            "workers": [
                {
                    "worker_id": "edge-1-4242-a1b2c3",
                    "state": "training",
                    "repo_url": REPO,
                    "message": "",
                    "status": f"Training Graph on {REPO}",
                    "heartbeat_at": "2026-11-26T08:00:14Z",
                    "heartbeat_age_seconds": 3.2,
                    "heartbeat_interval_seconds": 60.0,
                    "job_id": JOB_ID,
                    "device": "",
                }
            ],
        }
    )
    state: WorkerStateName = Field(
        description="the busiest worker's state (parsing, training or uploading before "
        "error before idle), or offline when none is up"
    )
    status: str = Field(
        description="the busiest worker's `status` text, or 'Offline' when none is up"
    )
    workers: list[Worker]


class RepositorySummary(BaseModel):
    repo_url: str
    last_commit: str
    last_job_id: str
    file_count: int
    updated_at: datetime | None = None


class Repositories(BaseModel):
    model_config = _examples(
        {
            "repositories": [
                {
                    "repo_url": REPO,
                    "last_commit": "0e322af87745eff34caffe4df68456ebc20d9068",
                    "last_job_id": JOB_ID,
                    "file_count": 36,
                    "updated_at": "2026-11-26T08:01:10Z",
                }
            ]
        }
    )
    repositories: list[RepositorySummary] = Field(description="most recently ingested first")


class SimilarityReasons(BaseModel):
    """Why a file is in a ranking: every signal's evidence, whatever the mode."""

    structure: float = Field(description="cosine similarity of the structural embeddings")
    text: float = Field(description="identifier similarity (cosine of the tf-idf vectors)")
    shared_identifiers: list[str] = Field(
        description="the queried file's strongest identifier tokens the result has too "
        "(at most 5); for a search, the query words the result's identifiers match"
    )
    commits_together: int = Field(description="past commits that changed both files")
    last_changed_together: datetime | None = Field(
        description="the newest such commit's time (UTC), null when none"
    )
    import_relation: Literal["none", "imports", "imported_by", "both"] = Field(
        description="imports: the queried file imports the result; imported_by: the result "
        "imports the queried file"
    )
    same_directory: bool
    history: float = Field(
        description="logical coupling: the sum of 1 / (files changed - 1) over the past "
        "commits that changed both files"
    )
    same_name: bool = Field(
        description="the file names share a stem once test affixes are removed "
        "(client.go and client_test.go)"
    )


class SimilarFile(BaseModel):
    repo_url: str
    file_path: str
    language: str
    score: float = Field(
        description="ranks the results: the mode's signal, or the fused score in hybrid mode"
    )
    reasons: SimilarityReasons


_REASONS = {
    "structure": 0.83125,
    "text": 0.41742,
    "shared_identifiers": ["adapter", "session", "mount", "proxies", "send"],
    "commits_together": 12,
    "last_changed_together": "2026-10-02T14:11:53Z",
    "import_relation": "imports",
    "same_directory": True,
    "history": 3.516667,
    "same_name": False,
}


class SimilarFiles(BaseModel):
    model_config = _examples(
        {
            "repo_url": REPO,
            "file_path": "src/requests/sessions.py",
            "mode": "hybrid",
            "history": "2000 commits",
            "results": [
                {
                    "repo_url": REPO,
                    "file_path": "src/requests/adapters.py",
                    "language": "python",
                    "score": 0.912,
                    "reasons": _REASONS,
                }
            ],
        }
    )
    repo_url: str
    file_path: str
    mode: Literal["hybrid", "structure", "text", "history"] = Field(description="the ranking used")
    history: str = Field(
        description="whether the repository's history was read, e.g. '2000 commits', or why "
        "not ('no history: …')"
    )
    results: list[SimilarFile] = Field(description="best first, never the queried file")


class SearchResults(BaseModel):
    model_config = _examples(
        {
            "repo_url": REPO,
            "q": "mountAdapter",
            "results": [
                {
                    "repo_url": REPO,
                    "file_path": "src/requests/sessions.py",
                    "language": "python",
                    "score": 0.684211,
                    "reasons": {
                        "structure": 1.0,
                        "text": 0.684211,
                        "shared_identifiers": ["mount", "adapter"],
                        "commits_together": 0,
                        "last_changed_together": None,
                        "import_relation": "none",
                        "same_directory": False,
                        "history": 0.0,
                        "same_name": False,
                    },
                }
            ],
        }
    )
    repo_url: str
    q: str = Field(description="the text as given")
    results: list[SimilarFile] = Field(
        description="best first: by identifier match, ties by structure (the cosine to the "
        "best match's embedding, given as reasons.structure)"
    )


class RepositoryFile(BaseModel):
    file_path: str
    language: str
    vector: list[float] = Field(description="the 64-d structural embedding (unit length)")
    imports: list[str] = Field(description="paths of the repository's files this one imports")


class RepositoryFiles(BaseModel):
    model_config = _examples(
        {
            "repo_url": REPO,
            "commit": "0e322af87745eff34caffe4df68456ebc20d9068",
            "files": [
                {
                    "file_path": "src/requests/sessions.py",
                    "language": "python",
                    "vector": [0.125] * 64,
                    "imports": ["src/requests/adapters.py", "src/requests/models.py"],
                }
            ],
            "truncated": False,
        }
    )
    repo_url: str
    commit: str = Field(description="the commit the files were embedded at")
    files: list[RepositoryFile] = Field(description="sorted by path")
    truncated: bool = Field(description="true when the repository has more files than `limit`")


class Health(BaseModel):
    model_config = _examples(
        {"status": "ok", "checks": {"redis": "ok", "database": "ok", "qdrant": "ok"}}
    )
    status: Literal["ok", "degraded"]
    checks: dict[str, str]
    error: str | None = None
    detail: str | None = None


_ERROR_TEXT = {
    400: "Malformed or hostile input (nothing was queued)",
    401: "No valid Bearer token",
    404: "Not found",
    413: "Request body too large",
    414: "Request path too long",
    422: "Invalid parameters",
    429: "Over this client's rate limit; retry after the Retry-After seconds",
    503: "A dependency (queue, metadata DB or Qdrant) is unavailable",
}


def errors(*codes: int, texts: Mapping[int, str] | None = None) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` for these error codes, all with the `ErrorBody` shape; `texts`
    replaces a code's usual description."""
    texts = texts or {}
    return {
        code: {"model": ErrorBody, "description": texts.get(code, _ERROR_TEXT[code])}
        for code in codes
    }
