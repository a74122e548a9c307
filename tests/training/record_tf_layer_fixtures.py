"""Record tests/training/fixtures/tf_layers/ from ddsp 3.7.0 (TensorFlow): checkpoints of single
ddsp layers and what TF computes with them, for the TF-checkpoint mapping of layers the
whole-model fixtures (``scripts/make_tf_fixture.py``) do not hold.

Not part of the test run (it needs TensorFlow and ddsp): run it with the TensorFlow peer,
``source /tmp/peers/tf-venv/peers_env.sh; python tests/training/record_tf_layer_fixtures.py``.

Bidirectional Rnn (keras ``Bidirectional``): one folder per case (``bidir_gru_seq``,
``bidir_gru_last``, ``bidir_lstm_seq``, ``bidir_lstm_last``: the cell type and
``return_sequences``), each with ``tf.train.Checkpoint(model=rnn).save`` files (``checkpoint``,
``ckpt-1.index``, ``ckpt-1.data-00000-of-00001``, written with keras' Adam after one step) and
``reference.npz``: the input ``x`` ``[2, 7, 4]``, TF's output ``y`` with the saved weights, and
for each trainable variable ``i`` (in ``trainable_variables`` order) its value ``var/<i>`` and
Adam moments ``m/<i>``, ``v/<i>`` as the optimizer object holds them. Every variable, biases
included, is set to random values first, so a swapped direction, gate order or transposition
changes the output.

``mfcc_encoder``: ddsp's ``MfccTimeDistributedRnnEncoder(rnn_channels=4, rnn_type='gru',
z_dims=3, z_time_steps=125)`` (instance-normalised MFCCs, GRU, Dense), variables randomised,
saved with ``tf.train.Checkpoint(model=encoder).save``; ``reference.npz`` holds its inputs
``audio [1, 16000]``, ``f0_scaled [1, 125, 1]`` and TF's ``z [1, 125, 3]``.
"""

from __future__ import annotations

import os
import shutil
import sys
import types

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "fixtures", "tf_layers")
UNITS, IN_CH, N_STEPS = 3, 4, 7


def _load_ddsp_training():
    """ddsp.training's nn and encoders modules, without its package __init__ (which imports
    optional services)."""
    for name in ("crepe", "hypertune"):  # imported by ddsp.training's package, never called
        sys.modules.setdefault(name, types.ModuleType(name))
    import ddsp

    pkg = types.ModuleType("ddsp.training")
    pkg.__path__ = [os.path.join(os.path.dirname(ddsp.__file__), "training")]
    sys.modules["ddsp.training"] = pkg
    from ddsp.training import encoders, nn

    return nn, encoders


def _save(folder: str, checkpoint, record: dict) -> None:
    shutil.rmtree(folder, ignore_errors=True)
    os.makedirs(folder)
    checkpoint.save(os.path.join(folder, "ckpt"))
    np.savez(os.path.join(folder, "reference.npz"), **record)
    print(folder, {k: v.shape for k, v in record.items() if "/" not in k})


def record_bidirectional(tf, nn, rng) -> None:
    x = rng.standard_normal((2, N_STEPS, IN_CH)).astype(np.float32)
    for rnn_type in ("gru", "lstm"):
        for return_sequences, tag in ((True, "seq"), (False, "last")):
            layer = nn.Rnn(UNITS, rnn_type, return_sequences=return_sequences, bidir=True)
            layer(tf.constant(x))  # build
            for var in layer.weights:
                var.assign(rng.uniform(-0.8, 0.8, var.shape).astype(np.float32))
            optimizer = tf.keras.optimizers.Adam(0.01)
            with tf.GradientTape() as tape:
                loss = tf.reduce_sum(layer(tf.constant(x)) ** 3)
            variables = layer.trainable_variables
            optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
            y = layer(tf.constant(x)).numpy()
            record = {"x": x, "y": y}
            for i, var in enumerate(variables):
                record[f"var/{i}"] = var.numpy()
                slot = optimizer._index_dict[optimizer._var_key(var)]  # keras' own lookup
                record[f"m/{i}"] = optimizer._momentums[slot].numpy()
                record[f"v/{i}"] = optimizer._velocities[slot].numpy()
            folder = os.path.join(OUT, f"bidir_{rnn_type}_{tag}")
            _save(folder, tf.train.Checkpoint(model=layer, optimizer=optimizer), record)


def record_mfcc_encoder(tf, encoders, rng) -> None:
    encoder = encoders.MfccTimeDistributedRnnEncoder(
        rnn_channels=4, rnn_type="gru", z_dims=3, z_time_steps=125
    )
    t = np.arange(16000) / 16000.0
    audio = 0.5 * np.sin(2 * np.pi * 220.0 * t * (1 + t)) + 0.05 * rng.standard_normal(16000)
    features = {
        "audio": audio[None].astype(np.float32),
        "f0_scaled": rng.uniform(0, 1, (1, 125, 1)).astype(np.float32),
    }
    encoder({k: tf.constant(v) for k, v in features.items()})  # build
    for var in encoder.weights:  # Normalize's scale around 1, everything else around 0
        offset = 1.0 if var.name.endswith("scale:0") else 0.0
        var.assign(rng.uniform(-0.5, 0.5, var.shape).astype(np.float32) + offset)
    z = encoder({k: tf.constant(v) for k, v in features.items()})["z"].numpy()
    checkpoint = tf.train.Checkpoint(model=encoder)
    _save(os.path.join(OUT, "mfcc_encoder"), checkpoint, {**features, "z": z})


def main() -> None:
    import tensorflow as tf

    nn, encoders = _load_ddsp_training()
    rng = np.random.default_rng(7)
    record_bidirectional(tf, nn, rng)
    record_mfcc_encoder(tf, encoders, rng)


if __name__ == "__main__":
    main()
