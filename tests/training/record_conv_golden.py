"""Record tests/training/golden_conv_3_7_0.npz from ddsp 3.7.0 (TensorFlow): DilatedConvStack,
DilatedConvDecoder and MfccTimeDistributedRnnEncoder outputs and gradients.

Not part of the test run (it needs TensorFlow and ddsp): run it with the interpreter of the
TensorFlow peer, e.g. ``/tmp/peers/tf-venv/bin/python tests/training/record_conv_golden.py``.
ddsp's package ``__init__`` files import optional services (CREPE, Cloud), so only the modules
used here are loaded (``crepe`` and ``hypertune`` are stubbed; neither is called).

Each case stores, under ``<case>/``: the inputs, the layer's variables randomised and stored
under ddsp_ref's parameter names (``params/conv_in/kernel`` ...; keras' width axis of conv
kernels dropped), the outputs ``out/<key>``, a random cotangent ``cot/<key>`` per output and
TF's gradients ``grad/<input or params/...>`` of ``sum(out * cot)``. ``spec`` holds the
constructor arguments of every case as JSON.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import types

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))


def _load_ddsp():
    for name in ("crepe", "hypertune"):
        try:
            importlib.import_module(name)
        except ImportError:
            sys.modules[name] = types.ModuleType(name)
    import ddsp

    pkg = types.ModuleType("ddsp.training")
    pkg.__path__ = [os.path.join(os.path.dirname(ddsp.__file__), "training")]
    sys.modules["ddsp.training"] = pkg
    from ddsp.training import decoders, encoders, nn

    return nn, decoders, encoders


def _conv(layer):
    if hasattr(layer, "power_iterations"):  # ddsp's SpectralNormalization wrapper
        return {"kernel": layer.layer.kernel, "bias": layer.layer.bias, "sn_u": layer.u}
    return {"kernel": layer.kernel, "bias": layer.bias}


def _stack_vars(st, conditional):
    """ddsp_ref's parameter tree of a DilatedConvStack -> the keras variables."""
    p = {"conv_in": _conv(st.conv_in)}
    for i, (layer, norm) in enumerate(zip(st.layers, st.norms)):
        p[f"dilated_conv_{i}"] = _conv(layer.layers[-1])
        if conditional:
            d = norm.conditional_scale_and_shift.dense
            p[f"norm_{i}"] = {"conditional_scale_and_shift": {"dense": _conv(d)}}
        else:
            p[f"norm_{i}"] = {"scale": norm.scale, "shift": norm.shift}
    for r, layer in enumerate(st.resample_layers):
        p[f"resample_{r}"] = _conv(layer)
    return p


def _flatten(tree, prefix=""):
    for k, v in tree.items():
        if isinstance(v, dict):
            yield from _flatten(v, f"{prefix}{k}/")
        else:
            yield f"{prefix}{k}", v


def _as_ours(name, value):
    """keras conv kernels [k, 1, a, b] -> [k, a, b]; Normalize's [1, 1, 1, C] -> [C]."""
    value = np.asarray(value)
    if name.endswith("kernel") and value.ndim == 4:
        return value[:, 0]
    if name.endswith(("scale", "shift")):
        return value.reshape(-1)
    return value


def _record(tf, rng, store, case, layer, inputs, call, var_tree):
    """Randomise the variables, run ``call(inputs)`` under a tape, store everything."""
    flat = dict(_flatten(var_tree))
    for v in flat.values():
        v.assign(0.5 * rng.standard_normal(v.shape).astype(np.float32))
    tensors = {k: tf.constant(v) for k, v in inputs.items()}
    with tf.GradientTape() as tape:
        tape.watch(list(tensors.values()))
        outputs = call(tensors)
        cots = {k: rng.standard_normal(o.shape).astype(np.float32) for k, o in outputs.items()}
        loss = sum(tf.reduce_sum(outputs[k] * cots[k]) for k in outputs)
    names = list(tensors) + [f"params/{k}" for k in flat]
    grads = tape.gradient(loss, list(tensors.values()) + list(flat.values()))
    for k, v in inputs.items():
        store[f"{case}/{k}"] = v
    for k, v in flat.items():
        store[f"{case}/params/{k}"] = _as_ours(k, v.numpy())
    for k in outputs:
        store[f"{case}/out/{k}"] = outputs[k].numpy()
        store[f"{case}/cot/{k}"] = cots[k]
    for name, g in zip(names, grads):
        if g is not None and name in inputs and name != "audio":
            store[f"{case}/grad/{name}"] = g.numpy()
        elif g is not None and name.startswith("params/"):
            store[f"{case}/grad/{name}"] = _as_ours(name, g.numpy())


