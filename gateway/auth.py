"""Bearer-token checks (R2.9-2.10): constant-time, failures logged with the client
address and reason, never the token.

- `require_admin` guards ingest: `PHAROS_ADMIN_TOKEN`.
- `require_reader` guards the read routes and /metrics when `PHAROS_READ_TOKEN` is
  set (the admin token is accepted too); without it they are open.
"""

from __future__ import annotations

import hmac
import logging

from fastapi import Request

from gateway.errors import ApiError

log = logging.getLogger("gateway.auth")


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
    log.warning(
        "auth failed from %s on %s %s: %s", client, request.method, request.url.path, reason
    )
    raise ApiError(
        401, "unauthorized", reason, headers={"WWW-Authenticate": 'Bearer realm="alexandria"'}
    )


def require_admin(request: Request) -> None:
    """Raise 401 unless the request carries `Authorization: Bearer <PHAROS_ADMIN_TOKEN>`."""
    _require_one_of(request, [request.app.state.admin_token])


def require_reader(request: Request) -> None:
    """With `PHAROS_READ_TOKEN` set, raise 401 unless it (or the admin token) is presented."""
    read_token: str | None = request.app.state.settings.pharos_read_token
    if read_token:
        _require_one_of(request, [read_token, request.app.state.admin_token])
