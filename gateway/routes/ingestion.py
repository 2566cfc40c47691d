"""Ingestion routes: queue a repository, read jobs, history and worker status (R2, R9)."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Mapping
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi import Path as PathParam
from starlette.convertors import PathConvertor, register_url_convertor

from gateway.auth import require_admin, require_reader
from gateway.errors import ApiError
from gateway.rate_limit import limit_ingest, limit_reads
from gateway.schemas import IngestAccepted, JobHistory, JobResponse, WorkerStatuses, errors
from gateway.validation import canonical_repo_url
from neo_alexandria.v1 import ingest_service_pb2, jobs_pb2
from services.common import jobs, logs
from services.common.config import Settings
from services.common.queue import JobQueue, QueueFull


class AnyPathConvertor(PathConvertor):
    """Like `path`, but also matches control characters (newlines included), so a
    hostile URL reaches validation and gets its 400 instead of a routing 404."""

    regex = r"[\s\S]*"


register_url_convertor("anypath", AnyPathConvertor())

log = logging.getLogger(__name__)
router = APIRouter(prefix="/api/v1/ingestion", tags=["ingestion"])

IDEMPOTENCY_NAMESPACE = uuid.UUID("5d1f3f2e-8c1b-4c55-9a51-0b8f6a0c2d17")
MAX_IDEMPOTENCY_KEY = 255
INGEST_429 = {
    429: "Over this client's rate limit, or the queue is full; retry after the Retry-After seconds"
}


def _queue(request: Request) -> JobQueue:
    return request.app.state.queue


Queue = Annotated[JobQueue, Depends(_queue)]


def _job_view(
    record: jobs_pb2.JobRecord, workers: Mapping[str, jobs_pb2.WorkerStatus], lease: float
) -> dict[str, Any]:
    view = jobs.to_dict(record)
    view["status"] = jobs.status_name(record.status)
    view["stalled"] = jobs.stalled(record, workers.get(record.worker_id), time.time(), lease)
    return view


async def _workers(queue: JobQueue, settings: Settings) -> dict[str, jobs_pb2.WorkerStatus]:
    """The workers by id, after forgetting those offline for `ALEXANDRIA_WORKER_FORGET_SECONDS`."""
    now, kept, forgotten = time.time(), {}, []
    for worker in await queue.workers():
        gone_for = now - worker.heartbeat_at.ToSeconds()
        if jobs.is_offline(worker, now) and gone_for > settings.worker_forget_seconds:
            forgotten.append(worker.worker_id)
        else:
            kept[worker.worker_id] = worker
    if forgotten:
        await queue.forget_workers(forgotten)
    return kept


@router.post(
    "/ingest/{repo_url:anypath}",
    status_code=202,
    dependencies=[Depends(limit_ingest), Depends(require_admin)],
    response_model=IngestAccepted,
    responses=errors(400, 401, 413, 414, 422, 429, 503, texts=INGEST_429),
    summary="Queue a repository for ingestion",
)
async def ingest_repository(
    repo_url: str,
    request: Request,
    queue: Queue,
    idempotency_key: Annotated[
        str | None,
        Header(
            description="Retries with the same key (and URL) return the first request's job"
            " instead of queueing another."
        ),
    ] = None,
    force: Annotated[
        bool,
        Query(
            description="Redo the job even when the repository's HEAD is already indexed with"
            " the same code and parameters (such a job otherwise ends `unchanged`)."
        ),
    ] = False,
) -> dict[str, Any]:
    settings = request.app.state.settings
    canonical = canonical_repo_url(repo_url, settings)
    task = jobs_pb2.QueuedTask(
        job_id=_job_id(idempotency_key, canonical),
        repo_url=canonical,
        ttl_seconds=settings.task_ttl_seconds,
        request_id=logs.REQUEST_ID.get(),
        force=force,
    )
    task.submitted_at.CopyFrom(jobs.now())
    logs.JOB_ID.set(task.job_id)  # for the rest of this request's lines
    try:
        queued = await queue.enqueue(task, cap=settings.max_queue_size)
    except QueueFull as exc:
        raise ApiError(
            429,
            "queue_full",
            f"{exc.pending} jobs pending (cap {settings.max_queue_size}); retry later",
            headers={"Retry-After": "60"},
        ) from None
    request.app.state.events_wake.set()  # its events will follow soon
    log.info(
        "job %s %s: %s at position %d",
        task.job_id,
        "queued" if queued.created else "already known",
        canonical,
        queued.position,
        extra={"repo_url": canonical},
    )
    response = ingest_service_pb2.IngestRepositoryResponse(
        job_id=task.job_id,
        queue_position=queued.position,
        queue_size=queued.size,
        max_queue_size=settings.max_queue_size,
        status=jobs.status_name(queued.record.status),
        repo_url=canonical,
    )
    return jobs.to_dict(response)


def _job_id(idempotency_key: str | None, canonical_url: str) -> str:
    """A new id, or one derived from the client's idempotency key and the URL."""
    if idempotency_key is None:
        return uuid.uuid4().hex
    if not (0 < len(idempotency_key) <= MAX_IDEMPOTENCY_KEY and idempotency_key.isprintable()):
        raise ApiError(
            400, "invalid_idempotency_key", "Idempotency-Key: 1-255 printable characters"
        )
    return uuid.uuid5(IDEMPOTENCY_NAMESPACE, f"{idempotency_key}\n{canonical_url}").hex


