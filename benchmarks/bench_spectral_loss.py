"""SpectralLoss value and value + gradient on the standard DDSP workload.

Batch 4 x 64000 samples (4 s at 16 kHz), FFT sizes 2048 ... 64, magnitude + log-magnitude
(``logmag_weight=1``), L1, float32; the gradient is taken with respect to the audio. Reports the
median of 5 runs after a warm-up, the best of ``--repeats`` such medians (other processes share
the cores), peak resident memory, and the ratios to reference numbers from
``../shared/PERFORMANCE.md``.

Run: python -m benchmarks.bench_spectral_loss [--batch 4] [--samples 64000] [--repeats 3]
     [--device cpu|gpu] [--composed]
"""

from __future__ import annotations

import argparse
import os

import numpy as np

import ddsp_ref
from ddsp_ref import losses

try:
    from benchmarks.timing import median_ms, peak_rss_mb, print_table
except ImportError:  # run as a script from the benchmarks folder
    from timing import median_ms, peak_rss_mb, print_table

FFT_SIZES = (2048, 1024, 512, 256, 128, 64)

# SpectralLoss value + gradient, batch 4, ms: measured elsewhere (PERFORMANCE.md), on a similar
# 2-core machine, not by this script.
REFERENCES_MS = {
    "ddsp 3.7.0 TF 2.20 graph (tf.function)": 93.0,
    "ddsp 3.7.0 TF 2.20 eager": 309.0,
    "PyTorch 2.13 straightforward port": 106.0,
}


def _inputs(batch: int, n_samples: int, xp):
    rng = np.random.default_rng(0)
    target = rng.uniform(-1.0, 1.0, (batch, n_samples)).astype(np.float32)
    audio = rng.uniform(-1.0, 1.0, (batch, n_samples)).astype(np.float32)
    return xp.asarray(target), xp.asarray(audio)


def _best_median(fun, repeats: int, xp) -> float:
    return min(median_ms(fun, repeats=5, warmup=1, xp=xp) for _ in range(repeats))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--samples", type=int, default=64000)
    parser.add_argument("--repeats", type=int, default=3, help="medians to take the best of")
    parser.add_argument("--device", choices=("cpu", "gpu"), default="cpu")
    parser.add_argument(
        "--composed",
        action="store_true",
        help="also time the path composed of autodiff ops (no fused kernels)",
    )
    args = parser.parse_args(argv)

    if args.device == "gpu":
        import cupy as xp
    else:
        xp = np
    target, audio = _inputs(args.batch, args.samples, xp)
    loss = losses.SpectralLoss(
        fft_sizes=FFT_SIZES, loss_type="L1", mag_weight=1.0, logmag_weight=1.0
    )
    variants = [("fused (default)", "")]
    if args.composed:
        variants.append(("composed autodiff ops (DDSP_REF_KERNELS=composed)", "composed"))

    rows = []
    saved_mode = os.environ.get("DDSP_REF_KERNELS")
    for label, mode in variants:
        os.environ["DDSP_REF_KERNELS"] = mode
        value_and_grad = ddsp_ref.value_and_grad(lambda t, a: loss(t, a), argnums=1)
        value_ms = _best_median(lambda: loss(target, audio), args.repeats, xp)
        grad_ms = _best_median(lambda f=value_and_grad: f(target, audio), args.repeats, xp)
        rows.append(
            (label, f"{value_ms:.1f}", f"{grad_ms:.1f}")
            + tuple(f"{ref / grad_ms:.2f}x" for ref in REFERENCES_MS.values())
        )
    if saved_mode is None:
        os.environ.pop("DDSP_REF_KERNELS", None)
    else:
        os.environ["DDSP_REF_KERNELS"] = saved_mode
    header = ("SpectralLoss", "value ms", "value+grad ms") + tuple(
        f"vs {name} ({ref:.0f} ms)" for name, ref in REFERENCES_MS.items()
    )
    print_table(
        f"SpectralLoss mag+logmag, L1, float32, batch {args.batch} x {args.samples} samples, "
        f"fft sizes {FFT_SIZES}, {args.device}; best of {args.repeats} medians of 5",
        rows,
        header,
    )
    print("ratios > 1: faster than the reference (reference value+grad ms / ours).")
    print(
        "The reference numbers were measured elsewhere on a similar 2-core machine "
        "(../shared/PERFORMANCE.md), not in this run."
    )
    print(f"peak RSS: {peak_rss_mb():.0f} MB")


if __name__ == "__main__":
    main()
