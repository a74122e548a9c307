"""Peak memory of long renders on every synthesis path (goal: 10 min at 48 kHz < 1 GB).

Each row renders ``--seconds`` of audio (default 600) at 48 kHz, batch 1, float32, 100
harmonics with all the energy on the fundamental, in a fresh subprocess that first warms up
(numba loads or compiles its kernels) and then resets its high-water mark, so the peak
resident memory (VmHWM) is the render's own: the whole process, inputs and output included.
Rows cover core.harmonic_synthesis with every ``amp_resample_method`` and frame rates from 1 to
1000 Hz, ``harmonic_shifts``, the Harmonic, Sinusoidal and Wavetable synths, and
streaming_harmonic_synthesis. The last column checks the output (finite; RMS of the last
second: 1/sqrt(2) where the controls are not scaled).

Run: python -m benchmarks.bench_long_audio [--seconds 600] [--only PATTERN]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np

try:
    from benchmarks.timing import peak_rss_mb, print_table
except ImportError:  # run as a script from the benchmarks folder
    from timing import peak_rss_mb, print_table

SR, N_HARMONICS = 48000, 100

# (label, path, frames per second, amp_resample_method)
ROWS = [
    ("harmonic_synthesis window 250 fps", "harmonic_synthesis", 250, "window"),
    ("harmonic_synthesis window 1 fps", "harmonic_synthesis", 1, "window"),
    ("harmonic_synthesis window 1000 fps", "harmonic_synthesis", 1000, "window"),
    ("harmonic_synthesis linear 250 fps", "harmonic_synthesis", 250, "linear"),
    ("harmonic_synthesis nearest 250 fps", "harmonic_synthesis", 250, "nearest"),
    ("harmonic_synthesis cubic 250 fps", "harmonic_synthesis", 250, "cubic"),
    ("harmonic_synthesis shifts 250 fps", "shifts", 250, "window"),
    ("harmonic_synthesis shifts 1000 fps", "shifts", 1000, "window"),
    ("synths.Harmonic (defaults) 250 fps", "Harmonic", 250, "window"),
    ("synths.Harmonic (defaults) 1000 fps", "Harmonic", 1000, "window"),
    ("synths.Harmonic (defaults) 1 fps", "Harmonic", 1, "window"),
    ("synths.Harmonic cubic 1000 fps", "Harmonic", 1000, "cubic"),
    ("streaming_harmonic_synthesis 250 fps", "streaming", 250, "linear"),
    ("streaming.HarmonicStream, one block 250 fps", "HarmonicStream", 250, "window"),
    ("synths.Sinusoidal (defaults) 100 sines 250 fps", "Sinusoidal", 250, "window"),
    ("synths.Sinusoidal (defaults) 100 sines 1000 fps", "Sinusoidal", 1000, "window"),
    ("synths.Wavetable 512-pt tables 250 fps", "Wavetable", 250, "window"),
]


def _controls(seconds: float, fps: int) -> tuple:
    n_frames = max(1, int(round(seconds * fps)))
    f0 = np.full((1, n_frames, 1), 440.0, np.float32)
    amps = np.ones((1, n_frames, 1), np.float32)
    dist = np.zeros((1, n_frames, N_HARMONICS), np.float32)
    dist[..., 0] = 1.0
    return f0, amps, dist


def _render(path: str, seconds: float, fps: int, method: str) -> np.ndarray:
    from ddsp_ref import core, synths

    n = int(seconds * SR)
    f0, amps, dist = _controls(seconds, fps)
    if path == "harmonic_synthesis":
        return core.harmonic_synthesis(
            f0, amps, harmonic_distribution=dist, n_samples=n, sample_rate=SR,
            amp_resample_method=method,
        )  # fmt: skip
    if path == "shifts":
        return core.harmonic_synthesis(
            f0, amps, harmonic_shifts=np.zeros_like(dist), harmonic_distribution=dist,
            n_samples=n, sample_rate=SR,
        )  # fmt: skip
    if path == "Harmonic":
        synth = synths.Harmonic(n_samples=n, sample_rate=SR, amp_resample_method=method)
        return synth(amps, dist, f0)  # default exp_sigmoid scaling of the raw controls
    if path == "streaming":
        return core.streaming_harmonic_synthesis(
            f0, amps, dist, n_samples=n, sample_rate=SR, amp_resample_method=method
        )[0]
    if path == "HarmonicStream":  # the whole signal as one block, then the flush
        from ddsp_ref.streaming import HarmonicStream

        stream = HarmonicStream(synths.Harmonic(sample_rate=SR), hop_size=SR // fps)
        return np.concatenate([stream.process(amps, dist, f0), stream.flush()], axis=1)
    if path == "Sinusoidal":  # default scalings: raw controls in, 100 sinusoids
        raw_freqs = np.broadcast_to(np.linspace(-3, 0, N_HARMONICS, dtype=np.float32), dist.shape)
        synth = synths.Sinusoidal(n_samples=n, sample_rate=SR)
        return synth(dist, np.ascontiguousarray(raw_freqs))
    if path == "Wavetable":
        table = np.sin(2 * np.pi * np.arange(512) / 512).astype(np.float32)
        tables = np.broadcast_to(table, (1, f0.shape[1], 512)).copy()
        synth = synths.Wavetable(n_samples=n, sample_rate=SR, scale_fn=None)
        return synth(amps, tables, f0)
    raise ValueError(path)


def child(path: str, seconds: float, fps: int, method: str) -> dict:
    _render(path, 0.25, 4, method)  # warm-up: numba loads its kernels
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # resets VmHWM
    except OSError:
        pass
    start = time.perf_counter()
    audio = np.asarray(_render(path, seconds, fps, method))
    elapsed = time.perf_counter() - start
    tail = audio[0, -SR:].astype(np.float64)
    return {
        "peak_rss_mb": peak_rss_mb(),
        "seconds": elapsed,
        "shape_ok": audio.shape == (1, int(seconds * SR)),
        "finite": bool(np.isfinite(audio).all()),
        "rms_last_second": float(np.sqrt(np.mean(tail**2))),
    }


def in_subprocess(*args: str) -> dict:
    cmd = [sys.executable, "-m", "benchmarks.bench_long_audio", "--child", *args]
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    out = subprocess.run(cmd, capture_output=True, text=True, cwd=root)
    if out.returncode:
        return {"error": out.stderr.strip().splitlines()[-1][:60]}
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=600.0)
    parser.add_argument("--only", default="", help="run the rows whose label contains this")
    parser.add_argument("--child", nargs=4, metavar=("PATH", "SECONDS", "FPS", "METHOD"))
    args = parser.parse_args()
    if args.child:
        path, seconds, fps, method = args.child
        print(json.dumps(child(path, float(seconds), int(fps), method)))
        return
    rows = []
    for label, path, fps, method in ROWS:
        if args.only and args.only not in label:
            continue
        res = in_subprocess(path, str(args.seconds), str(fps), method)
        if "error" in res:
            rows.append((label, "error", "", res["error"]))
            continue
        ok = res["shape_ok"] and res["finite"]
        rows.append((
            label, f"{res['peak_rss_mb']:.0f}", f"{res['seconds']:.1f}",
            f"{'ok' if ok else 'BAD'} rms {res['rms_last_second']:.4f}",
        ))  # fmt: skip
        print(rows[-1], flush=True)
    print_table(
        f"{args.seconds:g} s at 48 kHz, batch 1, {N_HARMONICS} harmonics, fresh process each "
        "(goal: < 1024 MB at 600 s)",
        rows,
        ("path", "peak RSS MB", "seconds", "output"),
    )


if __name__ == "__main__":
    main()
