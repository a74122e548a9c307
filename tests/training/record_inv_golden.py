"""Record tests/training/golden_inv_3_7_0.npz from ddsp 3.7.0 (TensorFlow): the DDSP-INV model
(``models.InverseSynthesis``) with its ``ResnetSinusoidalEncoder`` and
``SinusoidalToHarmonicEncoder``.

Not part of the test run (it needs TensorFlow and ddsp); run it in the TF peer environment:
``source /tmp/peers/tf-venv/peers_env.sh; python tests/training/record_inv_golden.py``.

Every weight is ``formula_weights(<ddsp_ref parameter name>, <keras shape>)`` (the test computes
the same), so nothing large is stored. The FilteredNoise synth's uniform noise is replaced by a
stored array (``noise[:batch]`` at every call) so that both libraries render the same audio.

Cases:
  ``harm/``: the harmonic encoder alone (net: keras ``Dense(8, relu)``): inputs, outputs, a
      random cotangent per output and the gradients of ``sum(out * cot)`` with respect to the
      inputs and every variable.
  ``zipped/``: the model on a (synthetic, real) pair without reverb, with every loss: the
      outputs, the losses, and the gradients of ``total_loss`` with respect to the real audio,
      every small variable (in full) and every variable (sum of squares, ``grad_sums``).
  ``ss/``: the model on the synthetic dict alone: its losses.
  ``notes<seed>_<get_controls>/``: ``synthetic_data.generate_notes(2, 20, 8, 5, get_controls)``
      after ``np.random.seed(seed)``.
  ``synthetic_tfrecord``: the bytes of a TFRecord file written by TensorFlow holding what
      ddsp's ``ddsp_generate_synthetic_dataset`` makes of its first three seeds (random_seed
      42: ``np.random.seed(seed)``, ``generate_notes(n_batch=1, 20, 8, 5)``, float-list
      Examples), in seed order; ``synthetic_seeds`` those seeds.
"""

from __future__ import annotations

import functools
import json
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from record_conv_golden import _conv, _flatten, _load_ddsp  # noqa: E402
from record_nn_extras_golden import _stack_vars_resnet, formula_weights  # noqa: E402

SR, N_SAMPLES, N_SIN, N_HARM, DEPTH, N_MAGS, N_FRAMES = 2000, 512, 3, 4, 4, 5, 8
LOGMEL = dict(lo_hz=0.0, hi_hz=1000.0, bins=32, fft_size=128, overlap=0.5, pad_end=True,
              sample_rate=SR)  # fmt: skip
SPECTRAL = dict(fft_sizes=(64, 32), loss_type="L1", mag_weight=1.0, logmag_weight=1.0)
KDE = dict(weight_a=1.0, weight_b=1.0, weight_mean_amp=0.1, scale_a=0.1, scale_b=0.1)
HCL = dict(amp_weight=1.0, dist_weight=1.0, f0_weight=1.0)
LOSS_NAMES = ("spectral_loss", "kde_loss", "twm_loss", "noise_loss", "harmonic_loss")


def _f32(x):
    return np.asarray(x, np.float32)


def _assign_formula(tree):
    for name, v in _flatten(tree):
        v.assign(formula_weights(name, tuple(v.shape)))


def _harm_tree(h):
    return {"net": _conv(h.net), "amp_out": _conv(h.amp_out), "hd_out": _conv(h.hd_out),
            "f0_out": _conv(h.f0_out)}  # fmt: skip


def _model_tree(model, keys):
    enc = model.sinusoidal_encoder
    res = enc.resnet
    resnet = {"conv_in": _conv(res.layers[0]), "stack_0": _stack_vars_resnet(res.layers[2]),
              "stack_1": _stack_vars_resnet(res.layers[3])}  # fmt: skip
    tree = {"resnet": resnet}
    for key, dense in zip(keys, enc.dense_outs):
        tree[f"dense_{key}"] = _conv(dense)
    return {"sinusoidal_encoder": tree, "harmonic_encoder": _harm_tree(model.harmonic_encoder)}


def _harmonic_encoder(tf, ddsp, encoders):
    scale = functools.partial(ddsp.core.frequencies_softmax, depth=DEPTH, hz_min=20.0,
                              hz_max=600.0)  # fmt: skip
    net = tf.keras.layers.Dense(8, activation="relu")
    return encoders.SinusoidalToHarmonicEncoder(net=net, n_harmonics=N_HARM, f0_depth=DEPTH,
                                                freq_scale_fn=scale, sample_rate=SR)  # fmt: skip


