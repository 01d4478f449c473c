"""What every benchmark returns, so `make bench` can print one table.

Targets are ratios to a baseline measured in the same run, because the machines are shared
and noisy: absolute times drift, ratios much less.
"""

from __future__ import annotations

import inspect
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Result:
    name: str  # what was measured, e.g. "register import, seed scale"
    value: float  # the measured figure (seconds, req/s, MB, ...)
    unit: str  # "s", "req/s", "MB", "ms"
    baseline_name: str = ""  # e.g. "sqlite3 executemany of the same rows"
    baseline: float | None = None
    target: str = ""  # e.g. "ratio <= 2.5"
    ok: bool | None = None  # whether the target holds, None when there is none

    @property
    def ratio(self) -> float | None:
        if self.baseline in (None, 0):
            return None
        return self.value / self.baseline


def timed(fn: Callable[[], object]) -> tuple[float, object]:
    """Wall time of one call, with its result."""
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def peak_mb() -> float:
    """The peak resident memory of this process image (VmHWM), in MB. Not ru_maxrss: Linux
    carries that across fork+exec, so a child started by a big parent would report the
    parent's peak."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


#: Python source defining ``peak_mb()``, for benchmark child processes run with ``-c``.
PEAK_MB_SOURCE = "\n" + inspect.getsource(peak_mb)


def children_peak_mb(stop: threading.Event, out: list[float], every: float = 0.05) -> None:
    """Until ``stop``: the largest VmHWM among this process's children, into ``out[0]``.

    Sampled from /proc (a high-water mark, so any sample after a child's peak sees it).
    Not RUSAGE_CHILDREN: Linux starts a child's ru_maxrss at its parent's size at fork.
    """
    me = os.getpid()
    while not stop.wait(every):
        for task in os.listdir(f"/proc/{me}/task"):
            try:
                with open(f"/proc/{me}/task/{task}/children") as fh:
                    kids = fh.read().split()
                for kid in kids:
                    with open(f"/proc/{kid}/status") as fh:
                        for line in fh:
                            if line.startswith("VmHWM:"):
                                out[0] = max(out[0], int(line.split()[1]) / 1024)
            except OSError:  # a child or thread that ended meanwhile
                continue
