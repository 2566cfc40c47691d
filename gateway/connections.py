"""How long a client may hold a connection without sending a request.

uvicorn closes a connection left idle after a response (`timeout_keep_alive`), but
not one that opens and sends nothing, nor one that drips its request line and headers
a byte at a time: each holds a socket for ever, and a few hundred hold them all.
`head_timeout_protocol` gives uvicorn's h11 protocol a deadline: a request's line and
headers must arrive within `seconds` of the connection opening, or of the first byte
after the previous response, or the connection is closed. The body is not timed (it is
capped by ALEXANDRIA_MAX_REQUEST_BODY_BYTES). Connections past
`ALEXANDRIA_GATEWAY_MAX_CONNECTIONS` get 503 from uvicorn (`limit_concurrency`).
"""

from __future__ import annotations

import asyncio

from uvicorn.protocols.http.h11_impl import H11Protocol


class _HeadTimeoutProtocol(H11Protocol):
    head_timeout_seconds = 10.0
    _head_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._start_head_timer()

    def data_received(self, data: bytes) -> None:
        if self._head_timer is None and (self.cycle is None or self.cycle.response_complete):
            self._start_head_timer()  # the first bytes of the next request
        super().data_received(data)
        if self.cycle is not None and not self.cycle.response_complete:
            self._stop_head_timer()  # its head is complete: the request is being served

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_head_timer()
        super().connection_lost(exc)

    def _start_head_timer(self) -> None:
        self._head_timer = self.loop.call_later(self.head_timeout_seconds, self._head_timed_out)

    def _stop_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if not self.transport.is_closing():
            self.transport.close()


def head_timeout_protocol(seconds: float) -> type[H11Protocol]:
    """uvicorn's h11 protocol with a `seconds` deadline for each request's head."""
    return type("HeadTimeoutProtocol", (_HeadTimeoutProtocol,), {"head_timeout_seconds": seconds})