def record_harmonic(tf, ddsp, encoders, rng, store):
    h = _harmonic_encoder(tf, ddsp, encoders)
    freqs = _f32(rng.uniform(30.0, 990.0, (2, 3, N_SIN)))
    amps = _f32(rng.uniform(0.0, 1.0, (2, 3, N_SIN)))
    h(tf.constant(freqs), tf.constant(amps))
    tree = _harm_tree(h)
    _assign_formula(tree)
    flat = dict(_flatten(tree))
    tf_f, tf_a = tf.constant(freqs), tf.constant(amps)
    with tf.GradientTape() as tape:
        tape.watch([tf_f, tf_a])
        out = h(tf_f, tf_a)
        cots = {k: _f32(rng.standard_normal(v.shape)) for k, v in out.items()}
        loss = sum(tf.reduce_sum(out[k] * cots[k]) for k in out)
    grads = tape.gradient(loss, [tf_f, tf_a] + list(flat.values()))
    store["harm/sin_freqs"], store["harm/sin_amps"] = freqs, amps
    for k, v in out.items():
        store[f"harm/out/{k}"], store[f"harm/cot/{k}"] = v.numpy(), cots[k]
    for name, g in zip(["sin_freqs", "sin_amps"] + [f"params/{k}" for k in flat], grads):
        store[f"harm/grad/{name}"] = g.numpy()


def _model(tf, ddsp, encoders, models, losses):
    splits = (("frequencies", N_SIN * DEPTH), ("amplitudes", N_SIN), ("noise_magnitudes", N_MAGS))
    enc = encoders.ResnetSinusoidalEncoder(
        output_splits=splits, size="small",
        spectral_fn=functools.partial(ddsp.spectral_ops.compute_logmel, **LOGMEL))  # fmt: skip
    return models.InverseSynthesis(
        sinusoidal_encoder=enc, harmonic_encoder=_harmonic_encoder(tf, ddsp, encoders),
        losses=[losses.SpectralLoss(name=LOSS_NAMES[0], **SPECTRAL)],
        sinusoidal_consistency_losses=[losses.KDEConsistencyLoss(name=LOSS_NAMES[1], **KDE)],
        twm_loss=losses.TWMLoss(sample_rate=SR, name=LOSS_NAMES[2]),
        filtered_noise_consistency_loss=losses.FilteredNoiseConsistencyLoss(name=LOSS_NAMES[3]),
        harmonic_consistency_losses=[losses.HarmonicConsistencyLoss(name=LOSS_NAMES[4], **HCL)],
        freq_scale_fn=functools.partial(ddsp.core.frequencies_softmax, depth=DEPTH,
                                        hz_min=20.0, hz_max=900.0),
        reverb=False, n_samples=N_SAMPLES, sample_rate=SR), [k for k, _ in splits]  # fmt: skip


def _features(rng):
    t = (1, N_FRAMES)
    ss = {"sin_amps": _f32(rng.uniform(0.0, 0.2, t + (N_SIN,))),
          "sin_freqs": _f32(rng.uniform(60.0, 900.0, t + (N_SIN,))),
          "noise_magnitudes": _f32(rng.uniform(0.0, 0.02, t + (N_MAGS,))),
          "harm_amp": _f32(rng.uniform(0.0, 0.5, t + (1,))),
          "harm_dist": _f32(rng.uniform(0.0, 1.0, t + (N_HARM,))),
          "f0_hz": _f32(rng.uniform(60.0, 300.0, t + (1,)))}  # fmt: skip
    ss["harm_amp"][0, :2] = 0.0  # frames under the harmonic loss' amp_threshold
    real = _f32(0.3 * np.sin(2 * np.pi * 220.0 * np.arange(N_SAMPLES) / SR)
                + 0.05 * rng.standard_normal((2, N_SAMPLES)))  # fmt: skip
    return ss, real


