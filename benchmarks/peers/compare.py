"""Run ddsp_ref on the peers' inputs, check its outputs against theirs, and print one table.

Run with the project's venv after the peer scripts (see README.md in this folder):
    python -m benchmarks.peers.compare --peers-json /tmp/peers/tf_results.json \
        /tmp/peers/torch_results.json [--inputs /tmp/peers/inputs.npz]

Timings: the same five workloads as the peers (median of ``--repeats`` runs after a warm-up),
each on the same .npz inputs, float32, numpy backend. Numerics: the outputs computed with the
inputs' fixed noise are compared by relative L2 error with TF's (and the PyTorch port's), and
all three with ddsp_ref run in float64 (the "exact" column), because TF accumulates the
harmonic phase with a float32 cumsum that drifts by whole radians over 64000 samples.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import subprocess
import sys
from typing import Any

import numpy as np

import ddsp_ref
from benchmarks.peers.common import DEFAULT_DIR, WORKLOADS, load_inputs, peak_rss_mb, write_json
from benchmarks.timing import median_ms, print_table
from ddsp_ref.autodiff import ops

FFT_SIZES = (2048, 1024, 512, 256, 128, 64)
# Audio outputs are also compared on their first HEAD samples, where float32 phase drift is
# still small, so that a convention error cannot hide behind TF's phase error.
HEAD = 1000


@functools.cache
def spectral_loss_class() -> Any:
    """ddsp_ref.losses.SpectralLoss, or None (with the reason printed) while it does not exist."""
    try:
        from ddsp_ref import losses
    except ImportError as err:
        print(f"note: ddsp_ref.losses cannot be imported ({err}); loss workloads skipped")
        return None
    if not hasattr(losses, "SpectralLoss"):
        print("note: ddsp_ref.losses has no SpectralLoss yet; loss workloads skipped")
        return None
    return losses.SpectralLoss


class FixedNoise(ddsp_ref.synths.FilteredNoise):
    """FilteredNoise filtering a given noise array instead of a fresh uniform draw."""

    def __init__(self, noise: np.ndarray, **kwargs: Any):
        super().__init__(**kwargs)
        self.fixed_noise = noise

    def get_signal(self, magnitudes: Any) -> Any:
        noise = self.fixed_noise.astype(magnitudes.dtype)
        return ddsp_ref.core.frequency_filter(noise, magnitudes, window_size=self.window_size)


def build_group(x: dict, fixed_noise: bool) -> Any:
    """The ddsp autoencoder's processor group: Harmonic + FilteredNoise -> Add -> Reverb."""
    n = x["audio"].shape[1]
    harmonic = ddsp_ref.synths.Harmonic(n_samples=n, sample_rate=16000)
    if fixed_noise:
        noise = FixedNoise(x["noise"], n_samples=n, window_size=257)
    else:
        noise = ddsp_ref.synths.FilteredNoise(n_samples=n, window_size=257, seed=0)
    reverb = ddsp_ref.effects.Reverb(trainable=True, reverb_length=x["ir"].shape[0])
    reverb.set_parameters({"ir": x["ir"]})
    dag = [
        (harmonic, ["amps", "harmonic_distribution", "f0_hz"]),
        (noise, ["noise_magnitudes"]),
        (ddsp_ref.processors.Add(), ["filtered_noise/signal", "harmonic/signal"]),
        (reverb, ["add/signal"]),
    ]
    return ddsp_ref.processors.ProcessorGroup(dag=dag), harmonic, noise


