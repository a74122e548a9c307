"""Training steps of ddsp's models (issue 12's goals), with the TF DDSP and PyTorch peers.

One optimizer step (forward, backward, global-norm clipping, Adam) of the ``solo_instrument``
autoencoder (F0LoudnessPreprocessor -> RnnFcDecoder(GRU 512, ch 512, 3 layers per stack) ->
Harmonic(60) + FilteredNoise(65, window 0) -> Add -> trainable Reverb(48000) ->
SpectralLoss(mag + logmag)) at batch 8 and 1, and of ``tiny_instrument`` (GRU 256, no Fc
layers) at batch 8, on the peers' synthetic 4 s / 16 kHz inputs. Every configuration runs in a
fresh process; the figure is the lower of the per-process medians, peak memory the process's
VmHWM (as ``shared/peers`` measures its peers).

With ``--peers`` (and the peer venv present, see benchmarks/peers/README.md) the peers'
``train_step_tf.py`` and ``train_step_torch.py`` run the same configurations in the same session,
interleaved with ours configuration by configuration, and the table prints the ratios against
issue 12's goals.

Run: python -m benchmarks.bench_models [--peers] [--configs solo_b8 ...] [--repeats 2]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

CONFIGS = ("solo_b8", "solo_b1", "tiny_b8")
N_SAMPLES, N_FRAMES = 64000, 1000
HERE = os.path.dirname(os.path.abspath(__file__))
PEERS_DIR = os.path.normpath(os.path.join(HERE, "..", "..", "shared", "peers"))
PEER_VENV = "/tmp/peers/tf-venv"
# Issue 12: (goal speed-up over TF, over PyTorch, peak RSS limit in MB); None: no goal.
GOALS = {"solo_b8": (2.0, 1.4, 1200.0), "solo_b1": (None, 2.0, None), "tiny_b8": (3.0, 2.0, None)}


def _inputs(batch: int) -> dict:
    """The peers' inputs (train_step_torch.py): noise audio, a wobbling f0, random loudness."""
    import numpy as np

    rng = np.random.default_rng(0)
    audio = rng.uniform(-0.5, 0.5, (batch, N_SAMPLES)).astype(np.float32)
    t = np.arange(N_FRAMES) / 250.0
    f0 = 300.0 + 90.0 * np.sin(2 * np.pi * 0.5 * t[None, :] + rng.uniform(0, 2 * np.pi, (batch, 1)))
    f0 = np.clip(f0 + rng.normal(0, 3.0, f0.shape), 200.0, 400.0).astype(np.float32)
    loudness = rng.uniform(-80.0, 0.0, (batch, N_FRAMES)).astype(np.float32)
    return {"audio": audio, "f0_hz": f0, "loudness_db": loudness}


def build_trainer(kind: str):
    """ddsp's solo_instrument / tiny_instrument autoencoder and its Trainer (lr 3e-4)."""
    from ddsp_ref import effects, losses, processors, synths
    from ddsp_ref.training import decoders, models, preprocessing, trainers

    dag = [
        (synths.Harmonic(n_samples=N_SAMPLES, sample_rate=16000),
         ["amps", "harmonic_distribution", "f0_hz"]),
        (synths.FilteredNoise(n_samples=N_SAMPLES, window_size=0), ["noise_magnitudes"]),
        (processors.Add(name="add"), ["filtered_noise/signal", "harmonic/signal"]),
        (effects.Reverb(name="reverb", reverb_length=48000, trainable=True), ["add/signal"]),
    ]  # fmt: skip
    tiny = kind == "tiny"
    decoder = decoders.RnnFcDecoder(
        rnn_channels=256 if tiny else 512, rnn_type="gru", ch=512,
        layers_per_stack=0 if tiny else 3, input_keys=("ld_scaled", "f0_scaled"),
        output_splits=(("amps", 1), ("harmonic_distribution", 60), ("noise_magnitudes", 65)),
    )  # fmt: skip
    model = models.Autoencoder(
        preprocessor=preprocessing.F0LoudnessPreprocessor(time_steps=N_FRAMES),
        decoder=decoder,
        processor_group=processors.ProcessorGroup(dag=dag),
        losses=[losses.SpectralLoss(loss_type="L1", mag_weight=1.0, logmag_weight=1.0)],
    )
    return trainers.Trainer(model, learning_rate=3e-4)


def worker(config: str, warmup: int, steps: int) -> None:
    """Time ``steps`` train steps after ``warmup`` in this process; print one JSON line."""
    from benchmarks.timing import peak_rss_mb
    from ddsp_ref.autodiff import tree_flatten

    kind, batch = config.rsplit("_b", 1)
    batch_data = _inputs(int(batch))
    trainer = build_trainer(kind)
    trainer.build(batch_data)
    n_params = sum(int(p.size) for p in tree_flatten(trainer.model.parameters())[0])
    times = []
    for i in range(warmup + steps):
        start = time.perf_counter()
        losses = trainer.train_step(batch_data)
        if i >= warmup:
            times.append((time.perf_counter() - start) * 1e3)
    print(json.dumps({
        "worker": config, "median_ms": statistics.median(times), "times_ms": times,
        "vmhwm_mb": peak_rss_mb(), "n_params": n_params, "loss_last": losses["total_loss"],
    }), flush=True)  # fmt: skip


