"""Tables, exit codes and the progress line of the people-facing commands."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pytest

from alexandria import output
from alexandria.gateway_errors import GatewayError


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(
    ("status", "code"),
    [
        (None, output.UNAVAILABLE),
        (503, output.UNAVAILABLE),
        (429, output.TEMPFAIL),
        (401, output.NOPERM),
        (400, output.FAILED),
        (404, output.FAILED),
        (422, output.FAILED),
    ],
)
def test_gateway_errors_map_to_conventional_exit_codes(status: int | None, code: int) -> None:
    assert output.exit_code_of(GatewayError("x", status=status)) == code


def test_table_aligns_columns_and_right_aligns_numbers() -> None:
    out = io.StringIO()
    output.print_table([("a.py", 0.5, 3), ("long/name.py", 0.25, 12)], ["file", "score", "n"], out)
    assert out.getvalue().splitlines() == [
        "file          score   n",
        "a.py            0.5   3",
        "long/name.py   0.25  12",
    ]


def test_progress_redraws_one_bar_on_a_terminal() -> None:
    out = Terminal()
    line = output.ProgressLine(out)
    line.update({"status": "running", "phase": "train", "progress_percent": 50.0})
    line.update({"status": "complete", "phase": "done", "progress_percent": 100.0})
    line.close()
    frames = out.getvalue().split("\r")[1:]
    assert len(frames) == 2 and frames[1].endswith("\n")
    assert "50.0% running train" in frames[0]
    bar = frames[0][frames[0].index("[") + 1 : frames[0].index("]")]
    assert bar.count("#") == bar.count("-")
    assert "100.0% complete done" in frames[1] and "-" not in frames[1].split("]")[0]


def test_progress_prints_one_line_per_change_elsewhere() -> None:
    out = io.StringIO()
    line = output.ProgressLine(out)
    for percent in (0.0, 0.0, 40.0, 40.0, 100.0):
        line.update({"status": "running", "phase": "parse", "progress_percent": percent})
    assert out.getvalue().splitlines() == [
        "running parse 0%",
        "running parse 40%",
        "running parse 100%",
    ]


def test_a_stalled_job_says_why_instead_of_its_phase() -> None:
    out = io.StringIO()
    line = output.ProgressLine(out)
    stalled = "worker w1 offline since 2026-12-04T13:00:00Z, will be retried by 13:02:00Z"
    line.update({"status": "running", "phase": "train", "progress_percent": 66.0})
    line.update(
        {"status": "running", "phase": "train", "progress_percent": 66.0, "stalled": stalled}
    )
    assert out.getvalue().splitlines() == ["running train 66%", f"stalled: {stalled} 66%"]


@pytest.mark.parametrize(
    ("moment", "day"),
    [
        (1_790_000_000, "2026-09-21"),
        ("2026-10-02T21:14:03Z", "2026-10-02"),
        ("2026-10-02T23:00:00-02:00", "2026-10-03"),  # the UTC date
        ("2026-10-02", "2026-10-02"),
        ("soon", "soon"),
        (0, ""),
        ("", ""),
        (None, ""),
    ],
)
def test_times_print_as_their_utc_day(moment: float | str | None, day: str) -> None:
    assert output.utc_day(moment) == day


def test_a_reader_that_stops_early_ends_the_command_quietly(tmp_path: Path) -> None:
    """`alexandria graph DIR --json | head -c 0`: the reader is gone before the document
    is written (a pipe may hold a whole document, so it goes first): no BrokenPipeError
    traceback, and the status a shell gives a command stopped by SIGPIPE."""
    for i in range(400):
        (tmp_path / f"module_{i}.py").write_text(
            f"import module_{(i + 1) % 400}\nVALUE_{i} = {i}\n"
        )
    proc = subprocess.Popen(
        [sys.executable, "-m", "alexandria.cli", "graph", str(tmp_path), "--json"],
        cwd=Path(__file__).parents[3],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # the reader goes away before anything is written
    errors = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == output.PIPE_CLOSED == 141
    assert "Traceback" not in errors and "BrokenPipeError" not in errors, errors
