"""Structured logs: JSON lines tagged with the job and request in context, the text
format, the format choice, and the ids crossing a gRPC call as metadata."""

from __future__ import annotations

import asyncio
import io
import json
import logging
from pathlib import Path

import grpc
import pytest
from log_capture import captured_json_log

from services.common import logs
from services.common.grpc_server import CallerIds
from services.common.logs import LogFile, configure_logging

log = logging.getLogger("tests.logs")


def test_a_json_line_carries_the_ids_in_context_and_the_extra_fields() -> None:
    with captured_json_log() as captured:
        log.info("outside")
        with logs.bound(job_id="job-1", request_id="req-1"):
            log.warning("parsed %d files", 3, extra={"files": 3, "repo_url": "https://x/y"})
            with logs.bound(job_id="job-2"):
                log.info("nested")
        log.info("after")
    outside, parsed, nested, after = captured.entries()
    assert set(outside) == {"ts", "level", "logger", "message"}
    assert outside["logger"] == "tests.logs" and outside["level"] == "INFO"
    assert outside["ts"].endswith("Z") and "T" in outside["ts"]
    assert parsed == {
        "ts": parsed["ts"],
        "level": "WARNING",
        "logger": "tests.logs",
        "message": "parsed 3 files",
        "files": 3,
        "repo_url": "https://x/y",
        "job_id": "job-1",
        "request_id": "req-1",
    }
    assert nested["job_id"] == "job-2" and "request_id" not in nested
    assert "job_id" not in after and "request_id" not in after


def test_an_exception_and_a_multiline_message_stay_on_one_line() -> None:
    with captured_json_log() as captured:
        try:
            raise ValueError("boom")
        except ValueError:
            log.exception("first\nsecond", extra={"when": object()})
    (entry,) = captured.entries()  # one line: entries() parses line by line
    assert entry["message"] == "first\nsecond"
    assert "ValueError: boom" in entry["exc"] and entry["when"].startswith("<object")


def test_an_extra_id_wins_over_the_context() -> None:
    with captured_json_log() as captured, logs.bound(job_id="context"):
        log.info("x", extra={"job_id": "explicit"})
    assert captured.entries()[0]["job_id"] == "explicit"


def test_the_text_format_appends_the_ids() -> None:
    stream = io.StringIO()
    handler = logs.make_handler("text", stream)
    log.addHandler(handler)
    try:
        log.warning("plain")
        with logs.bound(job_id="j", request_id="r"):
            log.warning("tagged")
    finally:
        log.removeHandler(handler)
    plain, tagged = stream.getvalue().splitlines()
    assert plain.endswith("WARNING tests.logs: plain")
    assert tagged.endswith("WARNING tests.logs: tagged [job_id=j request_id=r]")


class _Stream(io.StringIO):
    def __init__(self, tty: bool) -> None:
        super().__init__()
        self.tty = tty

    def isatty(self) -> bool:
        return self.tty


@pytest.mark.parametrize(
    ("setting", "service", "tty", "expected"),
    [
        ("auto", True, True, "json"),
        ("auto", False, False, "json"),
        ("auto", False, True, "text"),
        ("text", True, False, "text"),
        ("json", False, True, "json"),
    ],
)
def test_the_format_choice(
    setting: logs.LogFormatSetting, service: bool, tty: bool, expected: str
) -> None:
    assert logs.choose_format(setting, service=service, stream=_Stream(tty)) == expected


@pytest.mark.parametrize(
    ("value", "sane"),
    [
        ("0f3c9a2b", True),
        ("req-1.a:b_c", True),
        ("a" * 128, True),
        ("a" * 129, False),
        ("", False),
        (None, False),
        ("-leading-dash", False),
        ("has space", False),
        ("line\nbreak", False),
        ('{"json":1}', False),
    ],
)
def test_only_sane_ids_are_taken_from_callers(value: str | None, sane: bool) -> None:
    assert logs.sane_id(value) == (value if sane else None)


