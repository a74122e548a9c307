"""Overlap-add kernels, FilteredNoise and Reverb timings, and long-audio peak memory.

1. Overlap-add and its adjoint (framing): the numpy reference (a loop over hop-sized pieces)
   against the numba CPU kernel, on the shapes of FilteredNoise, upsample_with_windows
   (Harmonic amplitudes, 100 harmonics), Reverb (4 s + 3 s IR) and one chunk of long-audio
   Reverb blocks.
2. FilteredNoise (batch 4, 1000 frames, 65 bands, 64000 samples) forward and forward +
   backward, with the kernels and with ``DDSP_REF_KERNELS=reference``.
3. Reverb (batch 4, 64000 samples, 48000-tap IR) forward and forward + backward.
4. 10 minutes of 48 kHz audio through FilteredNoise then Reverb in a fresh process: peak RSS.

Run: python -m benchmarks.bench_filters [--repeats 7] [--skip-memory]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np

import ddsp_ref
from ddsp_ref import effects, synths
from ddsp_ref.autodiff import ops
from ddsp_ref.kernels import overlap_add_cpu, overlap_add_reference

try:
    from benchmarks.timing import median_ms, print_table
except ImportError:  # run as a script from the benchmarks folder
    from timing import median_ms, print_table

# (label, frames shape, hop) of the overlap-adds the library runs.
OLA_SHAPES = [
    ("FilteredNoise fft_convolve", (4, 1000, 256), 64),
    ("upsample_with_windows, 100 ch", (400, 1001, 128), 64),
    ("Reverb 4 s + 3 s, one FFT", (4, 1, 131072), 64000),
    ("long Reverb, one chunk of blocks", (1, 16, 262144), 214145),
]

# Reference numbers of PERFORMANCE.md (ms, 2-core machine, batch 4).
TF_FILTERED_NOISE = "TF eager 27, graph 17"


def bench_overlap_add(repeats: int) -> list[tuple]:
    rng = np.random.default_rng(0)
    rows = []
    for label, shape, hop in OLA_SHAPES:
        frames = rng.standard_normal(shape, dtype=np.float32)
        signal = overlap_add_reference.overlap_add(frames, hop)
        assert np.allclose(overlap_add_cpu.overlap_add(frames, hop), signal, atol=1e-5)
        timings = []
        for module in (overlap_add_reference, overlap_add_cpu):
            ola = lambda m=module, f=frames, h=hop: m.overlap_add(f, h)
            frame = lambda m=module, y=signal, s=shape, h=hop: m.frame(y, s[2], h, s[1])
            timings += [median_ms(ola, repeats), median_ms(frame, repeats)]
        ola_ref, frame_ref, ola_numba, frame_numba = timings
        rows.append((label, str(shape), hop, f"{ola_ref:.2f}", f"{ola_numba:.2f}",
                     f"{ola_ref / ola_numba:.1f}x", f"{frame_ref:.2f}", f"{frame_numba:.2f}",
                     f"{frame_ref / frame_numba:.1f}x"))  # fmt: skip
    return rows


def _with_kernels(mode: str, fun):
    """Time ``fun`` with the kernels ('') or the forced references ('reference')."""
    previous = os.environ.get("DDSP_REF_KERNELS")
    os.environ["DDSP_REF_KERNELS"] = mode
    try:
        return fun()
    finally:
        if previous is None:
            del os.environ["DDSP_REF_KERNELS"]
        else:
            os.environ["DDSP_REF_KERNELS"] = previous


def bench_processors(repeats: int) -> list[tuple]:
    rng = np.random.default_rng(1)
    magnitudes = rng.standard_normal((4, 1000, 65), dtype=np.float32)
    cot = rng.standard_normal((4, 64000), dtype=np.float32)
    noise = synths.FilteredNoise(n_samples=64000, seed=0)
    audio = rng.standard_normal((4, 64000), dtype=np.float32)
    ir = rng.standard_normal((4, 48000), dtype=np.float32) * 1e-2
    reverb = effects.Reverb()

    def noise_grad():
        return ddsp_ref.value_and_grad(lambda m: ops.sum(noise(m) * cot))(magnitudes)

    def reverb_grad():
        loss = lambda a, h: ops.sum(reverb(a, h) * cot)
        return ddsp_ref.value_and_grad(loss, argnums=(0, 1))(audio, ir)

    cases = [
        ("FilteredNoise forward", lambda: noise(magnitudes), TF_FILTERED_NOISE),
        ("FilteredNoise forward + backward", noise_grad, ""),
        ("Reverb 48000 taps forward", lambda: reverb(audio, ir), ""),
        ("Reverb 48000 taps forward + backward", reverb_grad, ""),
    ]
    rows = []
    for label, fun, peer in cases:
        # Interleave the two modes and keep the best median: other processes share the cores.
        best = {"": float("inf"), "reference": float("inf")}
        for _ in range(3):
            for mode in best:
                ms = _with_kernels(mode, lambda f=fun: median_ms(f, repeats))
                best[mode] = min(best[mode], ms)
        rows.append((label, f"{best['']:.1f}", f"{best['reference']:.1f}", peer))
    return rows


_LONG_AUDIO = """
import json, time, numpy as np
from ddsp_ref import effects, synths
n = 48000 * 600
rng = np.random.default_rng(0)
magnitudes = rng.standard_normal((1, n // 192, 65), dtype=np.float32)
ir = rng.standard_normal((1, 48000), dtype=np.float32) * 1e-2
start = time.perf_counter()
noise = synths.FilteredNoise(n_samples=n, window_size=0, seed=0)(magnitudes)
middle = time.perf_counter()
out = effects.Reverb()(noise, ir)
end = time.perf_counter()
print(json.dumps({"noise_s": middle - start, "reverb_s": end - middle,
                  "peak_mb": [int(l.split()[1]) / 1024 for l in open("/proc/self/status")
                              if l.startswith("VmHWM:")][0]}))
"""


def bench_long_audio() -> list[tuple]:
    root = Path(__file__).resolve().parents[1]
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(_LONG_AUDIO)], cwd=root,
                          capture_output=True, text=True, check=True)  # fmt: skip
    report = json.loads(done.stdout.strip().splitlines()[-1])
    return [("10 min, 48 kHz (28.8 M samples), batch 1", f"{report['noise_s']:.2f}",
             f"{report['reverb_s']:.2f}", f"{report['peak_mb']:.0f}")]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--skip-memory", action="store_true")
    args = parser.parse_args()

    print_table(
        "Overlap-add (forward) and framing (its adjoint), float32, ms: numpy reference vs numba",
        bench_overlap_add(args.repeats),
        ("shape of", "frames", "hop", "ola numpy", "ola numba", "speed-up", "frame numpy",
         "frame numba", "speed-up"),
    )  # fmt: skip
    print_table(
        "Processors at batch 4, ms (best median of 3 interleaved runs)",
        bench_processors(args.repeats),
        ("workload", "kernels", "DDSP_REF_KERNELS=reference", "PERFORMANCE.md"),
    )
    if not args.skip_memory:
        print_table(
            "Long audio: FilteredNoise (65 bands, 250 frames/s) then Reverb (48000 taps)",
            bench_long_audio(),
            ("input", "FilteredNoise s", "Reverb s", "peak RSS MB (whole process)"),
        )


if __name__ == "__main__":
    main()
