"""`alexandria` command line: run one process, the whole local stack, the demo,
print one repository's graph, or embed an edge list.

Imports of each service happen inside its command, so `alexandria serve gateway`
never loads torch or tree-sitter.
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
from pathlib import Path
from typing import NoReturn

from alexandria import gateway_commands, output
from alexandria.gateway_errors import GatewayError
from alexandria.stack_state import DataDirInUse
from services.common.children import tie_to_parent
from services.common.config import ConfigError, is_loopback_host, load_settings
from services.common.logs import LogFile, LogFormatSetting, configure_logging

DEFAULT_PORTS = {"parser": 50051, "embedder": 50052, "gateway": 8000}
# Commands whose output is the answer: their info-level logs would only clutter it.
QUIET_COMMANDS = frozenset(
    {"ingest", "jobs", "status", "similar", "search", "doctor", "show", "health"}
)


def _serve(args: argparse.Namespace) -> int:
    from services.common.metrics import serve_metrics

    if args.socket and args.process not in ("parser", "embedder"):
        print("alexandria serve: --socket is for the parser and the embedder", file=sys.stderr)
        return output.USAGE
    tie_to_parent()  # started by `alexandria up`: end when it does
    settings = load_settings()
    remote = args.process != "coordinator" and not args.socket and not is_loopback_host(args.host)
    if settings.local and remote:
        if not args.allow_remote_local:
            print(
                f"alexandria serve: --host {args.host} would let other machines reach a LOCAL "
                f"{args.process}, which reads this machine's repositories; use a loopback "
                "address, or add --allow-remote-local if that is what you want",
                file=sys.stderr,
            )
            return output.USAGE
        print(
            f"warning: LOCAL {args.process} listening on {args.host}: other machines can reach it",
            file=sys.stderr,
        )
    port = args.port or DEFAULT_PORTS.get(args.process, 0)
    # The gateway serves its own metrics at /metrics; its in-process coordinator's go on
    # the coordinator's port.
    metrics_ports = {
        "parser": settings.parser_metrics_port,
        "embedder": settings.embedder_metrics_port,
        "coordinator": settings.coordinator_metrics_port,
        "gateway": settings.coordinator_metrics_port if args.with_coordinator else 0,
    }
    serve_metrics(settings.metrics_host, metrics_ports[args.process])
    address = f"unix:{args.socket}" if args.socket else f"{args.host}:{port}"
    if args.process == "parser":
        from services.parser.server import main as serve_parser

        serve_parser(settings, address)
    elif args.process == "embedder":
        from services.embedder.server import main as serve_embedder

        serve_embedder(settings, address)
    elif args.process == "coordinator":
        from services.ingest.coordinator import main as serve_coordinator

        serve_coordinator(settings)
    else:
        from gateway.server import main as serve_gateway

        serve_gateway(settings, args.host, port, with_coordinator=args.with_coordinator)
    return 0


def _up(args: argparse.Namespace) -> int:
    settings = load_settings(mode="EDGE") if args.edge else load_settings()
    if args.detach:
        from alexandria.background import start_detached

        return start_detached(settings, ["--port", str(args.port), *(["--edge"] * args.edge)])
    from alexandria.stack import run_until_interrupted

    return run_until_interrupted(settings, gateway_port=args.port, edge=args.edge)


def _down(args: argparse.Namespace) -> int:
    from alexandria.background import stop_running

    return stop_running(load_settings())


def _health(args: argparse.Namespace) -> int:
    from alexandria.health import run_health

    return run_health(args.target)


def _demo(args: argparse.Namespace) -> int:
    from alexandria.demo import run_demo

    return run_demo(load_settings(), repo=args.repo, gateway_port=args.port)


def _graph(args: argparse.Namespace) -> int:
    from alexandria.graph_command import run_graph

    return run_graph(
        load_settings(),
        args.source,
        as_json=args.json,
        use_cache=not args.no_cache,
        workers=args.workers,
    )


def _embed(args: argparse.Namespace) -> int:
    from alexandria.embed_command import run_embed

    return run_embed(
        args.edge_list, args.output, seed=args.seed, device=args.device, epochs=args.epochs
    )


def _doctor(args: argparse.Namespace) -> int:
    from alexandria.doctor import run_doctor

    return run_doctor(as_json=args.json)


def _show(args: argparse.Namespace) -> int:
    from alexandria.show_command import run_show

    return run_show(
        load_settings(),
        args.repo,
        out=args.out,
        gateway=args.gateway,
        color_by=args.color_by,
        as_json=args.json,
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="alexandria",
        description=__doc__,
        epilog=output.EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run one process in the foreground")
    serve.add_argument("process", choices=["parser", "embedder", "coordinator", "gateway"])
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default loopback)")
    serve.add_argument(
        "--port", type=int, default=0, help="port (parser 50051, embedder 50052, gateway 8000)"
    )
    serve.add_argument(
        "--socket",
        type=Path,
        default=None,
        help="parser and embedder: listen on this unix socket instead of a port "
        "(grpcurl -unix PATH reaches it)",
    )
    serve.add_argument(
        "--allow-remote-local",
        action="store_true",
        help="LOCAL mode only: allow a non-loopback --host (other machines can then reach "
        "a service that reads this machine's repositories)",
    )
    serve.add_argument(
        "--with-coordinator",
        action="store_true",
        help="gateway only: also run a coordinator in the same process (shares Qdrant local mode)",
    )
    serve.set_defaults(func=_serve)

    up = sub.add_parser(
        "up", help="run the whole stack locally until Ctrl-C (or in the background: --detach)"
    )
    up.add_argument("--port", type=int, default=8000, help="gateway port")
    up.add_argument(
        "--edge",
        action="store_true",
        help="ALEXANDRIA_MODE=EDGE: only parser, embedder and coordinator, on the queue shared "
        "with the gateway (REDIS_URL or UPSTASH_REDIS_REST_*); ports from "
        "ALEXANDRIA_PARSER_ADDR/ALEXANDRIA_EMBEDDER_ADDR",
    )
    up.add_argument(
        "--detach",
        action="store_true",
        help="run in the background and return once healthy (`alexandria down` stops it)",
    )
    up.set_defaults(func=_up)
    down = sub.add_parser("down", help="stop the stack running on the data dir")
    down.set_defaults(func=_down)

    health = sub.add_parser(
        "health", help="exit 0 when an edge process is healthy, else 1 (container health checks)"
    )
    health.add_argument(
        "target", help="parser, embedder, coordinator, or HOST:PORT of any grpc.health.v1 server"
    )
    health.set_defaults(func=_health)

    demo = sub.add_parser("demo", help="start the stack, ingest a repository, show similar files")
    demo.add_argument("repo", nargs="?", default=".", help="repository URL or local path")
    demo.add_argument("--port", type=int, default=0, help="gateway port (default: a free one)")
    demo.set_defaults(func=_demo)

    graph = sub.add_parser("graph", help="print a repository's file dependency graph")
    graph.add_argument("source", help="repository URL, local git repository or directory")
    graph.add_argument("--json", action="store_true", help="the whole graph as one JSON document")
    graph.add_argument("--no-cache", action="store_true", help="parse every file again")
    graph.add_argument("--workers", type=int, default=None, help="parse processes (default: cores)")
    graph.set_defaults(func=_graph)

    embed = sub.add_parser("embed", help="Node2Vec embeddings of an edge list, written as .npy")
    embed.add_argument("--edge-list", type=Path, required=True, help="'src dst' per line")
    embed.add_argument("--output", type=Path, required=True, help="float32 [max_id+1, 64] .npy")
    embed.add_argument("--seed", type=int, default=None, help="fixed seed: reproducible on CPU")
    embed.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    embed.add_argument("--epochs", type=int, default=None, help="default 10")
    embed.set_defaults(func=_embed)

    show = sub.add_parser("show", help="draw an ingested repository's graph as one HTML page")
    show.add_argument("repo", help="repository URL (or local path, LOCAL mode)")
    show.add_argument("--out", type=Path, required=True, help="the HTML file to write")
    show.add_argument(
        "--gateway", default=None, help="gateway URL (default ALEXANDRIA_GATEWAY_URL)"
    )
    show.add_argument("--color-by", choices=["directory", "language"], default="directory")
    show.add_argument("--json", action="store_true", help="print what was written as JSON")
    show.set_defaults(func=_show)

    gateway_commands.register(sub)
    doctor = sub.add_parser("doctor", help="check the configuration and the services it needs")
    doctor.add_argument("--json", action="store_true", help="print JSON for scripts")
    doctor.set_defaults(func=_doctor)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    log_format: LogFormatSetting = "auto"
    log_file = None
    try:
        settings = load_settings()
        log_format = settings.log_format
        if settings.log_file is not None and args.command == "serve":
            log_file = LogFile(settings.log_file, settings.log_max_bytes, settings.log_backups)
    except ConfigError:  # the command that needs the settings reports why
        pass
    configure_logging(
        log_format,
        service=args.command == "serve",
        verbose=args.verbose,
        quiet=args.command in QUIET_COMMANDS,
        file=log_file,
    )
    try:
        return args.func(args)
    except ConfigError as exc:
        print(f"alexandria: {exc}", file=sys.stderr)
        return output.USAGE
    except GatewayError as exc:
        print(f"alexandria: {exc}", file=sys.stderr)
        return output.exit_code_of(exc)
    except TimeoutError as exc:
        print(f"alexandria: {exc}", file=sys.stderr)
        return output.TEMPFAIL
    except DataDirInUse as exc:
        print(f"alexandria: {exc}", file=sys.stderr)
        return output.USAGE
    except KeyboardInterrupt:
        return output.INTERRUPTED


def run() -> NoReturn:
    """The console entry point: `main`, then an exit that skips the collector's last pass.

    After `embed` has imported torch and torch_geometric, that pass over their objects
    took 0.75 s of the process's exit on the 2-core CPU; with them frozen, 0.14 s.
    Finalisation still runs (atexit, stream flushes); only `main` is for in-process use.
    """
    try:
        code = main()
        sys.stdout.flush()
    except BrokenPipeError:
        # The reader went away (`alexandria jobs | head`): stop quietly, as a pipeline
        # expects; stdout goes to /dev/null so that the exit's own flush cannot fail too.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        code = output.PIPE_CLOSED
    gc.freeze()
    sys.exit(code)


if __name__ == "__main__":
    run()
