"""Run an edge gRPC service: grpc.aio, grpc.health.v1, server reflection, graceful stop.

Parser and embedder both start through `run_service`, so grpcurl can list and call
either with no proto files, and a SIGTERM drains in-flight calls before exiting.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Awaitable, Callable

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from services.common import logs
from services.common.edge_secret import RequireSecret

log = logging.getLogger(__name__)


class CallerIds(grpc.aio.ServerInterceptor):
    """Tags a call's log lines with the caller's job and request ids (`x-job-id`,
    `x-request-id` metadata). grpc.aio runs each call, interceptors included, in a task
    of its own, so the ids set here hold for that call's handler only."""

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        logs.bind_metadata(dict(handler_call_details.invocation_metadata or ()))
        return await continuation(handler_call_details)


async def run_service(
    *,
    name: str,
    full_service_name: str,
    register: Callable[[grpc.aio.Server], None],
    address: str,
    grace_seconds: float,
    secret: str | None = None,
    ready: asyncio.Event | None = None,
) -> None:
    """Serve one gRPC service at `address` (HOST:PORT, or unix:PATH for a unix socket)
    until SIGINT/SIGTERM, then give calls in flight `grace_seconds` to finish before
    they are cancelled. With `secret`, calls other than health and reflection must carry
    it (`edge_secret.RequireSecret`)."""
    interceptors: list[grpc.aio.ServerInterceptor] = [CallerIds()]
    if secret:
        interceptors.append(RequireSecret(secret))
    server = grpc.aio.server(interceptors=interceptors)
    register(server)
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    reflection.enable_server_reflection(
        (full_service_name, health.SERVICE_NAME, reflection.SERVICE_NAME), server
    )
    bound = server.add_insecure_port(address)
    if bound == 0:
        raise OSError(f"{name}: cannot bind {address}")
    await server.start()
    for service in ("", full_service_name):
        await health_servicer.set(service, health_pb2.HealthCheckResponse.SERVING)
    where = address if address.startswith("unix:") else f"{address.rpartition(':')[0]}:{bound}"
    log.info("%s listening on %s", name, where)
    if ready is not None:
        ready.set()

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    log.info("%s shutting down", name)
    await health_servicer.enter_graceful_shutdown()
    await server.stop(grace_seconds)
