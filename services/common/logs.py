"""Process logs: one JSON object per line (or readable text), each line tagged with the
job and the HTTP request it was logged for.

The ids live in context variables. The gateway binds a request id per HTTP request,
the coordinator binds a job's ids while it works the job and sends them to the
parser and embedder as gRPC metadata (`x-job-id`, `x-request-id`), whose servers
bind them for the call. asyncio tasks and `asyncio.to_thread` copy the context, so
work started inside a call is tagged too.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import sys
import uuid
from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from logging.handlers import RotatingFileHandler
from pathlib import Path
from typing import Literal, TextIO

LogFormat = Literal["json", "text"]
LogFormatSetting = Literal["auto", "json", "text"]

JOB_ID: ContextVar[str] = ContextVar("job_id", default="")
REQUEST_ID: ContextVar[str] = ContextVar("request_id", default="")
JOB_ID_KEY = "x-job-id"
REQUEST_ID_KEY = "x-request-id"
"""gRPC metadata keys; the request id's is also the HTTP header's name."""

_SANE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")
_IDS = (("job_id", JOB_ID), ("request_id", REQUEST_ID))
_METADATA = ((JOB_ID_KEY, JOB_ID), (REQUEST_ID_KEY, REQUEST_ID))
# A record's own attributes (and uvicorn's ANSI-coloured copy of the message); any other
# attribute came from `extra=` and becomes a field.
_NOT_FIELDS = frozenset(vars(logging.makeLogRecord({}))) | {"message", "taskName", "color_message"}


def sane_id(value: str | None) -> str | None:
    """`value` when it is usable as an id (1-128 letters, digits or `._:-`), else None."""
    return value if value and _SANE_ID.fullmatch(value) else None


def new_id() -> str:
    """A fresh request id."""
    return uuid.uuid4().hex


@contextlib.contextmanager
def bound(*, job_id: str, request_id: str = "") -> Iterator[None]:
    """Tag the lines logged inside the block with this job and request."""
    job_token, request_token = JOB_ID.set(job_id), REQUEST_ID.set(request_id)
    try:
        yield
    finally:
        REQUEST_ID.reset(request_token)
        JOB_ID.reset(job_token)


def outgoing_metadata() -> tuple[tuple[str, str], ...]:
    """The ids in context as gRPC metadata, for a call to an edge service."""
    return tuple((key, value) for key, var in _METADATA if (value := var.get()))


def bind_metadata(metadata: Mapping[str, str]) -> None:
    """Set the ids in context from a caller's gRPC metadata; an insane one is dropped."""
    for key, var in _METADATA:
        var.set(sane_id(metadata.get(key)) or "")


class _ContextIds(logging.Filter):
    """Sets `job_id` and `request_id` on each record from the context (`extra=` wins)."""

    def filter(self, record: logging.LogRecord) -> bool:
        for name, var in _IDS:
            if not getattr(record, name, ""):
                setattr(record, name, var.get())
        return True


class JsonFormatter(logging.Formatter):
    """`{"ts", "level", "logger", "message", "job_id"?, "request_id"?, extras..., "exc"?}`."""

    def format(self, record: logging.LogRecord) -> str:
        ts = datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")
        entry: dict[str, object] = {
            "ts": ts.replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update(
            (key, value)
            for key, value in vars(record).items()
            if key not in _NOT_FIELDS and value not in ("", None)
        )
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """`time LEVEL logger: message [job_id=… request_id=…]`."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def formatMessage(self, record: logging.LogRecord) -> str:
        values = ((name, getattr(record, name, "")) for name, _ in _IDS)
        ids = " ".join(f"{name}={value}" for name, value in values if value)
        line = super().formatMessage(record)
        return f"{line} [{ids}]" if ids else line


def choose_format(setting: LogFormatSetting, *, service: bool, stream: TextIO) -> LogFormat:
    """`json`/`text` as set; `auto` is JSON for a service or a stream that is not a terminal."""
    if setting != "auto":
        return setting
    return "json" if service or not stream.isatty() else "text"


def make_handler(log_format: LogFormat, stream: TextIO) -> logging.Handler:
    """A handler writing tagged lines in `log_format` to `stream`."""
    return _tagged(logging.StreamHandler(stream), log_format)


def _tagged(handler: logging.Handler, log_format: LogFormat) -> logging.Handler:
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    handler.addFilter(_ContextIds())
    return handler


@dataclass(frozen=True)
class LogFile:
    """Log to this file, rotated once it passes `max_bytes`, keeping `backups` old ones."""

    path: Path
    max_bytes: int
    backups: int

    def rotate_if_full(self) -> None:
        """Rotate the file now if it has passed `max_bytes` (`path` → `path.1` → …, the
        oldest dropped; with no backups it is emptied): for a log that another program
        writes, such as the embedded redis-server's, rotated each time it starts."""
        if not self.path.exists() or self.path.stat().st_size < self.max_bytes:
            return
        if self.backups == 0:
            self.path.unlink()
            return
        RotatingFileHandler(
            self.path, maxBytes=self.max_bytes, backupCount=self.backups, delay=True
        ).doRollover()


def configure_logging(
    setting: LogFormatSetting,
    *,
    service: bool,
    verbose: bool = False,
    quiet: bool = False,
    file: LogFile | None = None,
) -> None:
    """Send every log line (warnings too) to stderr, or to a rotated `file`, in the
    chosen format (`choose_format`; JSON for a service's file): debug when `verbose`,
    else warnings only when `quiet` (commands whose output is the answer), else info."""
    if file is None:
        handler = make_handler(
            choose_format(setting, service=service, stream=sys.stderr), sys.stderr
        )
    else:
        log_format: LogFormat = "text" if setting == "text" else "json"
        rotating = RotatingFileHandler(
            file.path, maxBytes=file.max_bytes, backupCount=file.backups, encoding="utf-8"
        )
        handler = _tagged(rotating, log_format)
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING if quiet else logging.INFO,
        handlers=[handler],
        force=True,
    )
    logging.captureWarnings(True)
    logging.getLogger("httpx").setLevel(logging.WARNING)
