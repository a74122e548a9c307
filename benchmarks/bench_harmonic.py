"""Harmonic synthesis speed and memory: fused oscillator kernels vs composed ops, TF and PyTorch.

1. The standard DDSP workload (16 kHz, 64000 samples, 1000 frames, 100 harmonics, batch 4,
   float32): the Harmonic synth (get_controls + get_signal) forward, and forward + backward
   with respect to the raw amplitudes and harmonic distribution. Timed for the fused kernels,
   for our composed ops (``DDSP_REF_KERNELS=composed``) and, when torch imports, for a
   straightforward PyTorch CPU port of the same math, all in this run; the TF and PyTorch
   numbers of PERFORMANCE.md are quoted for the ratios.
2. Peak resident memory of the Harmonic forward + backward at batch 32 (4 s, 100 harmonics),
   each path in a fresh subprocess (``ru_maxrss``).
3. A 10-minute 48 kHz render (batch 1, 100 harmonics, 100 frames/s) in a fresh subprocess:
   time, peak memory, and the error of the final phase and of the last samples against the
   exact float64 answer.

Run: python -m benchmarks.bench_harmonic [--repeats 7] [--skip-long] [--skip-memory]
Timings are medians after a warm-up (numba compiles on first use; its cache makes later runs
start fast). Other processes on the machine make them noisy: run twice and keep the best.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import time

import numpy as np

import ddsp_ref
from ddsp_ref import core
from ddsp_ref.autodiff import ops

try:
    from benchmarks.timing import median_ms, peak_rss_mb, print_table
except ImportError:  # run as a script from the benchmarks folder
    from timing import median_ms, peak_rss_mb, print_table

SAMPLE_RATE, N_SAMPLES, N_FRAMES, N_HARMONICS = 16000, 64000, 1000, 100
# PERFORMANCE.md, batch 4, ms: (forward, forward + backward).
PEERS = {"TF graph": (549.0, 1111.0), "TF eager": (588.0, 1416.0), "PyTorch": (323.0, 501.0)}


def make_inputs(batch: int = 4, n_frames: int = N_FRAMES, seed: int = 0) -> dict:
    """Raw (pre-scale_fn) controls like a decoder's, a melodic f0 and an audio cotangent."""
    rng = np.random.default_rng(seed)

    def smooth(x, width):
        kernel = np.ones(width) / width
        return np.apply_along_axis(lambda r: np.convolve(r, kernel, mode="same"), 1, x)

    notes = rng.integers(45, 70, size=(batch, 1 + n_frames // 100))
    midi = np.repeat(notes, 100, axis=1)[:, :n_frames] + 0.2 * rng.standard_normal((batch, 1))
    f0 = 440.0 * 2.0 ** ((smooth(midi, 9) - 69.0) / 12.0)
    n_samples = n_frames * (N_SAMPLES // N_FRAMES)
    return {
        "amplitudes": smooth(rng.normal(-1.0, 1.5, (batch, n_frames, 1)), 5).astype(np.float32),
        "harmonic_distribution": smooth(
            rng.normal(-2.0, 2.0, (batch, n_frames, N_HARMONICS)), 3
        ).astype(np.float32),
        "f0_hz": f0[..., None].astype(np.float32),
        "cotangent": rng.standard_normal((batch, n_samples)).astype(np.float32),
    }


def ours(x: dict, mode: str):
    """(forward, forward + backward) closures; ``mode`` 'fused' or 'composed'."""
    synth = ddsp_ref.synths.Harmonic(n_samples=x["cotangent"].shape[1], sample_rate=SAMPLE_RATE)
    f0, cot = x["f0_hz"], x["cotangent"]

    def with_mode(fun):
        def run():
            previous = os.environ.get("DDSP_REF_KERNELS")
            os.environ["DDSP_REF_KERNELS"] = "" if mode == "fused" else "composed"
            try:
                return fun()
            finally:
                os.environ.pop("DDSP_REF_KERNELS")
                if previous is not None:
                    os.environ["DDSP_REF_KERNELS"] = previous

        return run

    def loss(amps, dist):
        return ops.sum(synth(amps, dist, f0) * cot)

    value_and_grad = ddsp_ref.value_and_grad(loss, argnums=(0, 1))
    forward = with_mode(lambda: synth(x["amplitudes"], x["harmonic_distribution"], f0))
    both = with_mode(lambda: value_and_grad(x["amplitudes"], x["harmonic_distribution"]))
    return forward, both


def torch_port(x: dict, device: str = "cpu"):
    """A straightforward PyTorch port (whole-tensor ops, float32 cumsum), or None.

    ``x`` holds numpy arrays; ``device`` is a torch device ('cpu' or 'cuda').
    """
    try:
        import torch
    except ImportError:
        return None
    if device == "cpu":
        torch.set_num_threads(os.cpu_count() or 1)
    t = {k: torch.from_numpy(v).to(device) for k, v in x.items()}
    n_samples = x["cotangent"].shape[1]
    hop = n_samples // x["f0_hz"].shape[1]
    k = torch.arange(1, N_HARMONICS + 1, dtype=torch.float32, device=device)
    window = torch.hann_window(2 * hop, periodic=True, device=device)
    scale = np.float32(x["f0_hz"].shape[1]) / np.float32(n_samples)
    pos = torch.arange(n_samples, dtype=torch.float32, device=device) * float(scale)
    lo = pos.floor().long()
    hi = torch.clamp(pos.ceil().long(), max=x["f0_hz"].shape[1] - 1)
    lerp = (pos - pos.floor())[None, :, None]

    def exp_sigmoid(v):
        return 2.0 * torch.sigmoid(v) ** math.log(10.0) + 1e-7

    def synth(amps_raw, dist_raw):
        f0 = t["f0_hz"]
        amps, dist = exp_sigmoid(amps_raw), exp_sigmoid(dist_raw)
        dist = torch.where(f0 * k >= SAMPLE_RATE / 2, torch.zeros_like(dist), dist)
        total = dist.sum(-1, keepdim=True)
        dist = dist / torch.where(total == 0, torch.full_like(total, 1e-7), total)
        harm = amps * dist  # [B, F, H]
        # 'window' upsampling (endpoint repeated): out[f * hop + j] = x[f] w[hop + j] +
        # x[f + 1] w[j], a Hann crossfade between neighbouring frames.
        x = torch.cat([harm, harm[:, -1:]], 1)
        fade_out, fade_in = window[None, None, hop:, None], window[None, None, :hop, None]
        amp_env = (x[:, :-1, None] * fade_out + x[:, 1:, None] * fade_in).reshape(
            harm.shape[0], n_samples, N_HARMONICS
        )
        freqs = f0 * k  # legacy linear upsampling of every harmonic frequency
        freq_env = freqs[:, lo] + (freqs[:, hi] - freqs[:, lo]) * lerp
        amp_env = torch.where(freq_env >= SAMPLE_RATE / 2, torch.zeros_like(amp_env), amp_env)
        phases = torch.cumsum(freq_env * (2 * math.pi / SAMPLE_RATE), dim=1)
        return (amp_env * torch.sin(phases)).sum(-1)

    def forward():
        with torch.no_grad():
            return synth(t["amplitudes"], t["harmonic_distribution"])

    def both():
        amps = t["amplitudes"].clone().requires_grad_(True)
        dist = t["harmonic_distribution"].clone().requires_grad_(True)
        (synth(amps, dist) * t["cotangent"]).sum().backward()
        return amps.grad, dist.grad

    return forward, both, synth


def check_agreement(x: dict, torch_impl) -> list[tuple]:
    """Relative L2 differences of the float32 audio from the float64 answer (our composed ops
    on the same inputs cast to float64) and between the paths."""
    x64 = {k: v.astype(np.float64) for k, v in x.items()}
    exact = np.asarray(ours(x64, "composed")[0](), np.float64)
    audio = {
        name: np.asarray(ours(x, mode)[0](), np.float64)
        for name, mode in (("fused", "fused"), ("composed", "composed"))
    }
    if torch_impl is not None:
        audio["torch"] = torch_impl[0]().numpy().astype(np.float64)

    def err(a, b):
        return f"{np.linalg.norm(a - b) / np.linalg.norm(b):.2e}"

    rows = [(f"{name} float32 vs float64", err(a, exact)) for name, a in audio.items()]
    rows.append(("fused vs composed (float32)", err(audio["fused"], audio["composed"])))
    return rows


def standard_workload(repeats: int) -> None:
    x = make_inputs()
    torch_impl = torch_port(x)
    print_table(
        "Agreement on the standard workload",
        check_agreement(x, torch_impl),
        ("paths", "relative L2 difference"),
    )
    timings = {}
    for mode in ("fused", "composed"):
        fwd, both = ours(x, mode)
        timings[f"ddsp_ref {mode}"] = (
            median_ms(fwd, repeats, warmup=2),
            median_ms(both, repeats, warmup=2),
        )
    if torch_impl is not None:
        timings["PyTorch (this run)"] = (
            median_ms(torch_impl[0], repeats, warmup=2),
            median_ms(torch_impl[1], repeats, warmup=2),
        )
    rows = [(name, f"{f:.1f}", f"{b:.1f}") for name, (f, b) in timings.items()]
    rows += [(f"{name} (PERFORMANCE.md)", f"{f:.0f}", f"{b:.0f}") for name, (f, b) in PEERS.items()]
    print_table(
        "Harmonic synth, batch 4 x 64000 samples x 100 harmonics, median ms",
        rows,
        ("implementation", "forward", "forward+backward"),
    )
    fused = timings["ddsp_ref fused"]
    peers = dict(PEERS)
    peers["composed (this run)"] = timings["ddsp_ref composed"]
    if "PyTorch (this run)" in timings:
        peers["PyTorch (this run)"] = timings["PyTorch (this run)"]
    ratios = [
        (name, f"{f / fused[0]:.1f}x", f"{b / fused[1]:.1f}x") for name, (f, b) in peers.items()
    ]
    print_table(
        "Speed-up of the fused kernels (goal: >= 20x TF graph, >= 10x PyTorch)",
        ratios,
        ("against", "forward", "forward+backward"),
    )


# -- subprocess measurements ----------------------------------------------------------------------
def _warm_up_and_reset_peak(mode: str) -> None:
    """Run a tiny synth (numba loads or compiles its kernels) and forget that peak: the
    numbers below are the workload's, not the JIT compiler's."""
    _, both = ours(make_inputs(batch=1, n_frames=16), mode)
    both()
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # resets VmHWM
    except OSError:
        pass


def child_memory(mode: str, batch: int) -> dict:
    os.environ["DDSP_REF_KERNELS"] = "" if mode == "fused" else "composed"
    _warm_up_and_reset_peak(mode)
    x = make_inputs(batch=batch)
    _, both = ours(x, mode)
    start = time.perf_counter()
    both()
    return {"peak_rss_mb": peak_rss_mb(), "seconds": time.perf_counter() - start}


def child_long() -> dict:
    """10 minutes at 48 kHz, f0 = 440 Hz, 100 harmonics with 1/k amplitudes, 100 frames/s."""
    sr, seconds, fps = 48000, 600, 100
    n_samples, n_frames = sr * seconds, fps * seconds
    f0 = np.full((1, n_frames, 1), 440.0, np.float32)
    amps = np.ones((1, n_frames, 1), np.float32)
    dist = np.broadcast_to(
        1.0 / np.arange(1, N_HARMONICS + 1, dtype=np.float32), (1, n_frames, N_HARMONICS)
    ).copy()
    start = time.perf_counter()
    audio, final = core.streaming_harmonic_synthesis(
        f0, amps, dist, n_samples=n_samples, sample_rate=sr, amp_resample_method="linear"
    )
    elapsed = time.perf_counter() - start
    # Exact phase after sample index n: 2 pi frac(440 (n + 1) / 48000) = 2 pi frac(11 (n+1)/1200)
    exact_final = 2 * math.pi * ((11 * n_samples) % 1200) / 1200
    final_err = abs((float(final[0, 0, 0]) - exact_final + math.pi) % (2 * math.pi) - math.pi)
    counts = np.arange(n_samples - 2400, n_samples, dtype=np.int64) + 1
    k = np.arange(1, N_HARMONICS + 1)
    keep = k * 440.0 < sr / 2
    weights = np.where(keep, 1.0 / k, 0.0)
    weights = weights / weights.sum()  # streaming synthesis normalises the distribution
    phase = 2 * math.pi * ((11 * counts[:, None] * k) % 1200) / 1200
    expected = (weights * np.sin(phase)).sum(-1)
    sample_err = float(np.max(np.abs(audio[0, -2400:].astype(np.float64) - expected)))
    return {
        "seconds": elapsed,
        "peak_rss_mb": peak_rss_mb(),
        "final_phase_error_rad": final_err,
        "max_sample_error_last_50ms": sample_err,
        "n_samples": n_samples,
    }


def in_subprocess(*args: str) -> dict:
    cmd = [sys.executable, "-m", "benchmarks.bench_harmonic", "--child", *args]
    out = subprocess.run(
        cmd,
        capture_output=True,
        text=True,
        check=True,
        cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def memory_report(with_composed: bool) -> None:
    rows = []
    for mode in ("fused", "composed") if with_composed else ("fused",):
        res = in_subprocess("memory", mode, "32")
        rows.append((mode, f"{res['peak_rss_mb']:.0f}", f"{res['seconds']:.2f}"))
    print_table(
        "Harmonic forward+backward, batch 32 x 4 s x 100 harmonics, fresh process (goal < 500 MB)",
        rows,
        ("path", "peak RSS MB", "seconds"),
    )


def long_report() -> None:
    res = in_subprocess("long")
    rows = [(k, f"{v:.3g}" if isinstance(v, float) else str(v)) for k, v in res.items()]
    print_table(
        "10 minutes at 48 kHz, 100 harmonics, batch 1 (goals: < 1 GB, phase < 1e-4 rad)",
        rows,
        ("quantity", "value"),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--skip-long", action="store_true")
    parser.add_argument("--skip-memory", action="store_true")
    parser.add_argument(
        "--composed-memory",
        action="store_true",
        help="also measure the composed path at batch 32 (several GB)",
    )
    parser.add_argument("--child", nargs="*", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind = args.child[0]
        res = child_memory(args.child[1], int(args.child[2])) if kind == "memory" else child_long()
        print(json.dumps(res))
        return
    print(f"machine: {os.cpu_count()} CPUs, numpy {np.__version__}")
    standard_workload(args.repeats)
    if not args.skip_memory:
        memory_report(args.composed_memory)
    if not args.skip_long:
        long_report()


if __name__ == "__main__":
    main()
