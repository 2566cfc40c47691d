"""gRPC `ParserService`: validate the URL, clone, build the graph, stream it back.

The job itself is `source.repository_graph`, as for `alexandria graph`. It runs in a
worker thread (`services.common.threaded.run_reporting`) so the event loop keeps
serving, and its progress streams back as it comes. When the client goes away, or
the server stops on SIGTERM, the job is told to stop and the call ends once its
thread has, the clone directory removed by the clone's own `finally`.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import threading
from collections.abc import AsyncIterator, Callable

import grpc
from prometheus_client import Counter, Histogram

from neo_alexandria.v1 import parser_service_pb2, parser_service_pb2_grpc
from services.common.config import Settings
from services.common.grpc_server import run_service
from services.common.metrics import DURATION_BUCKETS
from services.common.repo_url import InvalidRepoUrl, canonicalize
from services.common.threaded import Finished, run_reporting
from services.parser.cache import PARSE_CACHE_FILE, ParseCache
from services.parser.clone import (
    CloneCancelled,
    CloneError,
    CloneNotFound,
    CloneTimeout,
    CloneTooLarge,
    CloneUnavailable,
    head_commit,
    sweep_leftovers,
)
from services.parser.graph import to_chunks
from services.parser.source import SourceGraph, repository_graph
from services.parser.walk import DEFAULT_MAX_FILE_BYTES

log = logging.getLogger(__name__)

SERVICE_NAME = parser_service_pb2.DESCRIPTOR.services_by_name["ParserService"].full_name
PROGRESS_MAX_STEP = 200
"""Parse progress is sent every 5% of the files, or every this many files if sooner."""

FILES_PARSED = Counter("alexandria_parser_files", "Source files parsed into graph nodes")
PARSE_SECONDS = Histogram(
    "alexandria_parser_parse_seconds",
    "Time to walk, parse and resolve one repository, clone excluded",
    buckets=DURATION_BUCKETS,
)


class JobCancelled(Exception):
    """The client went away or the server is stopping."""


def _response(**kwargs: object) -> parser_service_pb2.ParseRepositoryResponse:
    return parser_service_pb2.ParseRepositoryResponse(**kwargs)


def _progress(phase: str, done: int = 0, total: int = 0) -> parser_service_pb2.ParseProgress:
    return parser_service_pb2.ParseProgress(phase=phase, files_done=done, files_total=total)


class ParserServicer(parser_service_pb2_grpc.ParserServiceServicer):
    """Serves ParseRepository; at most `max_concurrent_jobs` clones/parses at a time."""

    def __init__(
        self,
        settings: Settings,
        *,
        max_concurrent_jobs: int = 2,
        max_file_bytes: int = DEFAULT_MAX_FILE_BYTES,
        workers: int | None = None,
    ) -> None:
        self._settings = settings
        self._slots = asyncio.Semaphore(max_concurrent_jobs)
        self._max_file_bytes = max_file_bytes
        self._workers = workers
        self._cache = ParseCache(settings.data_dir / PARSE_CACHE_FILE)

    def _run_job(
        self,
        url: str,
        report: Callable[[parser_service_pb2.ParseProgress], None],
        cancel: threading.Event,
    ) -> SourceGraph:
        """Read HEAD's files and build the graph (in a worker thread)."""
        last = 0

        def on_progress(done: int, total: int) -> None:
            nonlocal last
            if cancel.is_set():
                raise JobCancelled
            if done == total or done - last >= min(PROGRESS_MAX_STEP, max(1, total // 20)):
                last = done
                report(_progress("parse", done, total))

        return repository_graph(
            url,
            self._settings,
            cache=self._cache,
            workers=self._workers,
            max_file_bytes=self._max_file_bytes,
            cancel=cancel,
            on_read=lambda: report(_progress("walk")),
            on_progress=on_progress,
        )

    async def ParseRepository(
        self,
        request: parser_service_pb2.ParseRepositoryRequest,
        context: grpc.aio.ServicerContext,
    ) -> AsyncIterator[parser_service_pb2.ParseRepositoryResponse]:
        job = request.job_id or "-"
        try:
            url = canonicalize(
                request.repo_url,
                allowed_hosts=self._settings.allowed_git_hosts,
                allow_local=self._settings.local,
            )
        except InvalidRepoUrl as exc:
            log.info("job %s: rejected repository URL: %s", job, exc)
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        if request.unless_commit and await self._head_is(url, request.unless_commit, job):
            log.info("job %s: %s is still at %s: unchanged", job, url, request.unless_commit[:12])
            summary = parser_service_pb2.ParseSummary(
                repo_url=url, commit=request.unless_commit, unchanged=True
            )
            yield _response(summary=summary)
            return
        async with self._slots:
            log.info("job %s: cloning %s", job, url)
            yield _response(progress=_progress("clone"))
            work = functools.partial(self._run_job, url)
            try:
                async with contextlib.aclosing(run_reporting(work)) as events:
                    async for event in events:
                        if isinstance(event, Finished):
                            parsed: SourceGraph = event.value
                        else:
                            yield _response(progress=event)
            except (CloneCancelled, JobCancelled):
                await context.abort(grpc.StatusCode.CANCELLED, "parse cancelled")
            except CloneTimeout as exc:
                await self._fail(context, job, grpc.StatusCode.DEADLINE_EXCEEDED, exc)
            except CloneNotFound as exc:
                await self._fail(context, job, grpc.StatusCode.NOT_FOUND, exc)
            except CloneTooLarge as exc:
                await self._fail(context, job, grpc.StatusCode.RESOURCE_EXHAUSTED, exc)
            except CloneUnavailable as exc:  # the network: the coordinator retries later
                await self._fail(context, job, grpc.StatusCode.UNAVAILABLE, exc)
            except CloneError as exc:
                await self._fail(context, job, grpc.StatusCode.FAILED_PRECONDITION, exc)
            except Exception:
                log.exception("job %s: parse of %s failed", job, url)
                await context.abort(grpc.StatusCode.INTERNAL, "parse failed; see the parser log")
        commit, graph = parsed.commit, parsed.graph
        stats = graph.stats
        log.info(
            "job %s: parsed %s at %s: %d files, %d edges, %d unresolved, %d errors in %.2f s",
            job,
            url,
            commit[:12],
            stats.files_parsed,
            stats.edges,
            stats.unresolved,
            len(graph.errors),
            stats.parse_seconds,
        )
        FILES_PARSED.inc(stats.files_parsed)
        PARSE_SECONDS.observe(stats.parse_seconds)
        for chunk in to_chunks(graph):
            yield _response(chunk=chunk)
        summary = parser_service_pb2.ParseSummary(repo_url=url, commit=commit, stats=stats)
        yield _response(summary=summary)

    async def _head_is(self, url: str, commit: str, job: str) -> bool:
        """Whether `url`'s HEAD is `commit`; False when it cannot be read (the parse that
        follows then reports why)."""
        try:
            head = await asyncio.to_thread(
                head_commit, url, timeout_seconds=self._settings.clone_timeout_seconds
            )
        except CloneError as exc:
            log.info("job %s: could not read %s's HEAD (%s); parsing", job, url, exc)
            return False
        return head == commit

    @staticmethod
    async def _fail(
        context: grpc.aio.ServicerContext, job: str, code: grpc.StatusCode, exc: Exception
    ) -> None:
        log.warning("job %s: %s: %s", job, code.name, exc)
        await context.abort(code, str(exc))


def main(settings: Settings, address: str) -> None:
    """Serve ParserService (with health and reflection) at `address` until SIGINT/SIGTERM,
    after removing the clone directories that dead parsers left behind."""
    if swept := sweep_leftovers():
        log.info("removed %d clone directories left by stopped processes", len(swept))
    servicer = ParserServicer(settings)
    asyncio.run(
        run_service(
            name="parser",
            full_service_name=SERVICE_NAME,
            register=lambda server: parser_service_pb2_grpc.add_ParserServiceServicer_to_server(
                servicer, server
            ),
            address=address,
            secret=settings.edge_shared_secret,
            grace_seconds=settings.shutdown_grace_seconds,
        )
    )
