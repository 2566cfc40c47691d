"""Run blocking work in a worker thread and stream what it reports to async code.

The parser and the embedder servicers run their job (git and the parse; the training)
in a thread, so that the event loop keeps serving, and stream its progress back over
gRPC as it comes. `run_reporting` is that bridge, in one place: the work gets a
thread-safe `report` callable and a `stop` event; the caller iterates the reports,
then receives `Finished(result)`. However the caller stops (the work done or failed,
an exception of its own, the RPC cancelled), `stop` is set and the thread is waited
for before the iteration ends: no work outlives its call. Close the iterator with
`contextlib.aclosing` when leaving it early.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

E = TypeVar("E")
R = TypeVar("R")


@dataclass(frozen=True)
class Finished(Generic[R]):
    """The work's return value: the last item `run_reporting` yields."""

    value: R


async def run_reporting(
    work: Callable[[Callable[[E], None], threading.Event], R],
    *,
    stop: threading.Event | None = None,
) -> AsyncGenerator[E | Finished[R], None]:
    """Run `work(report, stop)` in a worker thread; yield each event it reports, in
    order, then `Finished` with its result. An exception of `work` is raised here.
    `stop`: set it to ask the work to end (it is also set when the iteration ends)."""
    stop = stop if stop is not None else threading.Event()
    loop = asyncio.get_running_loop()
    events: asyncio.Queue[E | None] = asyncio.Queue()

    def report(event: E) -> None:
        loop.call_soon_threadsafe(events.put_nowait, event)

    def finished(task: asyncio.Future[R]) -> None:
        events.put_nowait(None)  # after every report: both come through the loop in order
        if not task.cancelled():
            task.exception()  # retrieved here, so that an abandoned one does not warn

    task = asyncio.ensure_future(asyncio.to_thread(work, report, stop))
    task.add_done_callback(finished)
    try:
        while (event := await events.get()) is not None:
            yield event
        yield Finished(await task)
    finally:
        stop.set()
        with contextlib.suppress(Exception):
            await asyncio.shield(task)  # the thread has ended when this returns
