"""Prometheus metrics of the edge processes: the default registry, served over HTTP.

Each edge module registers its own metrics at import, so a process exposes only the
metrics of what it runs (plus prometheus_client's process and Python collectors).
"""

from __future__ import annotations

import logging

from prometheus_client import start_http_server

log = logging.getLogger(__name__)

DURATION_BUCKETS = (0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0)
"""Histogram buckets, in seconds, for the phases of a job (a fraction of a second to an hour)."""


def serve_metrics(host: str, port: int) -> None:
    """Serve this process's metrics at http://host:port/metrics from a daemon thread;
    port 0 serves nothing."""
    if port:
        start_http_server(port, addr=host)
        log.info("metrics on http://%s:%d/metrics", host, port)