STACKS = [
    dict(norm_type=None),
    dict(norm_type="layer"),
    dict(norm_type="instance", dilation=-2),
    dict(norm_type="layer", conditional=True),
    dict(norm_type="instance", conditional=True, shift_only=True),
    dict(norm_type="layer", resample_type="upsample", resample_stride=2),
    dict(norm_type="layer", resample_type="downsample", resample_stride=2,
         resample_after_convolve=False),
    dict(norm_type=None, resample_type="upsample", resample_stride=3, stacks_per_resample=2,
         resample_after_convolve=False),
    dict(norm_type="layer", kernel_size=4),
]  # fmt: skip


def main() -> None:
    import tensorflow as tf

    nn, decoders, encoders = _load_ddsp()
    rng = np.random.default_rng(20241129)
    store, specs = {}, {}
    for i, extra in enumerate(STACKS):
        cfg = dict(ch=4, layers_per_stack=2, stacks=2, kernel_size=3, dilation=2) | extra
        st = nn.DilatedConvStack(**cfg)
        cond = bool(cfg.get("conditional"))
        inputs = {"x": rng.standard_normal((2, 7, 3)).astype(np.float32)}
        if cond:
            inputs["z"] = rng.standard_normal((2, 7, 2)).astype(np.float32)

        def call(t, st=st, cond=cond):
            return {"y": st([t["x"], t["z"]] if cond else t["x"])}

        call({k: tf.constant(v) for k, v in inputs.items()})  # build
        _record(tf, rng, store, f"stack{i}", st, inputs, call, _stack_vars(st, cond))
        specs[f"stack{i}"] = cfg

    splits = (("amps", 1), ("harmonic_distribution", 3))
    dec = decoders.DilatedConvDecoder(ch=4, layers_per_stack=2, stacks=1, output_splits=splits)
    feats = {"ld_scaled": rng.random((2, 9, 1)), "f0_scaled": rng.random((2, 9, 1)),
             "z": rng.standard_normal((2, 9, 2))}  # fmt: skip
    feats = {k: v.astype(np.float32) for k, v in feats.items()}
    dec(feats)
    tree = {"dilated_conv_stack": _stack_vars(dec.dilated_conv_stack, True),
            "dense_out": _conv(dec.dense_out)}  # fmt: skip
    _record(tf, rng, store, "decoder", dec, feats, lambda t: dec(dict(t)), tree)
    specs["decoder"] = dict(ch=4, layers_per_stack=2, stacks=1, output_splits=splits)

    enc = encoders.MfccTimeDistributedRnnEncoder(rnn_channels=4, z_dims=3, z_time_steps=125)
    t = np.arange(8000) / 16000.0
    audio = 0.3 * np.sin(2 * np.pi * 330 * t) + 0.02 * rng.standard_normal(8000)
    inputs = {"audio": audio[None].astype(np.float32),
              "f0_scaled": np.zeros((1, 125, 1), np.float32)}  # fmt: skip
    enc(inputs)
    cell = enc.rnn.rnn.cell
    tree = {"z_norm": {"scale": enc.z_norm.scale, "shift": enc.z_norm.shift},
            "rnn": {"kernel": cell.kernel, "recurrent_kernel": cell.recurrent_kernel,
                    "bias": cell.bias},
            "dense_out": _conv(enc.dense_out)}  # fmt: skip
    _record(tf, rng, store, "encoder", enc, inputs, lambda t: enc(dict(t)), tree)
    specs["encoder"] = dict(rnn_channels=4, z_dims=3, z_time_steps=125)

    store["spec"] = np.array(json.dumps(specs))
    np.savez_compressed(os.path.join(HERE, "golden_conv_3_7_0.npz"), **store)
    print(f"recorded {len(specs)} cases, {len(store)} arrays")


if __name__ == "__main__":
    main()
