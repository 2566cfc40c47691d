"""The coordinator's liveness file, its health check (it serves no port to probe).

A coordinator touches `<data dir>/coordinator.alive` after every round trip the queue
answers (poll, blocking read, heartbeat), and removes it when it stops. The file holds
the longest gap expected between two touches; `is_alive` accepts twice that plus a
grace, so a coordinator that hangs or has lost its queue turns unhealthy, and checking
costs the queue no command (an Upstash bill counts every one).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from services.common.config import Settings

FILE_NAME = "coordinator.alive"
GRACE_SECONDS = 10.0


def liveness_file(settings: Settings) -> Path:
    return settings.data_dir / FILE_NAME


@dataclass
class Liveness:
    """Touches `path`; the first touch rewrites it, so a stale file from a dead run is replaced."""

    path: Path
    interval_seconds: float
    _written: bool = field(default=False, init=False)

    def beat(self) -> None:
        if self._written:
            try:
                os.utime(self.path)
                return
            except FileNotFoundError:
                pass
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}")
        tmp.write_text(f"{self.interval_seconds}\n")
        os.replace(tmp, self.path)  # readers never see a half-written file
        self._written = True

    def clear(self) -> None:
        self.path.unlink(missing_ok=True)
        self._written = False


def is_alive(path: Path) -> bool:
    """True when the file was touched within twice the interval it holds, plus a grace."""
    try:
        interval = float(path.read_text())
        age = time.time() - path.stat().st_mtime
    except (OSError, ValueError):
        return False
    return age <= 2 * interval + GRACE_SECONDS
