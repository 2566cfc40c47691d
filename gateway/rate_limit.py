"""Per-client rate limits: past its budget a client gets 429 with `Retry-After`.

Two budgets, requests a minute per client (`Settings.rate_limit`: by default 30 ingests
and 600 reads, none in LOCAL mode; 0 turns one off): `limit_ingest` guards the ingest
route, `limit_reads` the `/api/v1` GET routes. /health, /metrics and the docs have none.

**Algorithm: GCRA** (generic cell rate algorithm, as in redis-cell). A budget of N a
minute lets a client send N at once, then one every 60/N s: in any span of d seconds at
most N + d·N/60 pass (so up to 2N - 1 in one minute after a pause). Chosen over
upstash-ratelimit's sliding window, which keeps two counters per client and only
estimates its window: GCRA keeps one integer (the "theoretical arrival time"), has no
window edges, and knows the exact wait until the next request passes (`Retry-After`).

**One script, every transport.** `GCRA` is one Lua script run through the queue's
`Transport`, like every queue operation, so the Redis protocol, Upstash REST and the
embedded server run the same code: one EVALSHA per limited request (EVAL once after
Redis loses its script cache), none while a refused client's `Retry-After` runs. The
`upstash-ratelimit` package is not used: it speaks only Upstash's REST API, not the
Redis protocol the two other transports need. Time is the gateway's clock
(`RateLimiter.clock`): gateways sharing a Redis need synced clocks (one s seconds
behind the others makes its clients wait up to s longer).

**Clients.** A request with a valid token (admin or read) counts under the token's
SHA-256 prefix, never the token: all its holders share one budget. Any other request
counts under its address (an invalid token too, or random tokens would buy new
budgets): the connection's peer, or with `ALEXANDRIA_FORWARDED_FOR_HOPS` = n the X-Forwarded-For
entry n from the right, the one the farthest trusted proxy added (those left of it are
the client's to forge). An IPv6 address counts by its /64, which one client may hold.

**Redis down: fail open.** A check that fails or takes over `CHECK_TIMEOUT_SECONDS` lets
the request through and logs a warning; checks are then skipped for
`SKIP_AFTER_FAILURE_SECONDS` (one line, no added latency). Most read routes need Qdrant
or the metadata DB, not Redis, and should not go down with it; an ingest goes on to the
queue, which answers its own 503.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import ipaddress
import logging
import math
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from fastapi import Request, Response

from gateway.auth import WarningLimiter
from gateway.errors import ApiError
from services.common import keys
from services.common.transport import QueueCommandError, QueueUnavailable, Script, Transport

log = logging.getLogger(__name__)

Budget = Literal["ingest", "reads"]
WINDOW_SECONDS = 60.0
CHECK_TIMEOUT_SECONDS = 2.0
SKIP_AFTER_FAILURE_SECONDS = 5.0
REFUSED_KEPT = 10_000  # the refused clients remembered, newest kept
TOKEN_HASH_CHARS = 16

# KEYS: the client's key. ARGV: limit (the burst), window_ms, now_ms (integers).
# Each request moves the client's theoretical arrival time (TAT) one interval
# (window / limit) later; one arriving while the TAT is more than limit - 1 intervals
# ahead is refused and changes nothing. The key expires when the TAT is reached (a full
# budget again). Returns {allowed 1/0, remaining, retry_after_ms, reset_ms}.
GCRA = Script(
    """
local limit, now = tonumber(ARGV[1]), tonumber(ARGV[3])
local interval = math.ceil(tonumber(ARGV[2]) / limit)
local tolerance = interval * (limit - 1)
local tat = math.max(tonumber(redis.call('GET', KEYS[1]) or 0), now)
if tat - now > tolerance then
  return {0, 0, tat - tolerance - now, tat - now}
end
tat = tat + interval
redis.call('SET', KEYS[1], tostring(tat), 'PX', tat - now)
return {1, limit - math.ceil((tat - now) / interval), 0, tat - now}
"""
)


@dataclass(frozen=True)
class Decision:
    """One check's answer; `retry_after_ms` is 0 when allowed, `reset_ms` the time until
    the client's budget is full again."""

    allowed: bool
    limit: int
    remaining: int
    retry_after_ms: int
    reset_ms: int

    def headers(self) -> dict[str, str]:
        """`RateLimit-*` (IETF draft) headers, and `Retry-After` when refused, whole seconds."""
        headers = {
            "RateLimit-Limit": str(self.limit),
            "RateLimit-Remaining": str(self.remaining),
            "RateLimit-Reset": str(_whole_seconds(self.reset_ms)),
        }
        if not self.allowed:
            headers["Retry-After"] = str(_whole_seconds(self.retry_after_ms))
        return headers


def _whole_seconds(ms: int) -> int:
    return max(1, math.ceil(ms / 1000))


