"""Timing helpers for the benchmarks: warm-up, device synchronisation, medians, peak memory."""

from __future__ import annotations

import resource
import statistics
import time
from collections.abc import Callable
from typing import Any

from ddsp_ref.backend import synchronize


def median_ms(fun: Callable[[], Any], repeats: int = 5, warmup: int = 1, xp=None) -> float:
    """Median wall time of ``fun()`` in milliseconds after ``warmup`` untimed calls."""
    import numpy as np

    xp = np if xp is None else xp
    for _ in range(warmup):
        fun()
    synchronize(xp)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fun()
        synchronize(xp)
        times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times)


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MB.

    Reads the process's own high-water mark (VmHWM) from /proc: ``ru_maxrss`` is inherited
    from the parent on fork, so in a child started by a large parent it reports the parent's.
    """
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def print_table(title: str, rows: list[tuple], header: tuple) -> None:
    print(f"\n{title}")
    widths = [max(len(str(r[i])) for r in rows + [header]) for i in range(len(header))]
    line = "  ".join(str(h).ljust(w) for h, w in zip(header, widths))
    print(line)
    print("-" * len(line))
    for r in rows:
        print("  ".join(str(c).ljust(w) for c, w in zip(r, widths)))
