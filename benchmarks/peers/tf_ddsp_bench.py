"""Time magenta/ddsp 3.7.0 (TensorFlow, CPU) on the standard workloads, eager and tf.function.

Runs inside the peer environment (see README.md in this folder), never in the project's venv:
    source /tmp/peers/tf-venv/peers_env.sh
    python benchmarks/peers/tf_ddsp_bench.py --inputs /tmp/peers/inputs.npz

Writes a JSON of timings (median of ``--repeats`` runs after one warm-up, in ms) and peak RSS,
and an .npz of TF's outputs (audio, loss values, gradients) for a numerical comparison with
ddsp_ref (``benchmarks.peers.compare``). The outputs are computed in eager mode with the noise
of the inputs file (a FilteredNoise whose uniform draw is replaced by that fixed noise); the
timed FilteredNoise draws its own noise each call, as ddsp does in training.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION", "python")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
# The empty `crepe` stand-in that setup_tf.sh writes next to the venv (ddsp imports crepe).
if os.path.isdir(os.path.join(sys.prefix, "stubs")):
    sys.path.append(os.path.join(sys.prefix, "stubs"))
import ddsp  # noqa: E402
import tensorflow as tf  # noqa: E402
from common import (  # noqa: E402
    DEFAULT_DIR,
    WORKLOADS,
    load_inputs,
    machine_info,
    median_ms,
    peak_rss_mb,
    rss_in_subprocess,
    save_npz,
    write_json,
)

FFT_SIZES = (2048, 1024, 512, 256, 128, 64)


class FixedNoise(ddsp.synths.FilteredNoise):
    """ddsp's FilteredNoise with the uniform(-1, 1) draw replaced by a given noise array."""

    def __init__(self, noise, **kwargs):
        super().__init__(**kwargs)
        self._fixed = tf.constant(noise)

    def get_signal(self, magnitudes):
        return ddsp.core.frequency_filter(self._fixed, magnitudes, window_size=self.window_size)


def build_group(inputs: dict, fixed_noise: bool):
    """The ddsp autoencoder's processor group: Harmonic + FilteredNoise -> Add -> Reverb."""
    n_samples = inputs["audio"].shape[1]
    harmonic = ddsp.synths.Harmonic(n_samples=n_samples, sample_rate=16000)
    if fixed_noise:
        noise = FixedNoise(inputs["noise"], n_samples=n_samples, window_size=257)
    else:
        noise = ddsp.synths.FilteredNoise(n_samples=n_samples, window_size=257)
    reverb = ddsp.effects.Reverb(trainable=True, reverb_length=inputs["ir"].shape[0])
    dag = [
        (harmonic, ["amps", "harmonic_distribution", "f0_hz"]),
        (noise, ["noise_magnitudes"]),
        (ddsp.processors.Add(), ["filtered_noise/signal", "harmonic/signal"]),
        (reverb, ["add/signal"]),
    ]
    group = ddsp.processors.ProcessorGroup(dag=dag)
    reverb.build(None)  # creates the trainable IR so that it can be set to the shared value
    reverb._ir.assign(inputs["ir"])
    return group, harmonic, noise, reverb


def make_workloads(inputs: dict, fixed_noise: bool) -> dict:
    """name -> (function of tensors, argument tuple); each returns its outputs as a dict."""
    t = {k: tf.constant(v) for k, v in inputs.items() if k != "config"}
    group, harmonic, noise, reverb = build_group(inputs, fixed_noise)
    spectral = ddsp.losses.SpectralLoss(
        fft_sizes=FFT_SIZES, loss_type="L1", mag_weight=1.0, logmag_weight=1.0
    )

    def harmonic_fwd(amps, dist, f0):
        return {"audio": harmonic(amps, dist, f0)}

    def harmonic_fwd_bwd(amps, dist, f0, cot):
        with tf.GradientTape() as tape:
            tape.watch([amps, dist])
            audio = harmonic(amps, dist, f0)
        g_amps, g_dist = tape.gradient(audio, [amps, dist], output_gradients=cot)
        return {"audio": audio, "grad_amps": g_amps, "grad_dist": g_dist}

    def noise_fwd(mags):
        return {"audio": noise(mags)}

    def spectral_loss_vg(target, audio):
        with tf.GradientTape() as tape:
            tape.watch(audio)
            loss = spectral(target, audio)
        return {"loss": loss, "grad_audio": tape.gradient(loss, audio)}

    def full_step_vg(amps, dist, f0, mags, target):
        with tf.GradientTape() as tape:
            tape.watch([amps, dist, mags])
            audio = group(
                {"amps": amps, "harmonic_distribution": dist, "f0_hz": f0, "noise_magnitudes": mags}
            )
            loss = spectral(target, audio)
        grads = tape.gradient(loss, [amps, dist, mags, reverb._ir])
        return {
            "audio": audio,
            "loss": loss,
            "grad_amps": grads[0],
            "grad_dist": grads[1],
            "grad_mags": grads[2],
            "grad_ir": grads[3],
        }

    amps, dist, f0 = t["amplitudes"], t["harmonic_distribution"], t["f0_hz"]
    return {
        "harmonic_fwd": (harmonic_fwd, (amps, dist, f0)),
        "harmonic_fwd_bwd": (harmonic_fwd_bwd, (amps, dist, f0, t["audio_cotangent"])),
        "noise_fwd": (noise_fwd, (t["noise_magnitudes"],)),
        "spectral_loss_vg": (spectral_loss_vg, (t["target_audio"], t["audio"])),
        "full_step_vg": (full_step_vg, (amps, dist, f0, t["noise_magnitudes"], t["target_audio"])),
    }