class RateLimiter:
    """Checks clients' budgets with `GCRA` over a transport: one command a check, none
    for a client already refused until its `Retry-After` has passed (a refusal changes
    nothing in Redis, so the answer is known; a flood costs no commands)."""

    def __init__(
        self,
        transport: Transport,
        *,
        window_seconds: float = WINDOW_SECONDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.transport, self.clock = transport, clock
        self.window_ms = round(window_seconds * 1000)
        self.warnings = WarningLimiter()
        self._skip_until = 0.0
        # (budget, client) -> (refused until, full again at), in ms; oldest first.
        self._refused: OrderedDict[tuple[str, str], tuple[int, int]] = OrderedDict()

    async def check(self, budget: str, limit: int, client: str) -> Decision | None:
        """Count one request of `client` against `limit` a window; None when Redis could
        not say (the caller lets the request through)."""
        now = self.clock()
        now_ms = round(now * 1000)
        refused = self._refused.get((budget, client))
        if refused is not None:
            if now_ms < refused[0]:
                return Decision(False, limit, 0, refused[0] - now_ms, refused[1] - now_ms)
            del self._refused[(budget, client)]
        if now < self._skip_until:
            return None
        try:
            reply = await asyncio.wait_for(
                self.transport.run(
                    GCRA, [keys.rate_limit(budget, client)], [limit, self.window_ms, now_ms]
                ),
                CHECK_TIMEOUT_SECONDS,
            )
        except (QueueUnavailable, QueueCommandError, TimeoutError) as exc:
            self._skip_until = now + SKIP_AFTER_FAILURE_SECONDS
            log.warning(
                "rate limits unchecked for %.0f s: the check on %s failed (%s)",
                SKIP_AFTER_FAILURE_SECONDS,
                self.transport.name,
                exc or type(exc).__name__,
            )
            return None
        allowed, remaining, retry_after_ms, reset_ms = (int(v) for v in reply)
        if not allowed:
            self._refused[(budget, client)] = (now_ms + retry_after_ms, now_ms + reset_ms)
            while len(self._refused) > REFUSED_KEPT:
                self._refused.popitem(last=False)
        return Decision(bool(allowed), limit, remaining, retry_after_ms, reset_ms)


def client_address(peer: str | None, forwarded_for: Sequence[str], hops: int) -> str:
    """The address a client is counted under: with `hops`, the X-Forwarded-For entry
    `hops` from the right when there is one and it is an IP, else the peer."""
    entries = [e.strip() for header in forwarded_for for e in header.split(",")]
    candidates = [entries[-hops]] if hops and len(entries) >= hops else []
    for address in [*candidates, peer or "unknown"]:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            continue
        if isinstance(ip, ipaddress.IPv6Address):
            if ip.ipv4_mapped is not None:
                return str(ip.ipv4_mapped)
            return str(ipaddress.ip_network(f"{ip}/64", strict=False))
        return str(ip)
    return (peer or "unknown")[:64]  # not an IP (a test client, a unix socket)


def client_id(request: Request, tokens: Iterable[str], hops: int) -> str:
    """`token:<sha256 prefix>` for a valid token, else `ip:<address>`."""
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    presented = given.strip().encode()
    # Compared with every token (no early exit), like gateway/auth.py.
    matches = [hmac.compare_digest(presented, t.encode()) for t in tokens]
    if scheme.lower() == "bearer" and presented and any(matches):
        return "token:" + hashlib.sha256(presented).hexdigest()[:TOKEN_HASH_CHARS]
    peer = request.client.host if request.client else None
    return "ip:" + client_address(peer, request.headers.getlist("x-forwarded-for"), hops)


def _guard(budget: Budget) -> Callable[[Request, Response], Awaitable[None]]:
    async def check(request: Request, response: Response) -> None:
        state = request.app.state
        limit = state.settings.rate_limit(budget)
        limiter: RateLimiter | None = getattr(state, "rate_limiter", None)
        if not limit or limiter is None:
            return
        tokens = [t for t in (state.admin_token, state.settings.read_token) if t]
        client = client_id(request, tokens, state.settings.forwarded_for_hops)
        decision = await limiter.check(budget, limit, client)
        if decision is None:
            state.metrics.rate_limit_unchecked.labels(budget).inc()
            return
        headers = decision.headers()
        if decision.allowed:
            response.headers.update(headers)
            return
        state.metrics.rate_limited.labels(budget).inc()
        left_out = limiter.warnings.admit(f"{budget}:{client}")
        if left_out is not None:
            log.warning(
                "rate limited %s on %s (%d a minute)%s",
                client,
                budget,
                limit,
                f" (and {left_out} more since the last such line)" if left_out else "",
            )
        raise ApiError(
            429,
            "rate_limited",
            f"over this client's {budget} budget ({limit} requests a minute); "
            f"retry in {headers['Retry-After']} s",
            headers=headers,
        )

    check.__name__ = f"limit_{budget}"
    return check


limit_ingest = _guard("ingest")
"""Dependency: the ingest budget (before the token check, so floods of bad tokens count)."""
limit_reads = _guard("reads")
"""Dependency: the read budget of the `/api/v1` GET routes."""
