"""The CLI's client of the gateway's REST API: base URL, token and error handling once.

The base URL is `--gateway`, else `ALEXANDRIA_GATEWAY_URL`, else that of the stack `alexandria up`
runs on the data dir (`stack_state.py`), else http://127.0.0.1:8000. The token is
`ALEXANDRIA_ADMIN_TOKEN`, else `ALEXANDRIA_READ_TOKEN` for reads, else (LOCAL mode) the one
under the data dir.
"""

from __future__ import annotations

from types import TracebackType
from typing import Any
from urllib.parse import quote

import httpx

from alexandria import stack_state
from alexandria.gateway_errors import GatewayError
from services.common.config import ConfigError, Settings

TIMEOUT_SECONDS = 30.0


def gateway_token(settings: Settings, *, write: bool) -> str | None:
    """The bearer token for a call: ingest needs the admin token, reads take either."""
    if settings.admin_token:
        return settings.admin_token
    if not write and settings.read_token:
        return settings.read_token
    if settings.local:
        if write or settings.admin_token_file.exists():
            return settings.ingest_token()
        return None
    if write:
        raise ConfigError("ALEXANDRIA_ADMIN_TOKEN is required to submit jobs outside LOCAL mode")
    return None


def token_origin(settings: Settings, token: str | None) -> str:
    """Which token a refused call sent, so the user knows what to fix."""
    if token is None:
        return "no token sent: set ALEXANDRIA_ADMIN_TOKEN or ALEXANDRIA_READ_TOKEN"
    if token == settings.admin_token:
        return "sent ALEXANDRIA_ADMIN_TOKEN"
    if token == settings.read_token:
        return "sent ALEXANDRIA_READ_TOKEN"
    return (
        f"sent the token in {settings.admin_token_file}: is the stack running on another "
        "data dir? set ALEXANDRIA_DATA_DIR to its"
    )


def gateway_url(settings: Settings) -> str:
    """`ALEXANDRIA_GATEWAY_URL` when set, else the URL of the stack running on the data dir (what
    `alexandria up --port N` wrote), else the default."""
    if "gateway_url" not in settings.model_fields_set:
        running = stack_state.read(settings.data_dir)
        if running is not None and running.gateway_url:
            return running.gateway_url
    return settings.gateway_url


def _seconds(header: str | None) -> float | None:
    """A Retry-After header's delay in seconds (the delta form the gateway sends)."""
    try:
        return max(0.0, float(header)) if header else None
    except ValueError:
        return None


class GatewayClient:
    """A small synchronous client; use as a context manager."""

    def __init__(self, settings: Settings, base_url: str | None = None) -> None:
        self.settings = settings
        self.base_url = (base_url or gateway_url(settings)).rstrip("/")
        self._http = httpx.Client(base_url=self.base_url, timeout=TIMEOUT_SECONDS)

    def __enter__(self) -> GatewayClient:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._http.close()

    def request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        write: bool = False,
        headers: dict[str, str] | None = None,
        allow_statuses: tuple[int, ...] = (),
    ) -> dict[str, Any]:
        """One call; the decoded JSON body, or GatewayError naming what went wrong
        (an error status in `allow_statuses` returns its body instead)."""
        sent = dict(headers or {})
        token = gateway_token(self.settings, write=write)
        if token:
            sent["Authorization"] = f"Bearer {token}"
        try:
            reply = self._http.request(method, path, params=params, headers=sent)
        except httpx.HTTPError as exc:
            raise GatewayError(
                f"cannot reach the gateway at {self.base_url}: {exc}", transient=True
            ) from None
        try:
            body = reply.json()
        except ValueError:
            body = {}
        if reply.status_code >= 400 and reply.status_code not in allow_statuses:
            error = body.get("error", "") if isinstance(body, dict) else ""
            detail = body.get("detail", reply.text) if isinstance(body, dict) else reply.text
            message = f"{method} {path}: {reply.status_code} {error}: {detail}".replace(" : ", ": ")
            if reply.status_code in (401, 403):
                message += f" ({token_origin(self.settings, token)})"
            raise GatewayError(
                message,
                status=reply.status_code,
                transient=error == "rate_limited",
                retry_after=_seconds(reply.headers.get("retry-after")),
            )
        if not isinstance(body, dict):
            raise GatewayError(f"{method} {path}: the gateway's answer is not a JSON object")
        return body

    def get(self, path: str, **params: Any) -> dict[str, Any]:
        return self.request("GET", path, params={k: v for k, v in params.items() if v is not None})

    def ingest(
        self, repo: str, *, idempotency_key: str | None = None, force: bool = False
    ) -> dict[str, Any]:
        """Queue a repository (URL, or file:// path in LOCAL mode); `force` redoes a
        commit already indexed alike."""
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else None
        return self.request(
            "POST",
            f"/api/v1/ingestion/ingest/{quote(repo, safe='')}",
            params={"force": "true"} if force else None,
            write=True,
            headers=headers,
        )