def record_model(tf, ddsp, encoders, models, losses, rng, store):
    model, keys = _model(tf, ddsp, encoders, models, losses)
    noise = _f32(rng.uniform(-1.0, 1.0, (3, N_SAMPLES)))
    synth = model.filtered_noise_synth
    synth.get_signal = lambda magnitudes: ddsp.core.frequency_filter(
        tf.constant(noise[: int(magnitudes.shape[0])]), magnitudes, window_size=0
    )
    ss, real = _features(rng)
    model((ss, {"audio": tf.constant(real)}))  # build
    tree = _model_tree(model, keys)
    _assign_formula(tree)
    flat = dict(_flatten(tree))
    assert len(flat) == len(model.trainable_variables), "a variable is not mapped"
    audio = tf.constant(real)
    with tf.GradientTape() as tape:
        tape.watch(audio)
        out = model(({k: tf.constant(v) for k, v in ss.items()}, {"audio": audio}))
        total = tf.add_n(list(model._losses_dict.values()))
    grads = tape.gradient(total, [audio] + list(flat.values()))
    store["noise"], store["real_audio"] = noise, real
    for k, v in ss.items():
        store[f"ss_features/{k}"] = v
    for k, v in out.items():
        store[f"zipped/out/{k}"] = v.numpy()
    for k, v in model._losses_dict.items():
        store[f"zipped/loss/{k}"] = np.float32(v)
    store["zipped/loss/total_loss"] = np.float32(total)
    store["zipped/grad/audio"] = grads[0].numpy()
    for name, g in zip(flat, grads[1:]):
        if int(np.prod(g.shape)) <= 2048:
            store[f"zipped/grad/params/{name}"] = tf.convert_to_tensor(g).numpy()
    store["zipped/grad_sums"] = np.array([float(tf.reduce_sum(g * g)) for g in grads[1:]])
    store["zipped/names"] = np.array(json.dumps(list(flat)))
    model({k: tf.constant(v) for k, v in ss.items()})
    for k, v in model._losses_dict.items():
        store[f"ss/loss/{k}"] = np.float32(v)


NOTES_SEEDS = (0, 1, 7, 2026)


def record_notes(store):
    import types

    # the package's __init__ imports Apache Beam (not installed): load the module alone
    training = sys.modules["ddsp.training"]  # _load_ddsp's package stand-in
    pkg = types.ModuleType("ddsp.training.data_preparation")
    pkg.__path__ = [os.path.join(training.__path__[0], "data_preparation")]
    sys.modules["ddsp.training.data_preparation"] = pkg
    from ddsp.training.data_preparation import synthetic_data

    for seed in NOTES_SEEDS:
        for get_controls in (True, False):
            np.random.seed(seed)
            notes = synthetic_data.generate_notes(2, 20, 8, 5, get_controls=get_controls)
            for k, v in notes.items():
                store[f"notes{seed}_{int(get_controls)}/{k}"] = np.asarray(v)
    return synthetic_data


def record_synthetic_tfrecord(tf, synthetic_data, store):
    """ddsp_generate_synthetic_dataset's steps (its module imports Apache Beam, so they are
    repeated here): per-example seeds, notes, float-list Examples, one TFRecord file."""
    import tempfile

    np.random.seed(42)
    seeds = np.random.randint(2**32, size=3)
    path = os.path.join(tempfile.mkdtemp(), "synthetic.tfrecord")
    with tf.io.TFRecordWriter(path) as writer:
        for seed in seeds:
            np.random.seed(seed)
            batch = synthetic_data.generate_notes(n_batch=1, n_timesteps=20, n_harmonics=8,
                                                  n_mags=5)  # fmt: skip
            feature = {k: tf.train.Feature(float_list=tf.train.FloatList(value=v[0].numpy()
                       .flatten())) for k, v in batch.items()}  # fmt: skip
            example = tf.train.Example(features=tf.train.Features(feature=feature))
            writer.write(example.SerializeToString())
    with open(path, "rb") as f:
        store["synthetic_tfrecord"] = np.frombuffer(f.read(), np.uint8)
    store["synthetic_seeds"] = seeds


def main() -> None:
    import tensorflow as tf

    _, _, encoders = _load_ddsp()
    import types

    import ddsp
    from ddsp import losses

    # models/model.py imports train_util, which imports the Google Cloud client (not installed
    # in the peer environment and not used here).
    sys.modules.setdefault("ddsp.training.cloud", types.ModuleType("ddsp.training.cloud"))
    from ddsp.training import models

    rng = np.random.default_rng(20261130)
    store = {}
    record_harmonic(tf, ddsp, encoders, rng, store)
    record_model(tf, ddsp, encoders, models, losses, rng, store)
    record_synthetic_tfrecord(tf, record_notes(store), store)
    defaults = [
        losses.SpectralLoss(),
        losses.KDEConsistencyLoss(),
        losses.TWMLoss(),
        losses.FilteredNoiseConsistencyLoss(),
        losses.HarmonicConsistencyLoss(),
    ]
    store["ddsp_default_loss_names"] = np.array(json.dumps([lo.name for lo in defaults]))
    path = os.path.join(HERE, "golden_inv_3_7_0.npz")
    np.savez_compressed(path, **store)
    print(f"wrote {path}: {len(store)} arrays, {os.path.getsize(path)} bytes")


if __name__ == "__main__":
    main()
