"""Bearer-token check for the ingest route (R2.9-2.10): constant-time, failures logged
with the client address and reason, never the token."""

from __future__ import annotations

import hmac
import logging

from fastapi import Request

from gateway.errors import ApiError

log = logging.getLogger("gateway.auth")


def require_admin(request: Request) -> None:
    """Raise 401 unless the request carries `Authorization: Bearer <PHAROS_ADMIN_TOKEN>`."""
    expected: str = request.app.state.admin_token
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    client = request.client.host if request.client else "unknown"
    if not header:
        reason = "missing Authorization header"
    elif scheme.lower() != "bearer" or not token:
        reason = "Authorization is not a Bearer token"
    elif not hmac.compare_digest(token.strip().encode(), expected.encode()):
        reason = "invalid token"
    else:
        return
    log.warning("auth failed from %s on %s: %s", client, request.url.path, reason)
    raise ApiError(
        401, "unauthorized", reason, headers={"WWW-Authenticate": 'Bearer realm="alexandria"'}
    )
