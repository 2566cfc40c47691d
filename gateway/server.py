"""Run the gateway with uvicorn (`alexandria serve gateway`): connections bounded in
time and number (`connections.py`)."""

from __future__ import annotations

import uvicorn

from gateway.app import create_app
from gateway.connections import head_timeout_protocol
from services.common.config import Settings

KEEP_ALIVE_SECONDS = 5  # an idle connection between requests is closed after this


def main(settings: Settings, host: str, port: int, *, with_coordinator: bool = False) -> None:
    app = create_app(settings, with_coordinator=with_coordinator)
    # log_config=None: uvicorn's lines go through the process's logging setup (JSON lines).
    uvicorn.run(
        app,
        host=host,
        port=port,
        log_level="info",
        access_log=False,
        log_config=None,
        http=head_timeout_protocol(settings.gateway_head_timeout_seconds),
        timeout_keep_alive=KEEP_ALIVE_SECONDS,
        limit_concurrency=settings.gateway_max_connections,
    )
