"""Bounded memory of every synthesis path: the numpy allocation peak grows with the signal
length by a few bytes per sample (the audio itself), never by ``n_harmonics`` or the table
size per sample, which is what resampling the controls to audio rate would cost.

Kernel pieces and composed-path chunks are made small here (their working memory is a
constant: O(piece), O(chunk)) so that both lengths span several of them; the 10-minute,
48 kHz table with the library defaults is ``benchmarks/bench_long_audio.py``."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

from ddsp_ref import core, streaming, synths
from ddsp_ref.core import synthesis, wavetable
from ddsp_ref.kernels import oscillator_plan

H, HOP, SR = 64, 256, 16000


def _inputs(n: int) -> dict:
    f = n // HOP
    rng = np.random.default_rng(0)
    return dict(
        f0=np.full((1, f, 1), 220.0, np.float32),
        amps=np.full((1, f, 1), 0.5, np.float32),
        dist=rng.uniform(0, 1, (1, f, H)).astype(np.float32),
        tables=rng.uniform(-1, 1, (1, f, 512)).astype(np.float32),
    )


def _harmonic(method):
    def run(x, n):
        return core.harmonic_synthesis(
            x["f0"], x["amps"], harmonic_distribution=x["dist"], n_samples=n,
            amp_resample_method=method,
        )  # fmt: skip

    return run


PATHS = {
    **{f"harmonic_synthesis[{m}]": _harmonic(m) for m in ("window", "linear", "nearest", "cubic")},
    "harmonic_synthesis[shifts]": lambda x, n: core.harmonic_synthesis(
        x["f0"], x["amps"], 0.01 * x["dist"], x["dist"], n_samples=n
    ),
    "streaming_harmonic_synthesis[cubic]": lambda x, n: core.streaming_harmonic_synthesis(
        x["f0"], x["amps"], x["dist"], n_samples=n, amp_resample_method="cubic"
    )[0],
    "Harmonic": lambda x, n: synths.Harmonic(n_samples=n)(x["amps"], x["dist"], x["f0"]),
    "Sinusoidal": lambda x, n: synths.Sinusoidal(n_samples=n)(x["dist"], x["dist"] - 3.0),
    "Sinusoidal[cubic]": lambda x, n: synths.Sinusoidal(n_samples=n, amp_resample_method="cubic")(
        x["dist"], x["dist"] - 3.0
    ),
    "Wavetable": lambda x, n: synths.Wavetable(n_samples=n)(x["amps"], x["tables"], x["f0"]),
    "HarmonicStream": lambda x, n: _stream(x),
    "wavetable_synthesis": lambda x, n: core.wavetable_synthesis(
        x["f0"], x["amps"], x["tables"], n_samples=n
    ),
}


def _stream(x):
    """One block of every frame, then the flush: the whole signal through HarmonicStream."""
    stream = streaming.HarmonicStream(synths.Harmonic(), HOP)
    return np.concatenate([stream.process(x["amps"], x["dist"], x["f0"]), stream.flush()], axis=1)


def _peak_bytes(path, n: int) -> int:
    x = _inputs(n)
    PATHS[path](_inputs(HOP * 4), HOP * 4)  # warm-up (kernels load)
    tracemalloc.start()
    try:
        audio = PATHS[path](x, n)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert audio.shape == (1, n) and np.isfinite(audio).all()
    return peak


@pytest.mark.parametrize("path", sorted(PATHS))
def test_peak_memory_grows_by_bytes_per_sample_not_per_harmonic(monkeypatch, path):
    monkeypatch.setattr(oscillator_plan, "PIECE", 1 << 14)
    monkeypatch.setattr(synthesis, "CHUNK_ELEMENTS", 1 << 18)
    monkeypatch.setattr(wavetable, "CHUNK_ELEMENTS", 1 << 14)
    n1 = 1 << 17
    extra = _peak_bytes(path, 2 * n1) - _peak_bytes(path, n1)
    # [n, 64] float32 controls would add 256 bytes per sample, [n, 512] tables 2048.
    assert extra / n1 < 48, f"{path}: {extra / n1:.0f} bytes per extra sample"
