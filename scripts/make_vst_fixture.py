"""Record ddsp 3.7.0's VST inference modules on a small vst.gin model (run once, in the peer
venv; ddsp_ref never imports TensorFlow).

ddsp's own ``models/vst/vst.gin`` shrunk (GRU 8, ch 8, 6 harmonics, 5 noise bands, a 640-tap
FilteredNoiseReverb), built on 0.2 s of audio, its weights moved off their initial values
(seeded normal noise, std 0.3), saved as a TF checkpoint (``tf.train.Checkpoint(model=...).save``,
the layout of ddsp's Trainer) with its operative config, into
``tests/training/fixtures/vst_ckpt/``; ``reference.npz`` beside it holds what ddsp's modules
return:

- ``stateless/{f0_scaled,pw_scaled}`` [T] inputs and ``stateless/{amps,hd,noise,state}`` [T, ...]
  from ``VSTStatelessPredictControls`` called frame by frame with the state fed back;
- ``predict/{amps,hd,noise}`` from ``VSTPredictControls`` on the same frames (fresh state);
- ``harmonic/{amps,hd,f0}`` controls [T, ...] and ``harmonic/{audio,phase}``: the blocks of
  ``VSTSynthesizeHarmonic`` (frames k-1, k; phase fed back), and ``harmonic97/...`` the same
  with ``new_hop_size=97``.

VSTExtractFeatures needs CREPE (not in the peer venv) and VSTSynthesize's noise is random:
neither is recorded.

Usage (from the repository root)::

    source /tmp/peers/tf-venv/peers_env.sh
    python scripts/make_vst_fixture.py
"""

import importlib
import os
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_tf_fixture  # noqa: E402  (sets TF's environment, stubs ddsp's optional imports)

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
BINDINGS = [
    "RnnFcDecoder.rnn_channels = 8",
    "RnnFcDecoder.ch = 8",
    "RnnFcDecoder.output_splits = "
    "(('amps', 1), ('harmonic_distribution', 6), ('noise_magnitudes', 5))",
    "FilteredNoiseReverb.reverb_length = 640",
    "FilteredNoiseReverb.n_frames = 10",
    "FilteredNoiseReverb.n_filter_banks = 4",
    "n_samples = 3520",
]
T = 30


def main():
    ddsp = make_tf_fixture.install_stubs()
    import gin
    import numpy as np
    import tensorflow as tf
    from ddsp.training import models

    inference = importlib.import_module("ddsp.training.inference")
    gin_file = os.path.join(
        os.path.dirname(ddsp.__file__), "training", "gin", "models", "vst", "vst.gin"
    )
    out_dir = os.path.join(ROOT, "tests", "training", "fixtures", "vst_ckpt")
    shutil.rmtree(out_dir, ignore_errors=True)
    os.makedirs(out_dir)

    gin.clear_config()
    gin.parse_config_files_and_bindings([gin_file], BINDINGS)
    tf.random.set_seed(0)
    model = models.get_model()
    rng = np.random.default_rng(0)
    audio = rng.normal(0, 0.1, (1, 3200)).astype(np.float32)
    frames = np.full((1, 11), 220.0, np.float32)
    model({"audio": audio, "f0_hz": frames, "f0_confidence": frames * 0 + 1}, training=False)
    for var in model.trainable_variables:
        var.assign(var + rng.normal(0, 0.3, var.shape).astype(np.float32))
    tf.train.Checkpoint(model=model).save(os.path.join(out_dir, "ckpt"))  # ckpt-1
    with open(os.path.join(out_dir, "operative_config-1.gin"), "w") as f:
        f.write(gin.operative_config_str())

    record = {}
    f0_scaled = (ddsp.core.hz_to_midi(rng.uniform(100, 900, T)) / 127.0).numpy()
    f0_scaled = f0_scaled.astype(np.float32)
    pw_scaled = rng.uniform(0.2, 1.0, T).astype(np.float32)
    record["stateless/f0_scaled"], record["stateless/pw_scaled"] = f0_scaled, pw_scaled

    gin.clear_config()
    module = inference.VSTStatelessPredictControls(out_dir)
    state = tf.zeros([module.state_size])
    rows = []
    for t in range(T):
        amps, hd, noise, state = module(f0_scaled[t : t + 1], pw_scaled[t : t + 1], state)
        rows.append([np.asarray(x) for x in (amps, hd, noise, state)])
    for i, key in enumerate(("amps", "hd", "noise", "state")):
        record[f"stateless/{key}"] = np.stack([r[i] for r in rows])

    gin.clear_config()
    module = inference.VSTPredictControls(out_dir)
    rows = [
        [np.asarray(x) for x in module(f0_scaled[t : t + 1], pw_scaled[t : t + 1])]
        for t in range(T)
    ]
    for i, key in enumerate(("amps", "hd", "noise")):
        record[f"predict/{key}"] = np.stack([r[i] for r in rows])

    amps = rng.uniform(0.0, 0.5, (T, 1)).astype(np.float32)
    hd = rng.uniform(0.0, 1.0, (T, 6)).astype(np.float32)
    f0 = rng.uniform(100, 1000, (T, 1)).astype(np.float32)
    f0[7] = 2000.0
    for name, hop in (("harmonic", None), ("harmonic97", 97)):
        gin.clear_config()
        synth = inference.VSTSynthesizeHarmonic(out_dir, new_hop_size=hop)
        phase, blocks, phases = tf.zeros([1]), [], []
        for b in range(1, T):
            audio, phase = synth(amps[b], amps[b - 1], hd[b], hd[b - 1], f0[b], f0[b - 1], phase)
            blocks.append(np.asarray(audio))
            phases.append(np.asarray(phase))
        record[f"{name}/amps"], record[f"{name}/hd"], record[f"{name}/f0"] = amps, hd, f0
        record[f"{name}/audio"] = np.stack(blocks)
        record[f"{name}/phase"] = np.stack(phases)
    np.savez_compressed(os.path.join(out_dir, "reference.npz"), **record)
    print("wrote", sorted(record))


if __name__ == "__main__":
    main()
