"""Capture what the processes' JSON log handler writes, one parsed object per line."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from services.common.logs import make_handler


class CapturedLog:
    def __init__(self) -> None:
        self.stream = io.StringIO()

    def entries(self) -> list[dict[str, Any]]:
        """Every line written so far, each parsed as one JSON object."""
        return [json.loads(line) for line in self.stream.getvalue().splitlines()]


@contextmanager
def captured_json_log() -> Iterator[CapturedLog]:
    """Add a JSON handler (INFO and up) to the root logger for the block."""
    captured = CapturedLog()
    handler = make_handler("json", captured.stream)
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        yield captured
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
