"""Run the gateway with uvicorn (`alexandria serve gateway`)."""

from __future__ import annotations

import uvicorn

from gateway.app import create_app
from services.common.config import Settings


def main(settings: Settings, host: str, port: int, *, with_coordinator: bool = False) -> None:
    app = create_app(settings, with_coordinator=with_coordinator)
    # log_config=None: uvicorn's lines go through the process's logging setup (JSON lines).
    uvicorn.run(app, host=host, port=port, log_level="info", access_log=False, log_config=None)
