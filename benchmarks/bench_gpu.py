"""GPU throughput of the fused Harmonic kernels (cupy arrays) against straightforward versions.

Batch 32 of the standard workload (16 kHz, 64000 samples, 1000 frames, 100 harmonics, float32):
the Harmonic synth forward (output samples per second; goal >= 5e9) and forward + backward
with respect to the raw amplitudes and distribution, for

- ddsp_ref with its fused numba CUDA kernels,
- ddsp_ref's composed autodiff ops on cupy (``DDSP_REF_KERNELS=composed``): a straightforward
  cupy implementation of the same math, materialising [batch, time, harmonics] tensors,
- a straightforward PyTorch CUDA port (benchmarks.bench_harmonic.torch_port), when torch with
  CUDA imports,

all timed in the same run (goal: fused forward + backward >= 10x faster than the others).

Run on a machine with an NVIDIA GPU, cupy and numba-cuda: python -m benchmarks.bench_gpu
``--device cpu`` runs the same code paths on numpy (a dry run, e.g. with --batch 2).
"""

from __future__ import annotations

import argparse

import numpy as np

from benchmarks.bench_harmonic import make_inputs, ours, torch_port
from benchmarks.timing import median_ms, print_table
from ddsp_ref.backend import to_device


def _torch_timer(fun, device: str):
    import torch

    def run():
        out = fun()
        if device == "cuda":
            torch.cuda.synchronize()
        return out

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", choices=("gpu", "cpu"), default="gpu")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--skip-composed", action="store_true")
    args = parser.parse_args()

    host = make_inputs(batch=args.batch)
    if args.device == "gpu":
        import cupy as xp

        inputs = {k: to_device(v, "gpu") for k, v in host.items()}
    else:
        xp = np
        inputs = host
    n_out = host["cotangent"].size  # output samples per call

    rows, times = [], {}
    paths = ["fused"] + ([] if args.skip_composed else ["composed"])
    for mode in paths:
        forward, both = ours(inputs, mode)
        times[mode] = (
            median_ms(forward, repeats=args.repeats, warmup=2, xp=xp),
            median_ms(both, repeats=args.repeats, warmup=2, xp=xp),
        )
    torch_device = "cuda" if args.device == "gpu" else "cpu"
    port = torch_port(host, torch_device)
    if port is not None and (torch_device == "cpu" or _cuda_ok()):
        forward, both, _ = port
        times["PyTorch straightforward"] = (
            median_ms(_torch_timer(forward, torch_device), repeats=args.repeats, warmup=2),
            median_ms(_torch_timer(both, torch_device), repeats=args.repeats, warmup=2),
        )
    fused_fwd, fused_both = times["fused"]
    for name, (fwd, both_ms) in times.items():
        rows.append(
            (
                f"ddsp_ref {name}" if name in ("fused", "composed") else name,
                f"{fwd:.2f}",
                f"{n_out / (fwd / 1e3):.3g}",
                f"{both_ms:.2f}",
                f"{both_ms / fused_both:.1f}x" if name != "fused" else "",
            )
        )
    print_table(
        f"Harmonic synth on {args.device}, batch {args.batch} x {host['cotangent'].shape[1]} "
        f"samples x 100 harmonics, median ms of {args.repeats}",
        rows,
        ("implementation", "forward ms", "output samples/s", "fwd+bwd ms", "fused speed-up"),
    )
    print(
        f"goal: fused forward >= 5e9 samples/s (got {n_out / (fused_fwd / 1e3):.3g}); fused "
        "forward + backward >= 10x faster than the straightforward versions"
    )


def _cuda_ok() -> bool:
    import torch

    return torch.cuda.is_available()


if __name__ == "__main__":
    main()
