"""What the people-facing commands print: tables, JSON for scripts, a live progress bar,
and the exit codes they end with (0 ok, 1 failed, 2 usage; sysexits for the rest)."""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, TextIO

from alexandria.gateway_errors import GatewayError

OK = 0
FAILED = 1  # the operation ran and failed (a job failed, a file is unknown, a check failed)
USAGE = 2  # bad arguments or configuration
UNAVAILABLE = 69  # EX_UNAVAILABLE: the gateway or a service it needs is unreachable or down
TEMPFAIL = 75  # EX_TEMPFAIL: try again later (queue full)
NOPERM = 77  # EX_NOPERM: missing or wrong token
INTERRUPTED = 130  # Ctrl-C
PIPE_CLOSED = 141  # the output's reader went away (128 + SIGPIPE, as a shell reports it)

EXIT_CODES_HELP = (
    "exit codes: 0 ok, 1 failed (job failed, not found, a check failed), 2 usage or "
    "configuration error, 69 gateway or a service unavailable, 75 queue full (retry later), "
    "77 missing or wrong token, 130 interrupted, 141 output closed early (a pipe)"
)


def exit_code_of(error: GatewayError) -> int:
    """The exit code for a gateway error."""
    if error.status is None or error.status in (502, 503, 504):
        return UNAVAILABLE
    if error.status == 429:
        return TEMPFAIL
    if error.status in (401, 403):
        return NOPERM
    return FAILED


def print_json(value: Any, out: TextIO | None = None) -> None:
    """One JSON document on stdout (keys sorted, for stable diffs)."""
    print(json.dumps(value, indent=2, sort_keys=True, default=str), file=out or sys.stdout)


def print_table(
    rows: Sequence[Sequence[object]], headers: Sequence[str], out: TextIO | None = None
) -> None:
    """Left-aligned columns sized to their widest cell; numbers right-aligned."""
    cells = [[str(h) for h in headers], *[[_cell(v) for v in row] for row in rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    numeric = [bool(rows) and all(_is_number(row[i]) for row in rows) for i in range(len(headers))]
    stream = out or sys.stdout
    for r in cells:
        line = "  ".join(
            c.rjust(w) if num else c.ljust(w) for c, w, num in zip(r, widths, numeric, strict=True)
        )
        print(line.rstrip(), file=stream)


class Score(float):
    """A ranking score (a cosine, a fused score): a table prints it as `score_text` does."""


def score_text(value: float) -> str:
    """The one way the CLI writes a score: three decimals ("0.812", "-0.120", "1.000")."""
    return f"{value:.3f}"


def utc_day(moment: float | str | None) -> str:
    """A time (unix seconds, or ISO-8601) as its UTC date "2026-10-02"; "" when unknown."""
    if moment is None or moment == "":
        return ""
    if isinstance(moment, int | float):
        return "" if moment <= 0 else datetime.fromtimestamp(moment, UTC).date().isoformat()
    try:
        parsed = datetime.fromisoformat(moment.replace("Z", "+00:00"))
    except ValueError:
        return moment[:10]
    return (parsed.astimezone(UTC) if parsed.tzinfo else parsed).date().isoformat()


def _cell(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, Score):
        return score_text(value)
    if isinstance(value, float):
        return f"{value:.3f}".rstrip("0").rstrip(".") if value % 1 else f"{value:.0f}"
    return str(value)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


class ProgressLine:
    """A job's phase and percent: a redrawn bar on a terminal, one line per change otherwise."""

    def __init__(self, out: TextIO | None = None) -> None:
        self.out = out or sys.stdout
        self.live = self.out.isatty()
        self._last = ""

    def update(self, job: dict[str, Any]) -> None:
        percent = max(0.0, min(100.0, float(job.get("progress_percent", 0.0))))
        label = f"{job.get('status', '')} {job.get('phase', '')}".strip()
        if job.get("stalled"):
            label = f"stalled: {job['stalled']}"
        if not self.live:
            line = f"{label} {percent:.0f}%"
            if line != self._last:
                print(line, file=self.out, flush=True)
                self._last = line
            return
        width = max(10, min(40, shutil.get_terminal_size().columns - 30))
        filled = round(width * percent / 100)
        bar = "#" * filled + "-" * (width - filled)
        print(f"\r[{bar}] {percent:5.1f}% {label:<16}", end="", file=self.out, flush=True)

    def close(self) -> None:
        if self.live:
            print(file=self.out, flush=True)
