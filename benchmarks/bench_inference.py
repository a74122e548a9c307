"""The VST inference modules per hop (20 ms of audio at 50 frames per second), full vst.gin sizes.

Run both, one after the other in one session, on one core:
    taskset -c 0 env OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 \\
        NUMBA_NUM_THREADS=1 .venv/bin/python -m benchmarks.bench_inference
    source /tmp/peers/tf-venv/peers_env.sh && taskset -c 0 env OMP_NUM_THREADS=1 \\
        TF_NUM_INTRAOP_THREADS=1 TF_NUM_INTEROP_THREADS=1 \\
        python benchmarks/bench_inference.py --peer

Each builds models/vst/vst.gin at its real sizes (GRU 512, ch 256, 60 harmonics, 65 noise bands;
random parameters: the cost does not depend on training), saves a checkpoint, builds
``VSTStatelessPredictControls`` and ``VSTSynthesize`` from it, and runs them frame by frame on a
330 Hz tone's features (state and phase fed back), as a plugin's audio thread would. Reported:
median milliseconds per hop of each module over 5 runs of 100 hops, after 20 warm-up hops.
``VSTExtractFeatures`` is timed for ddsp_ref only (ddsp's runs CREPE, absent from the peer venv).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time

import numpy as np

HOP, N_HOPS, RUNS, WARMUP = 320, 100, 5, 20


def _controls_inputs(n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """f0 (Hz), f0_scaled and pw_scaled frames of a slightly wavering 330 Hz tone."""
    t = np.arange(n) / 50.0
    f0 = (330.0 * 2 ** (0.02 * np.sin(2 * np.pi * 5 * t))).astype(np.float32)
    f0_scaled = ((12 * np.log2(f0 / 440.0) + 69) / 127).astype(np.float32)
    pw_scaled = (0.7 + 0.1 * np.sin(2 * np.pi * 0.5 * t)).astype(np.float32)
    return f0, f0_scaled, pw_scaled


def _time_hops(controls, synth, state_size: int, extract=None) -> dict:
    f0, f0s, pws = _controls_inputs(WARMUP + N_HOPS)
    audio = 0.3 * np.sin(2 * np.pi * 330 * np.arange((WARMUP + N_HOPS + 4) * HOP) / 16000)
    audio = audio.astype(np.float32)
    results: dict[str, list] = {"extract": [], "controls": [], "synth": []}
    for run in range(RUNS + 1):
        state, phase, prev = np.zeros(state_size, np.float32), np.zeros(1, np.float32), None
        spent = {k: 0.0 for k in results}
        for i in range(WARMUP + N_HOPS):
            t0 = time.perf_counter()
            if extract is not None:
                extract(audio[i * HOP : i * HOP + 1024])
            t1 = time.perf_counter()
            amps, hd, noise, state = controls(f0s[i : i + 1], pws[i : i + 1], state)
            t2 = time.perf_counter()
            prev = prev or (amps, hd, f0[i : i + 1])
            _, phase = synth(amps, prev[0], hd, prev[1], f0[i : i + 1], prev[2], noise, phase)
            prev = (amps, hd, f0[i : i + 1])
            t3 = time.perf_counter()
            if i >= WARMUP:
                for key, dt in zip(results, (t1 - t0, t2 - t1, t3 - t2)):
                    spent[key] += dt
        if run:  # the first run warms caches and compilers
            for key in results:
                results[key].append(1e3 * spent[key] / N_HOPS)
    out = {
        k: float(np.median(v)) for k, v in results.items() if extract is not None or k != "extract"
    }
    return out


def run_ddsp_ref() -> dict:
    import gin

    from ddsp_ref.training import inference, models
    from ddsp_ref.training.checkpoints import save_checkpoint
    from ddsp_ref.training.ddsp_run import GIN_PATH

    gin.clear_config()
    gin.parse_config_files_and_bindings([os.path.join(GIN_PATH, "models", "vst", "vst.gin")],
                                        ["RnnFcDecoder.seed = 0", "n_samples = 3520"])  # fmt: skip
    model = models.get_model()
    frames = np.full((1, 11), 330.0, np.float32)
    model({"audio": np.zeros((1, 3200), np.float32), "f0_hz": frames,
           "f0_confidence": frames * 0 + 1}, training=False)  # fmt: skip
    folder = tempfile.mkdtemp()
    save_checkpoint(folder, 1, model.parameters(), {}, gin_config=gin.operative_config_str())
    extract = inference.VSTExtractFeatures(folder)
    controls = inference.VSTStatelessPredictControls(folder)
    synth = inference.VSTSynthesize(folder)
    return _time_hops(controls, synth, controls.state_size, extract)


def run_ddsp_peer() -> dict:
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "scripts"))
    import make_tf_fixture

    ddsp = make_tf_fixture.install_stubs()
    import importlib

    import gin
    import tensorflow as tf
    from ddsp.training import models

    inference = importlib.import_module("ddsp.training.inference")
    gin_file = os.path.join(os.path.dirname(ddsp.__file__), "training", "gin", "models", "vst",
                            "vst.gin")  # fmt: skip
    gin.clear_config()
    gin.parse_config_files_and_bindings([gin_file], ["n_samples = 3520"])
    model = models.get_model()
    frames = np.full((1, 11), 330.0, np.float32)
    model({"audio": np.zeros((1, 3200), np.float32), "f0_hz": frames,
           "f0_confidence": frames * 0 + 1}, training=False)  # fmt: skip
    folder = tempfile.mkdtemp()
    tf.train.Checkpoint(model=model).save(os.path.join(folder, "ckpt"))
    with open(os.path.join(folder, "operative_config-1.gin"), "w") as f:
        f.write(gin.operative_config_str())
    gin.clear_config()
    controls = inference.VSTStatelessPredictControls(folder)
    gin.clear_config()
    synth = inference.VSTSynthesize(folder)
    return _time_hops(controls, synth, controls.state_size)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--peer", action="store_true", help="time ddsp 3.7.0 (TF venv)")
    args = parser.parse_args()
    name = "ddsp 3.7.0 (TF)" if args.peer else "ddsp_ref"
    times = run_ddsp_peer() if args.peer else run_ddsp_ref()
    print(json.dumps({"library": name, "ms_per_hop": times, "hop_ms": 1e3 * HOP / 16000}))


if __name__ == "__main__":
    main()
