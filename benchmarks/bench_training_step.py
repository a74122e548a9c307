"""One DDSP training step on the CPU: Harmonic + FilteredNoise + Add + Reverb + SpectralLoss.

Value and gradient with respect to the decoder outputs (amplitudes, harmonic distribution,
noise magnitudes) and the trainable reverb IR, on the standard workload of PERFORMANCE.md:
batch 4, 16 kHz, 4 s (64000 samples), 1000 frames, 100 harmonics, 65 noise bands, 48000-tap
reverb, multi-scale spectral loss (2048 ... 64, mag + logmag).

Run: python -m benchmarks.bench_training_step [--batch 4] [--repeats 5] [--device gpu]
For side-by-side peer timings on identical inputs see benchmarks/peers/.
"""

from __future__ import annotations

import argparse

import numpy as np

import ddsp_ref
from ddsp_ref import effects, losses, processors, synths
from ddsp_ref.autodiff import tree_map
from ddsp_ref.backend import to_device, to_numpy

try:
    from benchmarks.timing import median_ms, peak_rss_mb, print_table
except ImportError:  # pragma: no cover
    from timing import median_ms, peak_rss_mb, print_table

# PERFORMANCE.md, measured on a 2-core machine of the project's kind (ms).
TF_GRAPH_MS, TF_EAGER_MS = 1367.0, 1937.0


def make_inputs(batch: int, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    n_frames = 1000
    f0 = 110.0 * 2 ** rng.uniform(0, 2, (batch, 1, 1)) * np.ones((1, n_frames, 1))
    return {
        "amplitudes": rng.standard_normal((batch, n_frames, 1)).astype(np.float32),
        "harmonic_distribution": rng.standard_normal((batch, n_frames, 100)).astype(np.float32),
        "f0_hz": f0.astype(np.float32),
        "noise_magnitudes": rng.standard_normal((batch, n_frames, 65)).astype(np.float32),
        "target": (0.1 * rng.standard_normal((batch, 64000))).astype(np.float32),
    }


def build_group() -> processors.ProcessorGroup:
    dag = [
        (synths.Harmonic(n_samples=64000), ["amplitudes", "harmonic_distribution", "f0_hz"]),
        (synths.FilteredNoise(n_samples=64000, window_size=0, seed=0), ["noise_magnitudes"]),
        (processors.Add(), ["filtered_noise/signal", "harmonic/signal"]),
        (effects.Reverb(trainable=True, reverb_length=48000), ["add/signal"]),
    ]
    return processors.ProcessorGroup(dag=dag)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--device", choices=("cpu", "gpu"), default="cpu")
    args = parser.parse_args()
    inputs = make_inputs(args.batch)
    group = build_group()
    params = group.parameters()
    xp = np
    if args.device == "gpu":  # everything on the GPU: controls, target and the reverb IR
        import cupy as xp

        inputs = tree_map(lambda x: to_device(x, "gpu"), inputs)
        params = tree_map(lambda x: to_device(x, "gpu"), params)
    target = inputs.pop("target")
    spectral_loss = losses.SpectralLoss(logmag_weight=1.0)

    def loss_fn(controls, params):
        audio = group.apply(params, controls)
        return spectral_loss(target, audio)

    step = ddsp_ref.value_and_grad(loss_fn, argnums=(0, 1))
    t_forward = median_ms(lambda: loss_fn(inputs, params), repeats=args.repeats, warmup=2, xp=xp)
    t_step = median_ms(lambda: step(inputs, params), repeats=args.repeats, warmup=2, xp=xp)
    value, (g_controls, g_params) = step(inputs, params)
    grads = [to_numpy(g) for g in list(g_controls.values()) + [g_params["reverb"]["ir"]]]
    assert np.isfinite(float(to_numpy(value))) and all(np.isfinite(g).all() for g in grads)
    rows = [
        ("forward (loss value)", f"{t_forward:.0f}", "", ""),
        (
            "value + gradient",
            f"{t_step:.0f}",
            f"{TF_GRAPH_MS / t_step:.1f}x",
            f"{TF_EAGER_MS / t_step:.1f}x",
        ),
    ]
    print_table(
        f"Training step on {args.device}, batch {args.batch} (median ms of {args.repeats}; "
        f"peak RSS {peak_rss_mb():.0f} MB)",
        rows,
        ("what", "ms", "vs TF graph 1367 ms", "vs TF eager 1937 ms"),
    )
    print(
        "TF references: PERFORMANCE.md (same kind of 2-core machine); for a same-machine "
        "comparison run benchmarks/peers/."
    )


if __name__ == "__main__":
    main()
