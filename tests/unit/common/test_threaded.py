"""run_reporting: a worker thread's reports reach async code in order, then its result;
its exception is raised to the caller; however the caller leaves, the thread is asked
to stop and has ended before the iteration does."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Callable

import pytest

from services.common.threaded import Finished, run_reporting


def test_reports_arrive_in_order_then_the_result() -> None:
    def work(report: Callable[[int], None], stop: threading.Event) -> str:
        for i in range(500):
            report(i)
        return "done"

    async def collect() -> list[object]:
        return [event async for event in run_reporting(work)]

    events = asyncio.run(collect())
    assert events == [*range(500), Finished("done")]


def test_the_works_exception_reaches_the_caller_after_its_reports() -> None:
    def work(report: Callable[[str], None], stop: threading.Event) -> None:
        report("started")
        raise ValueError("bad graph")

    async def collect(seen: list[object]) -> None:
        async for event in run_reporting(work):
            seen.append(event)

    seen: list[object] = []
    with pytest.raises(ValueError, match="bad graph"):
        asyncio.run(collect(seen))
    assert seen == ["started"]


def test_leaving_early_stops_the_thread_and_waits_for_it() -> None:
    ended = threading.Event()

    def work(report: Callable[[int], None], stop: threading.Event) -> None:
        try:
            while not stop.is_set():
                report(1)
                time.sleep(0.01)
            time.sleep(0.2)  # the thread's own cleanup, which the caller must wait for
        finally:
            ended.set()

    async def leave_after_one() -> None:
        async with contextlib.aclosing(run_reporting(work)) as events:
            async for _ in events:
                break
        assert ended.is_set()

    asyncio.run(leave_after_one())


def test_a_cancelled_caller_waits_for_the_thread_and_a_given_stop_event_is_used() -> None:
    ended = threading.Event()
    stop = threading.Event()

    def work(report: Callable[[int], None], stop: threading.Event) -> None:
        stop.wait(10)
        time.sleep(0.1)
        ended.set()

    async def consume() -> None:
        async for _ in run_reporting(work, stop=stop):
            pass

    async def cancel_it() -> None:
        task = asyncio.ensure_future(consume())
        await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert stop.is_set() and ended.is_set()

    asyncio.run(cancel_it())
