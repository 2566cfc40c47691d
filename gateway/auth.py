"""Bearer-token checks (R2.9, R2.10): constant-time, failures logged with the client
address and reason, never the token: at most one line per address every
`WARNING_INTERVAL_SECONDS`, the next one counting those left out, so a flood of bad
requests cannot fill the log.

- `require_admin` guards ingest: `ALEXANDRIA_ADMIN_TOKEN`.
- `require_reader` guards the read routes and /metrics when `ALEXANDRIA_READ_TOKEN` is
  set (the admin token is accepted too); without it they are open.
"""

from __future__ import annotations

import hmac
import logging
import time
from collections import OrderedDict
from collections.abc import Callable

from fastapi import Request

from gateway.errors import ApiError

log = logging.getLogger("gateway.auth")

WARNING_INTERVAL_SECONDS = 10.0
ADDRESSES_KEPT = 4096  # the addresses whose last warning is remembered


class WarningLimiter:
    """Says whether to log a client's failure now, and how many were left out before."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._seen: OrderedDict[str, tuple[float, int]] = OrderedDict()

    def admit(self, client: str) -> int | None:
        """None: leave this one out; else log it, with the returned count of failures
        from `client` left out since its last line."""
        now = self._clock()
        last = self._seen.get(client)
        if last is not None and now - last[0] < WARNING_INTERVAL_SECONDS:
            self._seen[client] = (last[0], last[1] + 1)
            return None
        self._seen[client] = (now, 0)
        self._seen.move_to_end(client)
        while len(self._seen) > ADDRESSES_KEPT:
            self._seen.popitem(last=False)
        return last[1] if last is not None else 0


def _require_one_of(request: Request, tokens: list[str]) -> None:
    header = request.headers.get("authorization", "")
    scheme, _, given = header.partition(" ")
    if not header:
        reason = "missing Authorization header"
    elif scheme.lower() != "bearer" or not given.strip():
        reason = "Authorization is not a Bearer token"
    else:
        presented = given.strip().encode()
        # Compare with every token (no early exit) so timing says nothing about which.
        matches = [hmac.compare_digest(presented, t.encode()) for t in tokens]
        if any(matches):
            return
        reason = "invalid token"
    client = request.client.host if request.client else "unknown"
    state = request.app.state
    if getattr(state, "auth_warnings", None) is None:
        state.auth_warnings = WarningLimiter()
    left_out = state.auth_warnings.admit(client)
    if left_out is not None:
        log.warning(
            "auth failed from %s on %s %s: %s%s",
            client,
            request.method,
            request.url.path,
            reason,
            f" (and {left_out} more from it since the last such line)" if left_out else "",
        )
    raise ApiError(
        401, "unauthorized", reason, headers={"WWW-Authenticate": 'Bearer realm="alexandria"'}
    )


def require_admin(request: Request) -> None:
    """Raise 401 unless the request carries `Authorization: Bearer <ALEXANDRIA_ADMIN_TOKEN>`."""
    _require_one_of(request, [request.app.state.admin_token])


def require_reader(request: Request) -> None:
    """With `ALEXANDRIA_READ_TOKEN` set, raise 401 unless it (or the admin token) is presented."""
    read_token: str | None = request.app.state.settings.read_token
    if read_token:
        _require_one_of(request, [read_token, request.app.state.admin_token])