@router.get(
    "/jobs/history",
    dependencies=[Depends(limit_reads), Depends(require_reader)],
    response_model=JobHistory,
    responses=errors(401, 422, 429, 503),
    summary="The newest jobs, newest first",
)
async def job_history(
    request: Request, queue: Queue, limit: Annotated[int, Query(ge=1, le=100)] = 100
) -> dict[str, Any]:
    settings = request.app.state.settings
    records = await queue.history(limit)
    running = any(r.status == jobs_pb2.JOB_STATUS_RUNNING for r in records)
    workers = await _workers(queue, settings) if running else {}  # only for `stalled`
    return {"jobs": [_job_view(r, workers, settings.job_lease_seconds) for r in records]}


@router.get(
    "/jobs/{job_id}",
    dependencies=[Depends(limit_reads), Depends(require_reader)],
    response_model=JobResponse,
    responses=errors(401, 404, 429, 503),
    summary="One job's status, progress, timings and counts",
)
async def get_job(
    job_id: Annotated[
        str,
        # Documented, not validated: any other id is a 404 like an unknown one. The
        # pattern also tells schema-driven clients that `history` is not an id.
        PathParam(
            description="32 lower-case hex digits, as the ingest route returns it",
            json_schema_extra={"pattern": "^[0-9a-f]{32}$"},
        ),
    ],
    request: Request,
    queue: Queue,
) -> dict[str, Any]:
    if not job_id.isalnum() or len(job_id) > 64:
        raise ApiError(404, "job_not_found", "no such job")
    record = await queue.get_job(job_id)
    if record is None:
        raise ApiError(404, "job_not_found", f"no job {job_id}")
    settings = request.app.state.settings
    running = record.status == jobs_pb2.JOB_STATUS_RUNNING
    workers = await _workers(queue, settings) if running else {}  # only for `stalled`
    return {"job": _job_view(record, workers, settings.job_lease_seconds)}


@router.get(
    "/worker/status",
    dependencies=[Depends(limit_reads), Depends(require_reader)],
    response_model=WorkerStatuses,
    responses=errors(401, 429, 503),
    summary="Every worker's live status and heartbeat age",
)
async def worker_status(request: Request, queue: Queue) -> dict[str, Any]:
    workers = await _workers(queue, request.app.state.settings)
    now = time.time()
    for worker in workers.values():
        if jobs.is_offline(worker, now):
            jobs.set_state(worker, jobs.OFFLINE)
    views = [_worker_view(worker, now) for worker in workers.values()]
    busiest = jobs.busiest(workers.values())
    if busiest is None:
        return {"status": "Offline", "state": "offline", "workers": views}
    return {
        "status": jobs.worker_text(busiest),
        "state": jobs.worker_state_name(busiest.state),
        "workers": views,
    }


def _worker_view(worker: jobs_pb2.WorkerStatus, now: float) -> dict[str, Any]:
    """The REST shape of a worker: its state's name, and its display text as `status`."""
    view = jobs.to_dict(worker)
    view["state"] = jobs.worker_state_name(worker.state)
    view["status"] = jobs.worker_text(worker)
    view["heartbeat_age_seconds"] = round(now - worker.heartbeat_at.ToSeconds(), 1)
    return view
