"""Helpers shared by the peer benchmark scripts; numpy and the standard library only.

The peer scripts run inside the peer virtual environment (TensorFlow, PyTorch), where ddsp_ref
is not installed, so nothing here imports ddsp_ref.
"""

from __future__ import annotations

import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any

import numpy as np

# Workload names shared by every implementation (keys of the JSON results).
WORKLOADS = {
    "harmonic_fwd": "Harmonic synth forward",
    "harmonic_fwd_bwd": "Harmonic forward + backward (amps, distribution)",
    "noise_fwd": "FilteredNoise forward",
    "spectral_loss_vg": "SpectralLoss value + gradient",
    "full_step_vg": "Harmonic + Noise + Reverb + SpectralLoss value + gradient",
}

DEFAULT_DIR = "/tmp/peers"


def median_ms(fun: Callable[[], Any], repeats: int = 5, warmup: int = 1) -> tuple[float, list]:
    """Median wall time in ms of ``fun()`` after ``warmup`` untimed calls, and all the times."""
    for _ in range(warmup):
        fun()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fun()
        times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times), times


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MB.

    Reads VmHWM (the high-water mark of this process image) where /proc exists: Linux carries
    ``ru_maxrss`` across fork + exec, so a child started by a big parent would report the
    parent's RSS at the fork instead of its own peak.
    """
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def load_inputs(path: str) -> dict[str, np.ndarray]:
    with np.load(path) as data:
        return {k: data[k] for k in data.files}


def rss_in_subprocess(script: str, args: list[str], timeout: float = 600.0) -> dict:
    """Run ``script --rss-child ...`` in a fresh interpreter and parse the JSON it prints last."""
    out = subprocess.run(
        [sys.executable, script, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    for line in reversed(out.stdout.splitlines()):
        if line.startswith("{"):
            return json.loads(line)
    return {"error": (out.stderr or out.stdout)[-2000:]}


def machine_info() -> dict:
    return {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpu_count": os.cpu_count(),
        "processor": platform.processor(),
    }


def write_json(path: str, payload: dict) -> None:
    """Write ``payload`` to ``path`` atomically (temporary file, then rename)."""
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(suffix=".json.tmp", dir=folder)
    with os.fdopen(fd, "w") as f:
        json.dump(payload, f, indent=2)
    os.replace(tmp, path)


def save_npz(path: str, arrays: dict[str, Any]) -> None:
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(suffix=".npz.tmp", dir=folder)
    with os.fdopen(fd, "wb") as f:
        np.savez(f, **{k: np.asarray(v) for k, v in arrays.items()})
    os.replace(tmp, path)