def make_workloads(inputs: dict, fixed_noise: bool, dtype: Any = np.float32) -> dict:
    """name -> function of no arguments returning the workload's outputs as a dict of arrays."""
    x = {k: v.astype(dtype) for k, v in inputs.items() if k != "config"}
    group, harmonic, noise = build_group(x, fixed_noise)
    f0, cot, target = x["f0_hz"], x["audio_cotangent"], x["target_audio"]
    loss_cls = spectral_loss_class()

    def harmonic_vjp(amps, dist):
        audio = harmonic(amps, dist, f0)
        return ops.sum(audio * cot), audio

    harmonic_vg = ddsp_ref.value_and_grad(harmonic_vjp, argnums=(0, 1), has_aux=True)

    def harmonic_fwd_bwd():
        (_, audio), (g_amps, g_dist) = harmonic_vg(x["amplitudes"], x["harmonic_distribution"])
        return {"audio": audio, "grad_amps": g_amps, "grad_dist": g_dist}

    work = {
        "harmonic_fwd": lambda: {
            "audio": harmonic(x["amplitudes"], x["harmonic_distribution"], f0)
        },
        "harmonic_fwd_bwd": harmonic_fwd_bwd,
        "noise_fwd": lambda: {"audio": noise(x["noise_magnitudes"])},
    }
    if loss_cls is None:
        return work
    spectral = loss_cls(fft_sizes=FFT_SIZES, loss_type="L1", mag_weight=1.0, logmag_weight=1.0)
    loss_vg = ddsp_ref.value_and_grad(lambda audio: spectral(target, audio))

    def full_loss(controls, params):
        audio = group.apply(
            params,
            {
                "amps": controls["amps"],
                "f0_hz": f0,
                "harmonic_distribution": controls["dist"],
                "noise_magnitudes": controls["mags"],
            },
        )
        return spectral(target, audio), audio

    full_vg = ddsp_ref.value_and_grad(full_loss, argnums=(0, 1), has_aux=True)
    controls = {
        "amps": x["amplitudes"],
        "dist": x["harmonic_distribution"],
        "mags": x["noise_magnitudes"],
    }

    def spectral_loss_vg():
        loss, g_audio = loss_vg(x["audio"])
        return {"loss": loss, "grad_audio": g_audio}

    def full_step_vg():
        (loss, audio), (g_c, g_p) = full_vg(controls, group.parameters())
        return {
            "audio": audio,
            "loss": loss,
            "grad_amps": g_c["amps"],
            "grad_dist": g_c["dist"],
            "grad_mags": g_c["mags"],
            "grad_ir": g_p["reverb"]["ir"],
        }

    work.update(spectral_loss_vg=spectral_loss_vg, full_step_vg=full_step_vg)
    return work


def rel_err(value: np.ndarray, ref: np.ndarray) -> tuple[float, float]:
    """``||value - ref|| / ||ref||`` and ``p99(|value - ref|) / rms(ref)``, in float64.

    The second is blind to the worst 1 % of elements: log-magnitude gradients hold a few huge,
    ill-conditioned entries (1 / |X| at near-zero STFT bins) that dominate the L2 error.
    """
    value, ref = np.asarray(value, np.float64), np.asarray(ref, np.float64)
    if value.shape != ref.shape:
        return float("nan"), float("nan")
    diff = np.abs(value - ref)
    rms = np.sqrt(np.mean(ref**2))
    rms = rms if rms > 0 else 1.0
    return float(np.sqrt(np.mean(diff**2)) / rms), float(np.percentile(diff, 99) / rms)


def numerics(inputs: dict, names: list[str], peers: dict) -> list[tuple]:
    """Rows (output, ours vs TF, torch vs TF, ours / TF / torch vs float64 ddsp_ref)."""
    ours = {
        f"{n}/{k}": v
        for n, f in make_workloads(inputs, True).items()
        if n in names
        for k, v in f().items()
    }
    exact = {
        f"{n}/{k}": v
        for n, f in make_workloads(inputs, True, np.float64).items()
        if n in names
        for k, v in f().items()
    }
    tf_out, torch_out = peers.get("tf_ddsp", {}), peers.get("torch", {})
    rows = []
    for key in ours:
        views = [("", Ellipsis)]
        if key.endswith("/audio"):
            views.append((f"[:, :{HEAD}]", (slice(None), slice(0, HEAD))))
        for suffix, idx in views:

            def err(a, b, idx=idx):
                if a is None or b is None:
                    return "-"
                return "{:.1e} / {:.1e}".format(*rel_err(a[idx], b[idx]))

            tf_v, torch_v = tf_out.get(key), torch_out.get(key)
            rows.append(
                (
                    key + suffix,
                    err(ours[key], tf_v),
                    err(torch_v, tf_v),
                    err(ours[key], exact[key]),
                    err(tf_v, exact[key]),
                    err(torch_v, exact[key]),
                )
            )
    return rows


def time_ours(inputs: dict, names: list[str], repeats: int) -> dict:
    work = make_workloads(inputs, fixed_noise=False)
    timings = {}
    for name in names:
        if name not in work:
            continue
        timings[name] = median_ms(work[name], repeats=repeats)
        print(f"ddsp_ref {WORKLOADS[name]:60s} {timings[name]:9.1f} ms", flush=True)
    return timings


def rss_ours(inputs_path: str) -> dict:
    """Peak RSS of the harmonic forward + backward in a fresh process."""
    cmd = [sys.executable, "-m", "benchmarks.peers.compare", "--inputs", inputs_path, "--rss-child"]
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    out = subprocess.run(cmd, capture_output=True, text=True, cwd=root, check=False)
    lines = [line for line in out.stdout.splitlines() if line.startswith("{")]
    return json.loads(lines[-1]) if lines else {"error": out.stderr[-2000:]}