def run_ours(config: str, repeats: int, warmup: int, steps: int) -> dict:
    """Lower of the per-process medians and the largest peak RSS over ``repeats`` processes."""
    runs = []
    for _ in range(repeats):
        cmd = [sys.executable, "-m", "benchmarks.bench_models", "--worker", config,
               str(warmup), str(steps)]  # fmt: skip
        out = subprocess.run(cmd, capture_output=True, text=True, check=True,
                             cwd=os.path.dirname(HERE)).stdout  # fmt: skip
        runs.append(json.loads(out.strip().splitlines()[-1]))
        print(f"# ours {config}: {json.dumps(runs[-1])}", flush=True)
    return {"ms": min(r["median_ms"] for r in runs), "rss": max(r["vmhwm_mb"] for r in runs)}


def run_peer(script: str, configs: list[str], venv: str) -> dict:
    """Run a peer script from ``shared/peers`` in the peer venv; its final JSON summary."""
    env = dict(os.environ, TF_USE_LEGACY_KERAS="1", PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION="python",
               TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="",
               PYTHONPATH=os.path.join(venv, "stubs"))  # fmt: skip
    cmd = [os.path.join(venv, "bin", "python"), os.path.join(PEERS_DIR, script), *configs]
    out = subprocess.run(cmd, capture_output=True, text=True, env=env)
    lines = [line for line in out.stdout.splitlines() if line.startswith("{")]
    if out.returncode or not lines:
        print(f"# {script} failed ({out.returncode}): {out.stderr[-2000:]}", flush=True)
        return {}
    print(f"# {script}: {lines[-1]}", flush=True)
    return json.loads(lines[-1])


def _keep_best(table: dict, config: str, result: dict) -> None:
    """Lower time and higher peak RSS of ``table[config]`` and ``result``."""
    old = table.get(config)
    if old is not None:
        result = {"ms": min(old["ms"], result["ms"]), "rss": max(old["rss"], result["rss"])}
    table[config] = result


def _ratio(peer_ms, ours_ms) -> str:
    return "-" if not peer_ms else f"{peer_ms / ours_ms:.2f}x"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configs", nargs="+", default=list(CONFIGS), choices=CONFIGS)
    parser.add_argument("--repeats", type=int, default=2, help="fresh processes per config")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--peers", action="store_true", help="also run the TF and torch peers")
    parser.add_argument("--peer-venv", default=PEER_VENV)
    args = parser.parse_args()
    tf, torch, ours = {}, {}, {}
    if args.peers and not os.path.exists(os.path.join(args.peer_venv, "bin", "python")):
        sys.exit(f"--peers: no peer venv at {args.peer_venv} (benchmarks/peers/README.md)")
    os.environ.update({"REPEATS": "1", "STEPS": str(args.steps), "WARMUP": str(args.warmup)})
    # Interleaved (ours, TF, torch for one configuration, then the next, then again): on a
    # shared machine the load changes by the minute, so the three see the same conditions.
    for _ in range(args.repeats):
        for c in args.configs:
            _keep_best(ours, c, run_ours(c, 1, args.warmup, args.steps))
            if args.peers:
                for script, table in (("train_step_tf.py", tf), ("train_step_torch.py", torch)):
                    res = run_peer(script, [c], args.peer_venv)
                    if res:
                        _keep_best(table, c, {"ms": res[f"{c}_ms"], "rss": res[f"{c}_rss_mb"]})
    rows, summary = [], {}
    for c in args.configs:
        ms, rss = ours[c]["ms"], ours[c]["rss"]
        tf_ms, torch_ms = tf.get(c, {}).get("ms"), torch.get(c, {}).get("ms")
        goal_tf, goal_torch, goal_rss = GOALS[c]
        met = all([
            goal_tf is None or (tf_ms is not None and tf_ms / ms >= goal_tf),
            goal_torch is None or (torch_ms is not None and torch_ms / ms >= goal_torch),
            goal_rss is None or rss <= goal_rss,
        ])  # fmt: skip
        goal = ", ".join(
            text
            for value, text in ((goal_tf, f">={goal_tf}x TF"),
                                (goal_torch, f">={goal_torch}x torch"),
                                (goal_rss, f"RSS<={goal_rss}"))
            if value
        )  # fmt: skip
        rows.append((c, f"{ms:.0f}", f"{rss:.0f}", tf_ms and f"{tf_ms:.0f}",
                     tf.get(c, {}).get("rss"), _ratio(tf_ms, ms), torch_ms and f"{torch_ms:.0f}",
                     torch.get(c, {}).get("rss"), _ratio(torch_ms, ms), goal,
                     ("yes" if met else "NO") if args.peers else "-"))  # fmt: skip
        summary[f"{c}_ms"], summary[f"{c}_rss_mb"] = round(ms, 1), round(rss)
    from benchmarks.timing import print_table

    header = ("config", "ours ms", "ours RSS MB", "TF ms", "TF RSS", "vs TF", "torch ms",
              "torch RSS", "vs torch", "goal", "met")  # fmt: skip
    print_table("Training step (lower of per-process medians)", rows, header)
    print(json.dumps(summary), flush=True)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        worker(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
    else:
        main()
