"""The rate limit's GCRA script on the embedded Redis over generated request times, ≥100
examples each: it decides as the pure-Python model below does; in any span of d ms at
most limit + d // interval requests pass (so never more than 2·limit - 1 in a window);
requests an interval apart always pass; `remaining` and `Retry-After` are exact."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass

from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.rate_limit import GCRA
from services.common import keys
from services.common.config import Settings
from services.common.transport import Transport, open_transport

EXAMPLES = settings(max_examples=150, deadline=None)
T0 = 1_700_000_000_000  # ms
# Windows of 10 s and more keep every key's expiry (real time) far beyond an example's
# run, while the script's clock (the requests' times) is made up.
limits = st.integers(min_value=1, max_value=20)
windows = st.integers(min_value=10_000, max_value=120_000)
gaps = st.lists(
    st.one_of(st.just(0), st.integers(0, 500), st.integers(0, 10_000), st.integers(0, 130_000)),
    min_size=1,
    max_size=60,
)

Answer = tuple[int, int, int, int]  # allowed, remaining, retry_after_ms, reset_ms


@dataclass
class Model:
    """GCRA as the script runs it, in integer ms."""

    limit: int
    window: int
    tat: int = 0

    @property
    def interval(self) -> int:
        return -(-self.window // self.limit)

    def check(self, now: int) -> Answer:
        tolerance = self.interval * (self.limit - 1)
        tat = max(self.tat, now)
        if tat - now > tolerance:
            return 0, 0, tat - tolerance - now, tat - now
        self.tat = tat + self.interval
        return 1, self.limit - -(-(self.tat - now) // self.interval), 0, self.tat - now


async def script(transport: Transport, key: str, limit: int, window: int, now: int) -> Answer:
    reply = await transport.run(GCRA, [key], [limit, window, now])
    allowed, remaining, retry_after, reset = (int(v) for v in reply)
    return allowed, remaining, retry_after, reset


def replay(redis_url: str, limit: int, window: int, times: list[int]) -> list[Answer]:
    """The script's answers to requests of one new client at `times`."""

    async def main() -> list[Answer]:
        transport, _ = open_transport(Settings(redis_url=redis_url))
        key = keys.rate_limit("reads", f"ip:{uuid.uuid4().hex}")
        try:
            return [await script(transport, key, limit, window, t) for t in times]
        finally:
            await transport.close()

    return asyncio.run(main())


def times_of(offsets: list[int]) -> list[int]:
    times, now = [], T0
    for gap in offsets:
        now += gap
        times.append(now)
    return times


@EXAMPLES
@given(limit=limits, window=windows, offsets=gaps)
def test_the_script_decides_as_the_model_and_never_passes_more_than_its_bound(
    embedded_redis_url: str, limit: int, window: int, offsets: list[int]
) -> None:
    times = times_of(offsets)
    answers = replay(embedded_redis_url, limit, window, times)
    model = Model(limit, window)
    assert answers == [model.check(t) for t in times]
    passed = [t for t, answer in zip(times, answers, strict=True) if answer[0]]
    interval = model.interval
    for i, start in enumerate(passed):
        for j in range(i, len(passed)):
            span = passed[j] - start
            assert j - i + 1 <= limit + span // interval, (start, span)
            if span < window:
                assert j - i + 1 <= 2 * limit - 1
    for allowed, remaining, retry_after, reset in answers:
        assert (retry_after == 0) if allowed else (0 < retry_after <= reset)
        assert 0 <= remaining < limit


@EXAMPLES
@given(limit=limits, window=windows, extra=st.lists(st.integers(0, 10_000), max_size=20))
def test_requests_an_interval_apart_always_pass(
    embedded_redis_url: str, limit: int, window: int, extra: list[int]
) -> None:
    interval = Model(limit, window).interval
    answers = replay(embedded_redis_url, limit, window, times_of([interval + e for e in extra]))
    assert all(answer[0] for answer in answers)


@EXAMPLES
@given(limit=limits, window=windows, offsets=gaps)
def test_remaining_and_retry_after_are_exact(
    embedded_redis_url: str, limit: int, window: int, offsets: list[int]
) -> None:
    """After any history: an allowed answer's `remaining` more pass at the same instant and
    the next is refused; a refused one's retry_after_ms later one passes, 1 ms sooner not."""
    times = times_of(offsets)
    last = times[-1]

    async def main() -> None:
        transport, _ = open_transport(Settings(redis_url=embedded_redis_url))
        key = keys.rate_limit("reads", f"ip:{uuid.uuid4().hex}")
        try:
            for t in times[:-1]:
                await script(transport, key, limit, window, t)
            allowed, remaining, retry_after, _ = await script(transport, key, limit, window, last)
            if allowed:
                more = [await script(transport, key, limit, window, last) for _ in range(remaining)]
                assert all(answer[0] for answer in more)
                assert not (await script(transport, key, limit, window, last))[0]
            else:
                sooner = await script(transport, key, limit, window, last + retry_after - 1)
                assert not sooner[0] and sooner[2] == 1
                assert (await script(transport, key, limit, window, last + retry_after))[0]
        finally:
            await transport.close()

    asyncio.run(main())