def rss_child(inputs_path: str) -> None:
    inputs = load_inputs(inputs_path)
    baseline = peak_rss_mb()
    fun = make_workloads(inputs, fixed_noise=False)["harmonic_fwd_bwd"]
    fun()
    fun()
    print(json.dumps({"baseline_rss_mb": baseline, "peak_rss_mb": peak_rss_mb()}))


def load_peers(paths: list[str]) -> tuple[dict, dict]:
    """Peer results by name ('tf_ddsp', 'torch') and their saved outputs."""
    results, outputs = {}, {}
    for path in paths:
        with open(path) as f:
            res = json.load(f)
        results[res["peer"]] = res
        npz = res.get("outputs_npz")
        if npz and os.path.exists(npz):
            outputs[res["peer"]] = load_inputs(npz)
    return results, outputs


def _ms(res: dict, peer: str, name: str, mode: str) -> float | None:
    return res.get(peer, {}).get("timings", {}).get(name, {}).get(mode, {}).get("median_ms")


def timing_rows(peers: dict, ours: dict, names: list[str]) -> list[tuple]:
    """One row per workload: the four times and the three speed-ups (peer time / ours)."""
    rows = []
    for name in names:
        times = [
            _ms(peers, "tf_ddsp", name, "eager"),
            _ms(peers, "tf_ddsp", name, "graph"),
            _ms(peers, "torch", name, "eager"),
            ours.get(name),
        ]
        cells = ["-" if t is None else f"{t:.1f}" for t in times]
        mine = times[3]
        ratios = ["-" if t is None or mine is None else f"{t / mine:.2f}x" for t in times[:3]]
        rows.append((WORKLOADS[name], *cells, *ratios))
    return rows


def rss_row(peers: dict, ours: dict) -> tuple:
    def peak(peer: str, mode: str) -> str:
        value = peers.get(peer, {}).get("peak_rss_harmonic_fwd_bwd", {}).get(mode, {})
        return f"{value['peak_rss_mb']:.0f}" if "peak_rss_mb" in value else "-"

    mine = f"{ours['peak_rss_mb']:.0f}" if "peak_rss_mb" in ours else "-"
    return (
        "peak RSS MB, harmonic fwd+bwd",
        peak("tf_ddsp", "eager"),
        peak("tf_ddsp", "graph"),
        peak("torch", "eager"),
        mine,
        "",
        "",
        "",
    )


def main() -> None:
    parser = argparse.ArgumentParser(description="Compare ddsp_ref with TF DDSP and PyTorch.")
    parser.add_argument("--peers-json", nargs="*", default=[])
    parser.add_argument("--inputs", default=os.path.join(DEFAULT_DIR, "inputs.npz"))
    parser.add_argument("--out-json", default=os.path.join(DEFAULT_DIR, "ddsp_ref_results.json"))
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--workloads", nargs="*", default=list(WORKLOADS), choices=list(WORKLOADS))
    parser.add_argument("--skip-rss", action="store_true")
    parser.add_argument("--skip-numerics", action="store_true")
    parser.add_argument("--rss-child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.rss_child:
        rss_child(args.inputs)
        return

    inputs = load_inputs(args.inputs)
    peers, peer_outputs = load_peers(args.peers_json)
    ours = time_ours(inputs, args.workloads, args.repeats)
    rss = {} if args.skip_rss else rss_ours(args.inputs)
    header = (
        "workload (ms)",
        "TF eager",
        "TF graph",
        "torch",
        "ddsp_ref",
        "TF eager/ours",
        "TF graph/ours",
        "torch/ours",
    )
    rows = timing_rows(peers, ours, args.workloads) + [rss_row(peers, rss)]
    print_table("Timings: median ms, batch 4 (ratio > 1: ddsp_ref is faster)", rows, header)
    num_rows = [] if args.skip_numerics else numerics(inputs, args.workloads, peer_outputs)
    if num_rows:
        print_table(
            "Numerics: relative error, L2 / p99 (exact = ddsp_ref in float64)",
            num_rows,
            (
                "output",
                "ours vs TF",
                "torch vs TF",
                "ours vs exact",
                "TF vs exact",
                "torch vs exact",
            ),
        )
    write_json(
        args.out_json,
        {
            "ddsp_ref_version": ddsp_ref.__version__,
            "timings_ms": ours,
            "peak_rss": rss,
            "peers": {k: v.get("versions") for k, v in peers.items()},
            "timing_table": {"header": header, "rows": rows},
            "numerics_table": {"rows": num_rows},
        },
    )
    print(f"\nwrote {args.out_json}")


if __name__ == "__main__":
    main()
