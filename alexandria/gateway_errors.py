"""The CLI's one error for the gateway, apart from its HTTP client, so that commands
that never call the gateway (`graph`, `embed`, `serve`) do not load one."""

from __future__ import annotations

TRANSIENT_STATUSES = frozenset({502, 503, 504})
"""Answers of a gateway (or of what is in front of it) that is starting, restarting or
briefly without its queue: worth asking again."""


class GatewayError(Exception):
    """The gateway could not be reached, or answered with an error. `transient`: it could
    not be reached, answered 502, 503 or 504, or rate-limited this client (429
    `rate_limited`); `retry_after`: the seconds its Retry-After header asked for."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        transient: bool = False,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.transient = transient or status in TRANSIENT_STATUSES
        self.retry_after = retry_after
