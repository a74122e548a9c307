"""Record tests/training/golden_spectral_norm_3_7_0.npz from ddsp 3.7.0 (TensorFlow):
DilatedConvStack with ``spectral_norm=True`` before and after training calls.

Not part of the test run (it needs TensorFlow and ddsp): run it in the TensorFlow peer,
``source /tmp/peers/tf-venv/peers_env.sh; python tests/training/record_spectral_norm_golden.py``.

Each case (constructor arguments in ``spec``, JSON) stores under ``<case>/``: the inputs ``x``
(and ``z``), the variables set at random under ddsp_ref's names (``params0/conv_in/kernel``,
``.../sn_u``, ...; keras' width axis dropped), ``out_eval`` (``training=False``; the variables
are then checked unchanged), then two successive ``training=True`` calls: ``out1`` / ``out2``
and every variable after each (``params1/...``, ``params2/...``). ``cot`` is a random cotangent
and ``grad/params/...`` TF's gradient of ``sum(out1 * cot)`` with respect to the variables
(taken at the normalised kernels, which the first training call assigned) and ``grad/x``.
``ckpt/<key>`` is then the stack's ``tf.train.Checkpoint(model=stack)`` (keys as TF writes
them, e.g. ``model/conv_in/w/.ATTRIBUTES/VARIABLE_VALUE``).
"""

from __future__ import annotations

import json
import os
import tempfile

import numpy as np
from record_conv_golden import _as_ours, _flatten, _load_ddsp, _stack_vars

HERE = os.path.dirname(os.path.abspath(__file__))

CASES = {
    "plain": dict(norm_type=None),
    "downsample": dict(norm_type="layer", resample_type="downsample", resample_stride=2,
                       resample_after_convolve=False),
    "upsample": dict(norm_type=None, resample_type="upsample", resample_stride=2),
    "conditional": dict(norm_type="layer", conditional=True, ortho_init=True),
}  # fmt: skip


def _snapshot(store, key, flat):
    for k, v in flat.items():
        store[f"{key}/{k}"] = _as_ours(k, v.numpy())


def _record(tf, rng, store, case, st, inputs, cond):
    t = {k: tf.constant(v) for k, v in inputs.items()}
    args = [t["x"], t["z"]] if cond else t["x"]
    st(args)  # build (not a training call: nothing is normalised)
    flat = dict(_flatten(_stack_vars(st, cond)))
    for k, v in flat.items():
        v.assign(rng.standard_normal(v.shape).astype(np.float32) * (0.1 if "sn_u" in k else 0.5))
    for k, v in inputs.items():
        store[f"{case}/{k}"] = v
    _snapshot(store, f"{case}/params0", flat)
    store[f"{case}/out_eval"] = st(args, training=False).numpy()
    for k, v in flat.items():
        assert np.array_equal(_as_ours(k, v.numpy()), store[f"{case}/params0/{k}"]), k
    trainable = [(k, v) for k, v in flat.items() if v.trainable]
    with tf.GradientTape() as tape:
        tape.watch(t["x"])
        out = st(args, training=True)
        cot = rng.standard_normal(out.shape).astype(np.float32)
        loss = tf.reduce_sum(out * cot)
    grads = tape.gradient(loss, [t["x"]] + [v for _, v in trainable])
    store[f"{case}/out1"], store[f"{case}/cot"] = out.numpy(), cot
    store[f"{case}/grad/x"] = grads[0].numpy()
    for (k, _), g in zip(trainable, grads[1:]):
        store[f"{case}/grad/params/{k}"] = _as_ours(k, g.numpy())
    _snapshot(store, f"{case}/params1", flat)
    store[f"{case}/out2"] = st(args, training=True).numpy()
    _snapshot(store, f"{case}/params2", flat)
    with tempfile.TemporaryDirectory() as folder:  # the stack's TF checkpoint, key by key
        prefix = tf.train.Checkpoint(model=st).save(os.path.join(folder, "ckpt"))
        for key, _ in tf.train.list_variables(prefix):
            if key.startswith("model/"):
                store[f"{case}/ckpt/{key}"] = tf.train.load_variable(prefix, key)


def main() -> None:
    import tensorflow as tf

    nn, _, _ = _load_ddsp()
    rng = np.random.default_rng(20261130)
    store, specs = {}, {}
    for case, extra in CASES.items():
        cfg = dict(ch=4, layers_per_stack=2, stacks=1, kernel_size=3, dilation=2,
                   spectral_norm=True) | extra  # fmt: skip
        cond = bool(cfg.get("conditional"))
        inputs = {"x": rng.standard_normal((2, 6, 3)).astype(np.float32)}
        if cond:
            inputs["z"] = rng.standard_normal((2, 6, 2)).astype(np.float32)
        _record(tf, rng, store, case, nn.DilatedConvStack(**cfg), inputs, cond)
        specs[case] = cfg
    store["spec"] = np.array(json.dumps(specs))
    np.savez_compressed(os.path.join(HERE, "golden_spectral_norm_3_7_0.npz"), **store)
    print(f"recorded {len(specs)} cases, {len(store)} arrays")


if __name__ == "__main__":
    main()
