"""Refusing a call whose client is still streaming its request.

When a gRPC call ends while its client is still sending (an embedder refusing a
training halfway through its edges, or a call without the edge's secret), the
client's send fails first and it sees "Internal error from Core" instead of the
status it was refused with. So before refusing, the server reads and drops what is
still coming, for a bounded time: nothing is kept, so memory stays flat.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterable

import grpc

DRAIN_SECONDS = 2.0


async def _read_all(requests: AsyncIterable[object]) -> None:
    async for _ in requests:
        pass


async def drain_requests(requests: AsyncIterable[object], seconds: float = DRAIN_SECONDS) -> None:
    """Read and drop the rest of a request stream, for at most `seconds`."""
    with contextlib.suppress(TimeoutError, grpc.RpcError, asyncio.InvalidStateError):
        await asyncio.wait_for(_read_all(requests), seconds)
