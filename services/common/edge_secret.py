"""An optional secret shared by the coordinator and the edge gRPC services.

An edge in containers or under systemd serves the parser and the embedder on TCP
ports, where any process that reaches the port could call them (a LOCAL stack uses
unix sockets in its private data dir instead: `local_sockets.py`). With
`ALEXANDRIA_EDGE_SHARED_SECRET` set, each of their calls must carry it in the
`x-alexandria-secret` metadata: `RequireSecret` compares it in constant time and
refuses a call without it, UNAUTHENTICATED, before its handler runs. Health checks and
reflection stay open. The coordinator's channels send it (`edge_channel`).
"""

from __future__ import annotations

import hmac
from collections.abc import AsyncIterable, Awaitable, Callable
from typing import Any

import grpc

from services.common.streams import drain_requests

METADATA_KEY = "x-alexandria-secret"
OPEN_METHODS = (
    "/grpc.health.v1.Health/",
    "/grpc.reflection.v1alpha.ServerReflection/",
    "/grpc.reflection.v1.ServerReflection/",
)
"""Method prefixes anyone may call: health checks and reflection (grpcurl `list`)."""
REFUSED = f"missing or wrong {METADATA_KEY} metadata (the edge's ALEXANDRIA_EDGE_SHARED_SECRET)"


class RequireSecret(grpc.aio.ServerInterceptor):
    """Refuses calls that do not carry `secret`, except `OPEN_METHODS`."""

    def __init__(self, secret: str) -> None:
        self._secret = secret.encode()

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(handler_call_details)
        if handler is None or handler_call_details.method.startswith(OPEN_METHODS):
            return handler
        metadata = dict(handler_call_details.invocation_metadata or ())
        sent = metadata.get(METADATA_KEY, "")
        sent_bytes = sent.encode() if isinstance(sent, str) else bytes(sent)
        if hmac.compare_digest(sent_bytes, self._secret):
            return handler
        return _refusal(handler)


def _refusal(handler: grpc.RpcMethodHandler) -> grpc.RpcMethodHandler:
    """A handler of the same shape as `handler` that only refuses the call (a streamed
    request is drained first: `streams.drain_requests`)."""

    async def refuse(request: Any, context: grpc.aio.ServicerContext) -> None:
        if handler.request_streaming:
            await drain_requests(request)
        await context.abort(grpc.StatusCode.UNAUTHENTICATED, REFUSED)

    make = {
        (False, False): grpc.unary_unary_rpc_method_handler,
        (False, True): grpc.unary_stream_rpc_method_handler,
        (True, False): grpc.stream_unary_rpc_method_handler,
        (True, True): grpc.stream_stream_rpc_method_handler,
    }[(handler.request_streaming, handler.response_streaming)]
    return make(
        refuse,
        request_deserializer=handler.request_deserializer,
        response_serializer=handler.response_serializer,
    )


def _with_secret(details: grpc.aio.ClientCallDetails, secret: str) -> grpc.aio.ClientCallDetails:
    metadata = grpc.aio.Metadata(*(details.metadata or ()), (METADATA_KEY, secret))
    return details._replace(metadata=metadata)


class _SendSecretUnaryStream(grpc.aio.UnaryStreamClientInterceptor):
    """Adds the secret to a unary-stream call's metadata (ParseRepository)."""

    def __init__(self, secret: str) -> None:
        self._secret = secret

    async def intercept_unary_stream(
        self, continuation: Any, client_call_details: grpc.aio.ClientCallDetails, request: Any
    ) -> Any:
        return await continuation(_with_secret(client_call_details, self._secret), request)


class _SendSecretStreamStream(grpc.aio.StreamStreamClientInterceptor):
    """Adds the secret to a stream-stream call's metadata (Train). A channel files each
    interceptor under one kind of call only, hence one class per kind."""

    def __init__(self, secret: str) -> None:
        self._secret = secret

    async def intercept_stream_stream(
        self,
        continuation: Any,
        client_call_details: grpc.aio.ClientCallDetails,
        request_iterator: AsyncIterable[Any],
    ) -> Any:
        details = _with_secret(client_call_details, self._secret)
        return await continuation(details, request_iterator)


def edge_channel(address: str, secret: str | None) -> grpc.aio.Channel:
    """A channel to an edge service at `address` that sends `secret` when there is one."""
    if not secret:
        return grpc.aio.insecure_channel(address)
    interceptors = [_SendSecretUnaryStream(secret), _SendSecretStreamStream(secret)]
    return grpc.aio.insecure_channel(address, interceptors=interceptors)