def test_the_ids_cross_a_grpc_call_as_metadata_and_stay_per_call() -> None:
    """Concurrent calls through `CallerIds` each log their own caller's ids."""

    async def handler(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
        await asyncio.sleep(0.01)  # interleave the calls
        log.info("handled %s", request.decode())
        return request

    async def main() -> None:
        server = grpc.aio.server(interceptors=[CallerIds()])
        server.add_generic_rpc_handlers(
            (
                grpc.method_handlers_generic_handler(
                    "test.Echo", {"Echo": grpc.unary_unary_rpc_method_handler(handler)}
                ),
            )
        )
        port = server.add_insecure_port("127.0.0.1:0")
        await server.start()
        try:
            async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
                echo = channel.unary_unary("/test.Echo/Echo")

                async def call(name: str, **ids: str) -> None:
                    with logs.bound(job_id=ids.get("job_id", ""), request_id=ids.get("req", "")):
                        await echo(name.encode(), metadata=logs.outgoing_metadata())

                await asyncio.gather(
                    call("a", job_id="job-a", req="req-a"),
                    call("b", job_id="job-b"),
                    call("c"),
                )
                await echo(b"hostile", metadata=(("x-job-id", "a b"), ("x-request-id", "ok-1")))
        finally:
            await server.stop(None)

    with captured_json_log() as captured:
        asyncio.run(main())
    handled = {
        e["message"].removeprefix("handled "): (e.get("job_id"), e.get("request_id"))
        for e in captured.entries()
        if e["logger"] == "tests.logs"
    }
    assert handled == {
        "a": ("job-a", "req-a"),
        "b": ("job-b", None),
        "c": (None, None),
        "hostile": (None, "ok-1"),
    }


def test_configure_logging_writes_json_lines_to_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        logs.configure_logging("json", service=True)
        with logs.bound(job_id="j"):
            logging.getLogger("httpx").info("quiet: httpx logs warnings only")
            log.info("loud")
    finally:
        root.handlers[:], _ = saved
        root.setLevel(saved[1])
        logging.captureWarnings(False)
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    assert [(e["message"], e["job_id"]) for e in lines] == [("loud", "j")]


def test_a_log_file_is_rotated_past_its_size_keeping_its_backups(tmp_path: Path) -> None:
    """ALEXANDRIA_LOG_FILE: JSON lines in the file, rotated at ALEXANDRIA_LOG_MAX_BYTES,
    ALEXANDRIA_LOG_BACKUPS kept."""
    path = tmp_path / "parser.log"
    configure_logging("auto", service=True, file=LogFile(path, max_bytes=4096, backups=2))
    try:
        for i in range(500):
            logging.getLogger("test.rotation").info("line %d of a long run", i)
    finally:
        configure_logging("auto", service=False)
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["parser.log", "parser.log.1", "parser.log.2"]
    for name in names:
        text = (tmp_path / name).read_text()
        assert 0 < len(text.encode()) <= 4096 + 512
        assert all(json.loads(line)["logger"] == "test.rotation" for line in text.splitlines())
    assert "line 499 of a long run" in (tmp_path / "parser.log").read_text()


def test_the_embedded_redis_log_is_rotated_when_the_server_starts(tmp_path: Path) -> None:
    """redis-server cannot rotate its own log: past ALEXANDRIA_LOG_MAX_BYTES it is moved aside
    before the server starts, ALEXANDRIA_LOG_BACKUPS kept, and the server logs warnings only."""
    from services.common.embedded_redis import ensure_embedded_redis

    log = tmp_path / "redis.log"
    log.write_text("old line\n" * 1000)  # 9,000 bytes
    (tmp_path / "redis.log.1").write_text("older\n")
    _, server = ensure_embedded_redis(tmp_path, log_limits=(4096, 1))
    assert server is not None
    try:
        assert (tmp_path / "redis.log.1").read_text() == "old line\n" * 1000  # "older" dropped
        assert not (tmp_path / "redis.log.2").exists()
        assert log.stat().st_size < 4096
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_a_full_log_without_backups_is_emptied(tmp_path: Path) -> None:
    log = tmp_path / "x.log"
    log.write_text("x" * 100)
    LogFile(log, max_bytes=50, backups=0).rotate_if_full()
    assert not log.exists()
    log.write_text("x" * 10)
    LogFile(log, max_bytes=50, backups=0).rotate_if_full()
    assert log.read_text() == "x" * 10
