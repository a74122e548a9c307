"""Write the standard-workload inputs (one .npz) shared by ddsp_ref and its peers.

The standard DDSP workload (see shared/PERFORMANCE.md): 16 kHz, 64000 samples, 1000 frames
(hop 64), 100 harmonics, 65 noise bands, a 48000-tap reverb IR, batch 4. Controls are raw
network outputs (before ``exp_sigmoid``), as a decoder would produce them.

Run (numpy only, any venv):
    python benchmarks/peers/make_inputs.py [--out /tmp/peers/inputs.npz] [--seed 0] [--batch 4]
"""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import DEFAULT_DIR, save_npz  # noqa: E402

SAMPLE_RATE = 16000
N_SAMPLES = 64000
N_FRAMES = 1000
N_HARMONICS = 100
N_BANDS = 65
REVERB_LENGTH = 48000


def _smooth(x: np.ndarray, width: int) -> np.ndarray:
    """Moving average over axis 1 (frames): network outputs vary slowly from frame to frame."""
    kernel = np.ones(width) / width
    return np.apply_along_axis(lambda v: np.convolve(v, kernel, mode="same"), 1, x)


def _melody_f0(rng: np.random.Generator, batch: int) -> np.ndarray:
    """f0 [batch, n_frames, 1] in Hz: 8 notes of half a second (MIDI 45..72) with vibrato."""
    notes = rng.integers(45, 73, size=(batch, 8))
    midi = np.repeat(notes, N_FRAMES // 8, axis=1).astype(np.float64)
    t = np.arange(N_FRAMES) / 250.0
    midi += 0.2 * np.sin(2 * np.pi * 5.5 * t)[None, :]
    midi = _smooth(np.pad(midi, ((0, 0), (5, 5)), mode="edge"), 9)[:, 5:-5]
    return (440.0 * 2.0 ** ((midi - 69.0) / 12.0))[..., None]


def _audio_from_f0(rng: np.random.Generator, f0_frames: np.ndarray, n_partials: int) -> np.ndarray:
    """A plain numpy harmonic tone plus a little noise [batch, n_samples] (loss targets)."""
    t_frames = np.arange(N_FRAMES) * (N_SAMPLES // N_FRAMES)
    f0 = np.stack([np.interp(np.arange(N_SAMPLES), t_frames, f[:, 0]) for f in f0_frames])
    phase = 2 * np.pi * np.cumsum(f0, axis=1) / SAMPLE_RATE
    audio = np.zeros_like(f0)
    for k in range(1, n_partials + 1):
        audio += np.where(k * f0 < SAMPLE_RATE / 2, np.sin(k * phase) / k, 0.0)
    audio *= 0.2
    audio += 0.01 * rng.uniform(-1.0, 1.0, audio.shape)
    return audio


def make_inputs(seed: int = 0, batch: int = 4) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    f0_hz = _melody_f0(rng, batch)
    inputs = {
        "f0_hz": f0_hz,
        # Raw decoder outputs; exp_sigmoid maps N(0, 1)-ish values to a useful range.
        "amplitudes": _smooth(rng.normal(-1.0, 1.5, (batch, N_FRAMES, 1)), 5),
        "harmonic_distribution": _smooth(rng.normal(-2.0, 2.0, (batch, N_FRAMES, N_HARMONICS)), 3),
        "noise_magnitudes": _smooth(rng.normal(0.0, 2.0, (batch, N_FRAMES, N_BANDS)), 3),
        # Uniform(-1, 1) noise drawn once, so every implementation filters the same noise.
        "noise": rng.uniform(-1.0, 1.0, (batch, N_SAMPLES)),
        # Reverb IR (trainable parameter value): exponentially decaying noise, ~0.5 s decay.
        "ir": 0.05
        * rng.normal(0.0, 1.0, REVERB_LENGTH)
        * np.exp(-np.arange(REVERB_LENGTH) / (0.5 * SAMPLE_RATE)),
        # SpectralLoss workload: prediction and target; a fixed cotangent for the synth VJP.
        "audio": _audio_from_f0(rng, f0_hz * 1.01, 30),
        "target_audio": _audio_from_f0(rng, f0_hz, 40),
        "audio_cotangent": rng.normal(0.0, 1.0, (batch, N_SAMPLES)),
    }
    out = {k: v.astype(np.float32) for k, v in inputs.items()}
    out["config"] = np.array(
        [SAMPLE_RATE, N_SAMPLES, N_FRAMES, N_HARMONICS, N_BANDS, REVERB_LENGTH, seed],
        dtype=np.int64,
    )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=os.path.join(DEFAULT_DIR, "inputs.npz"))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--batch", type=int, default=4)
    args = parser.parse_args()
    inputs = make_inputs(args.seed, args.batch)
    save_npz(args.out, inputs)
    summary = ", ".join(f"{k} {v.shape}" for k, v in inputs.items() if k != "config")
    print(f"wrote {args.out}: {summary}")


if __name__ == "__main__":
    main()