def time_workloads(inputs: dict, names: list[str], repeats: int) -> dict:
    results = {}
    for mode in ("eager", "graph"):
        work = make_workloads(inputs, fixed_noise=False)
        for name in names:
            fn, args = work[name]
            fn = fn if mode == "eager" else tf.function(fn)
            ms, all_ms = median_ms(lambda fn=fn, args=args: fn(*args), repeats=repeats)
            results.setdefault(name, {})[mode] = {"median_ms": ms, "times_ms": all_ms}
            print(f"{mode:5s} {WORKLOADS[name]:60s} {ms:9.1f} ms", flush=True)
    return results


def reference_outputs(inputs: dict, names: list[str]) -> tuple[dict, dict]:
    """TF's outputs (eager, fixed noise) and the graph-vs-eager relative error of each."""
    work = make_workloads(inputs, fixed_noise=True)
    arrays, graph_err = {}, {}
    for name in names:
        fn, args = work[name]
        eager = {k: v.numpy() for k, v in fn(*args).items()}
        graph = {k: v.numpy() for k, v in tf.function(fn)(*args).items()}
        for key, value in eager.items():
            arrays[f"{name}/{key}"] = value
            ref = np.linalg.norm(value.astype(np.float64))
            diff = np.linalg.norm(graph[key].astype(np.float64) - value)
            graph_err[f"{name}/{key}"] = float(diff / ref) if ref > 0 else float(diff)
    return arrays, graph_err


def rss_child(inputs_path: str, name: str, mode: str) -> None:
    """Peak RSS of one workload (warm-up + one run) in this fresh process; prints JSON."""
    inputs = load_inputs(inputs_path)
    baseline = peak_rss_mb()
    fn, args = make_workloads(inputs, fixed_noise=False)[name]
    fn = fn if mode == "eager" else tf.function(fn)
    fn(*args)
    fn(*args)
    print(
        json.dumps(
            {
                "workload": name,
                "mode": mode,
                "baseline_rss_mb": baseline,
                "peak_rss_mb": peak_rss_mb(),
            }
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description="Time TF DDSP 3.7.0 on the standard workloads.")
    parser.add_argument("--inputs", default=os.path.join(DEFAULT_DIR, "inputs.npz"))
    parser.add_argument("--out-json", default=os.path.join(DEFAULT_DIR, "tf_results.json"))
    parser.add_argument("--out-npz", default=os.path.join(DEFAULT_DIR, "tf_outputs.npz"))
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--workloads", nargs="*", default=list(WORKLOADS), choices=list(WORKLOADS))
    parser.add_argument("--skip-rss", action="store_true")
    parser.add_argument(
        "--rss-child", nargs=2, metavar=("WORKLOAD", "MODE"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.rss_child:
        rss_child(args.inputs, *args.rss_child)
        return

    inputs = load_inputs(args.inputs)
    timings = time_workloads(inputs, args.workloads, args.repeats)
    arrays, graph_err = reference_outputs(inputs, args.workloads)
    save_npz(args.out_npz, arrays)
    rss = {}
    if not args.skip_rss:
        for mode in ("eager", "graph"):
            rss[mode] = rss_in_subprocess(
                os.path.abspath(__file__),
                ["--inputs", args.inputs, "--rss-child", "harmonic_fwd_bwd", mode],
            )
            print(f"peak RSS harmonic fwd+bwd ({mode}): {rss[mode]}", flush=True)
    write_json(
        args.out_json,
        {
            "peer": "tf_ddsp",
            "label": "ddsp 3.7.0 / TF",
            "versions": {
                "tensorflow": tf.__version__,
                "ddsp": ddsp.__version__,
                "numpy": np.__version__,
            },
            "threads": {
                "intra_op": tf.config.threading.get_intra_op_parallelism_threads(),
                "inter_op": tf.config.threading.get_inter_op_parallelism_threads(),
            },
            "machine": machine_info(),
            "inputs": os.path.abspath(args.inputs),
            "repeats": args.repeats,
            "modes": ["eager", "graph"],
            "timings": timings,
            "peak_rss_harmonic_fwd_bwd": rss,
            "outputs_npz": os.path.abspath(args.out_npz),
            "graph_vs_eager_rel_err": graph_err,
        },
    )
    print(f"wrote {args.out_json} and {args.out_npz}")


if __name__ == "__main__":
    main()
