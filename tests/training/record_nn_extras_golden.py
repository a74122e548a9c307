"""Record tests/training/golden_nn_extras_3_7_0.npz from ddsp 3.7.0 (TensorFlow): the
straight-through estimators, note masks and pooling, polyphase_resample, RnnFc, get_embedding,
VectorQuantization and the MfccRnn / AggregateFeatures / OneHot / Expression encoders.

Not part of the test run (it needs TensorFlow and ddsp); run it in the TF peer environment:
``source /tmp/peers/tf-venv/peers_env.sh; python tests/training/record_nn_extras_golden.py``.

Each case stores, under ``<case>/``: its inputs, the layer's variables (randomised, under
ddsp_ref's parameter names ``params/...``), the outputs ``out/<key>``, a random cotangent
``cot/<key>`` per float output and TF's gradients ``grad/<input or params/...>`` of
``sum(out * cot)``. ``spec`` holds per-case constructor arguments as JSON.
"""

from __future__ import annotations

import json
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from formula_weights import formula_weights  # noqa: E402  (the tests compute the same)
from record_conv_golden import _conv, _flatten, _load_ddsp  # noqa: E402


def _run(tf, rng, store, case, inputs, call, var_tree=None, randomise=True, watch=None):
    """Run ``call(tensors)`` under a tape; store inputs, variables, outputs, cotangents and
    the gradients of ``sum(out * cot)`` (float outputs only) for the float inputs in
    ``watch`` (default: all float inputs) and every variable."""
    flat = dict(_flatten(var_tree or {}))
    if randomise:
        for v in flat.values():
            v.assign(0.5 * rng.standard_normal(v.shape).astype(np.float32))
    tensors = {k: tf.constant(v) for k, v in inputs.items()}
    watch = [k for k in (watch or inputs) if inputs[k].dtype.kind == "f"]
    with tf.GradientTape() as tape:
        tape.watch([tensors[k] for k in watch])
        outputs = call(tensors)
        cots, loss = {}, 0.0
        for k, o in outputs.items():
            if o.dtype.is_floating:
                cots[k] = rng.standard_normal(o.shape).astype(np.float32)
                loss = loss + tf.reduce_sum(o * cots[k])
    targets = [tensors[k] for k in watch] + list(flat.values())
    names = watch + [f"params/{k}" for k in flat]
    grads = tape.gradient(loss, targets) if cots else [None] * len(targets)
    for k, v in inputs.items():
        store[f"{case}/{k}"] = v
    for k, v in flat.items():
        store[f"{case}/params/{k}"] = np.asarray(v.numpy())
    for k, o in outputs.items():
        store[f"{case}/out/{k}"] = o.numpy()
    for k, c in cots.items():
        store[f"{case}/cot/{k}"] = c
    for name, g in zip(names, grads):
        if g is not None:
            store[f"{case}/grad/{name}"] = tf.convert_to_tensor(g).numpy()


def _f32(x):
    return np.asarray(x, np.float32)


def record_estimators(tf, nn, rng, store):
    logits = _f32(rng.standard_normal((3, 5)))

    def softmax(t):
        tf.random.set_seed(11)
        sample, probs = nn.straight_through_softmax(t["logits"])
        return {"sample": sample, "probs": probs}

    _run(tf, rng, store, "st_softmax", {"logits": logits}, softmax)
    values = _f32(rng.standard_normal((3, 5)))

    def choice(t):
        tf.random.set_seed(11)  # the same draw as st_softmax (checked below)
        return {"y": nn.straight_through_choice(t["logits"], t["values"])}

    _run(tf, rng, store, "st_choice", {"logits": logits, "values": values}, choice)
    expected = np.sum(store["st_softmax/out/sample"] * values, axis=-1, keepdims=True)
    assert np.allclose(store["st_choice/out/y"], expected), "the seeded draws differ"
    x = _f32(np.concatenate([rng.uniform(-3, 3, (2, 6)), [[0.5, 1.5, 2.5, -0.5, -1.5, 0.0]]]))
    _run(tf, rng, store, "st_int", {"x": x},
         lambda t: {"y": nn.straight_through_int_quantization(t["x"])})  # fmt: skip


PITCHES = {
    # changes, a change at the last frame, silence, repeated notes
    "mask_a": ([[60, 60, 0, 0, 62, 62, 62, 64], [0, 0, 0, 0, 0, 0, 0, 0]], 6),
    "mask_b": ([[1, 2, 3, 4, 5, 6, 7, 8], [5, 5, 5, 5, 5, 5, 5, 5]], 4),  # more regions than kept
    "mask_c": ([[0, 0, 5, 5, 0, 3, 3, 3]], 5),
}


def record_notes(tf, nn, rng, store, specs):
    for case, (q, max_regions) in PITCHES.items():
        for on in (True, False):
            name = f"{case}_{'on' if on else 'all'}"
            _run(tf, rng, store, name, {"q_pitch": _f32(q)[..., None]},
                 lambda t, m=max_regions, on=on: {"mask": nn.get_note_mask(
                     t["q_pitch"], max_regions=m, note_on_only=on)})  # fmt: skip
            specs[name] = dict(max_regions=max_regions, note_on_only=on)
    onset = _f32([[1, 0, 0, 0.5, 1, 0, 2, 0], [0, 0, 1, 0, 0, 1, 0, 0]])
    q = _f32([[60, 60, 0, 0, 62, 62, 62, 64], [3, 3, 0, 4, 4, 0, 5, 5]])
    for on in (True, False):
        name = f"onset_{'on' if on else 'all'}"
        _run(tf, rng, store, name, {"q_pitch": q, "onset": onset},
             lambda t, on=on: {"mask": nn.get_note_mask_from_onset(
                 t["q_pitch"], t["onset"], max_regions=6, note_on_only=on)})  # fmt: skip
        specs[name] = dict(max_regions=6, note_on_only=on)
    # Soft masks with every note non-empty and non-constant x: ddsp's gradients are finite.
    mask = _f32(rng.uniform(0.1, 1.0, (2, 7, 3)))
    for case, shape in (("moments3", (2, 7, 2)), ("moments2", (2, 7))):
        inputs = {"x": _f32(rng.standard_normal(shape)), "note_mask": mask}
        _run(tf, rng, store, case, inputs, lambda t: dict(zip(
            ("mean", "std"), nn.get_note_moments(t["x"], t["note_mask"]))))  # fmt: skip
    inputs = {"x": _f32(rng.standard_normal((2, 7, 2))), "note_mask": mask}
    _run(tf, rng, store, "pool_std", inputs, lambda t: dict(zip(
        ("mean", "std"), nn.pool_over_notes(t["x"], t["note_mask"]))))  # fmt: skip
    _run(tf, rng, store, "pool_mean", inputs, lambda t: {
        "mean": nn.pool_over_notes(t["x"], t["note_mask"], return_std=False)})  # fmt: skip
    _run(tf, rng, store, "lengths", {"note_mask": mask},
         lambda t: {"lengths": nn.get_note_lengths(t["note_mask"])})  # fmt: skip
    hard = store["mask_a_all/out/mask"]
    inputs = {"note_mask": hard, "note_lengths": hard.sum(1),
              "note_pitches": _f32([[60, 0, 62, 64, 0, 0], [0, 0, 0, 0, 0, 0]])}  # fmt: skip
    _run(tf, rng, store, "short", inputs, lambda t: {"loss_mask": nn.get_short_note_loss_mask(
        t["note_mask"], t["note_lengths"], t["note_pitches"], min_length=3)},
        watch=["note_mask"])  # fmt: skip
    specs["short"] = dict(min_length=3)
    # ddsp's std gradient where a note is constant or a region empty: NaN (our deviation).
    inputs = {"x": _f32(rng.standard_normal((2, 8, 2))), "note_mask": hard}
    _run(tf, rng, store, "moments_nan", inputs, lambda t: dict(zip(
        ("mean", "std"), nn.get_note_moments(t["x"], t["note_mask"]))))  # fmt: skip


RESAMPLE = [
    dict(stride=2, resample_type="down", trim_or_pad="pad", shape=(2, 7, 3)),
    dict(stride=3, resample_type="down", trim_or_pad="trim", shape=(2, 7, 3)),
    dict(stride=2, resample_type="down", trim_or_pad="pad", shape=(2, 8, 1, 3)),
    dict(stride=2, resample_type="up", trim_or_pad="pad", shape=(2, 4, 5)),
    dict(stride=2, resample_type="up", trim_or_pad="trim", shape=(2, 4, 5)),
    dict(stride=3, resample_type="up", trim_or_pad="pad", shape=(1, 3, 1, 6)),
]


def record_layers(tf, nn, rng, store, specs):
    for i, cfg in enumerate(RESAMPLE):
        kw = {k: v for k, v in cfg.items() if k != "shape"}
        _run(tf, rng, store, f"poly{i}", {"x": _f32(rng.standard_normal(cfg["shape"]))},
             lambda t, kw=kw: {"y": nn.polyphase_resample(t["x"], **kw)})  # fmt: skip
        specs[f"poly{i}"] = kw
    for case, kw in (("rnnfc_lstm", dict(rnn_feat=3, out_feat=2)),
                     ("rnnfc_gru_bidir", dict(rnn_feat=3, out_feat=2, rnn_type="gru",
                                              nonlinearity="tanh", bidir=True))):  # fmt: skip
        layer = nn.RnnFc(**kw)
        x = _f32(rng.standard_normal((2, 5, 4)))
        layer(tf.constant(x))
        cell = layer.layers[0].rnn.cell
        dense, norm = layer.layers[1].layers[:2]
        tree = {"rnn_0": {"kernel": cell.kernel, "recurrent_kernel": cell.recurrent_kernel,
                          "bias": cell.bias},
                "fc": {"dense": _conv(dense),
                       "layer_norm": {"gamma": norm.gamma, "beta": norm.beta}}}  # fmt: skip
        _run(tf, rng, store, case, {"x": x}, lambda t, f=layer: {"y": f(t["x"])}, tree)
        specs[case] = kw
    emb = nn.get_embedding(vocab_size=5, n_dims=3)
    ids = np.array([[1], [3], [1], [0]], np.int32)
    emb(tf.constant(ids))
    _run(tf, rng, store, "embedding", {"ids": ids}, lambda t: {"y": emb(t["ids"])},
         {"embeddings": emb.embeddings})  # fmt: skip


def record_vq(tf, nn, rng, store, specs):
    kw = dict(k=4, gamma=0.9, num_heads=2, commitment_loss_weight=0.3)
    specs["vq"] = kw
    x = _f32(rng.standard_normal((2, 3, 4)))
    vq = nn.VectorQuantization(**kw)
    vq(tf.constant(x))  # build (keras would rebuild, zeroing the state, on a first call)
    counts = _f32(rng.uniform(0.5, 3.0, 4))  # all positive: no restart, deterministic
    sums = _f32(rng.standard_normal((4, 2))) * counts[:, None]
    store["vq/state/counts"], store["vq/state/sums"] = counts, sums
    for training in (False, True):
        vq.counts.assign(counts)
        vq.sums.assign(sums)
        case = f"vq_{'train' if training else 'eval'}"

        def call(t, training=training):
            z, c = vq(t["x"], training=training)
            loss = vq.committment_loss(t["x"], z)
            return {"z": z, "c": c, "loss": loss}

        _run(tf, rng, store, case, {"x": x}, call, randomise=False)
        store[f"{case}/new/counts"] = vq.counts.numpy()
        store[f"{case}/new/sums"] = vq.sums.numpy()
    store["vq/unquantize"] = vq.unquantize(tf.constant(store["vq_eval/out/c"])).numpy()


def _stack_tree(stack):
    return {f"fc_{i}": {"dense": _conv(fc.layers[0]),
                        "layer_norm": {"gamma": fc.layers[1].gamma, "beta": fc.layers[1].beta}}
            for i, fc in enumerate(stack.layers)}  # fmt: skip


def _norm(n):
    return {"scale": n.scale, "shift": n.shift}


def record_encoders(tf, nn, encoders, rng, store, specs):
    t = np.arange(2048) / 16000.0
    audio = _f32(0.3 * np.sin(2 * np.pi * 330 * t) + 0.05 * rng.standard_normal((2, 2048)))
    for agg in (True, False):
        kw = dict(rnn_channels=3, z_dims=2, mean_aggregate=agg)
        enc = encoders.MfccRnnEncoder(**kw)
        feats = {"audio": audio, "f0_scaled": _f32(rng.random((2, 6, 1)))}
        enc(feats)
        cell = enc.rnn.rnn.cell
        tree = {"norm_in": _norm(enc.norm_in), "dense_z": _conv(enc.dense_z),
                "rnn": {"kernel": cell.kernel, "recurrent_kernel": cell.recurrent_kernel,
                        "bias": cell.bias}}  # fmt: skip
        case = f"mfccrnn_{'mean' if agg else 'seq'}"
        _run(tf, rng, store, case, feats, lambda t, e=enc: e(dict(t)), tree, watch=["audio"])
        specs[case] = kw
    enc = encoders.AggregateFeaturesEncoder(ch=3)
    feats = {"f0_scaled": _f32(rng.random((2, 5, 1))), "ld_scaled": _f32(rng.random((2, 5, 1)))}
    enc(feats)
    _run(tf, rng, store, "aggregate", feats, lambda t: enc(dict(t)), {"fc": _conv(enc.fc)})
    specs["aggregate"] = dict(ch=3)
    for skip in (True, False):
        kw = dict(vocab_size=6, n_dims=3, skip_expand=skip)
        enc = encoders.OneHotEncoder(**kw)
        feats = {
            "instrument": np.array([[2], [5]], np.int32),
            "f0_scaled": _f32(np.zeros((2, 4, 1))),
        }
        enc(feats)
        case = f"onehot_{'skip' if skip else 'expand'}"
        _run(tf, rng, store, case, feats, lambda t, e=enc: e(dict(t)),
             {"embedding": {"embeddings": enc.embedding.embeddings}})  # fmt: skip
        specs[case] = kw
    for pool in (True, False):
        kw = dict(z_dims=2, pool_time=pool)
        enc = encoders.ExpressionEncoder(net=nn.FcStack(4, 1), **kw)
        feats = {"f0_scaled": _f32(rng.random((2, 5, 1))), "ld_scaled": _f32(rng.random((2, 5, 1)))}
        enc(feats)
        tree = {"net": _stack_tree(enc.net), "norm": _norm(enc.norm),
                "dense_out": _conv(enc.dense_out)}  # fmt: skip
        case = f"expression_{'pool' if pool else 'time'}"
        _run(tf, rng, store, case, feats, lambda t, e=enc: e(dict(t)), tree)
        specs[case] = dict(kw, net_ch=4, net_layers=1)


def _norm_tree(n):
    if hasattr(n, "conditional_scale_and_shift"):
        return {
            "conditional_scale_and_shift": {"dense": _conv(n.conditional_scale_and_shift.dense)}
        }
    return _norm(n)


def _nrc_tree(layer):
    return {"norm": _norm(layer.layers[0]), "conv": _conv(layer.layers[2])}


def _residual_tree(layer):
    conv_in, nrc0, nrc1 = layer.bottleneck.layers
    tree = {"norm_input": _norm_tree(layer.norm_input), "conv_in": _conv(conv_in),
            "norm_relu_conv_0": _nrc_tree(nrc0), "norm_relu_conv_1": _nrc_tree(nrc1)}  # fmt: skip
    if layer.shortcut:
        tree["conv_proj"] = _conv(layer.conv_proj)
    return tree


def _stack_vars_resnet(stack):
    res = [la for la in stack.layers if hasattr(la, "bottleneck")]
    tree = {f"layer_{i}": _residual_tree(la) for i, la in enumerate(res)}
    tree["norm"] = _norm(stack.layers[len(res)])
    return tree


RESIDUAL = [
    dict(ch=2, stride=2, shortcut=True, norm_type="instance", conditional=False,
         shift_only=False, in_ch=3),
    dict(ch=2, stride=1, shortcut=False, norm_type="layer", conditional=False,
         shift_only=False, in_ch=8),
    dict(ch=2, stride=2, shortcut=True, norm_type="layer", conditional=True,
         shift_only=False, in_ch=3),
    dict(ch=2, stride=1, shortcut=False, norm_type="instance", conditional=True,
         shift_only=True, in_ch=8),
]  # fmt: skip


def record_resnet(tf, nn, rng, store, specs):
    tfkl = tf.keras.layers
    conv = tfkl.Conv2D(4, (3, 3), (1, 2), padding="same")
    x = _f32(rng.standard_normal((2, 3, 9, 2)))
    conv(tf.constant(x))
    _run(tf, rng, store, "conv2d", {"x": x}, lambda t: {"y": conv(t["x"])}, _conv(conv))
    pool = tfkl.MaxPool2D(pool_size=(1, 3), strides=(1, 2), padding="same")
    _run(tf, rng, store, "maxpool", {"x": x}, lambda t: {"y": pool(t["x"])})
    nrc = nn.NormReluConv(3, 3, 2, "layer")
    x = _f32(rng.standard_normal((2, 3, 8, 2)))
    nrc(tf.constant(x))
    _run(tf, rng, store, "nrc", {"x": x}, lambda t: {"y": nrc(t["x"])}, _nrc_tree(nrc))
    for i, cfg in enumerate(RESIDUAL):
        kw = {k: v for k, v in cfg.items() if k != "in_ch"}
        layer = nn.ResidualLayer(**kw)
        inputs = {"x": _f32(rng.standard_normal((2, 3, 8, cfg["in_ch"])))}
        if cfg["conditional"]:
            inputs["z"] = _f32(rng.standard_normal((2, 3, 2)))

        def call(t, la=layer, cond=cfg["conditional"]):
            return {"y": la([t["x"], t["z"]] if cond else t["x"])}

        call({k: tf.constant(v) for k, v in inputs.items()})
        _run(tf, rng, store, f"residual{i}", inputs, call, _residual_tree(layer))
        specs[f"residual{i}"] = kw
    stack = nn.ResidualStack([2, 3], [2, 1], [1, 2], "layer")
    x = _f32(rng.standard_normal((1, 3, 8, 4)))
    stack(tf.constant(x))
    _run(tf, rng, store, "stack", {"x": x}, lambda t: {"y": stack(t["x"])},
         _stack_vars_resnet(stack))  # fmt: skip
    resnet = nn.ResNet("small", "layer")
    x = _f32(rng.standard_normal((1, 2, 32, 1)))
    resnet(tf.constant(x))
    tree = {"conv_in": _conv(resnet.layers[0]), "stack_0": _stack_vars_resnet(resnet.layers[2]),
            "stack_1": _stack_vars_resnet(resnet.layers[3])}  # fmt: skip
    flat = dict(_flatten(tree))
    for name, v in flat.items():
        v.assign(formula_weights(name, tuple(v.shape)))
    cot = _f32(rng.standard_normal((1, 2, 1, 1024)))
    xt = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(xt)
        y = resnet(xt)
        loss = tf.reduce_sum(y * cot)
    grads = tape.gradient(loss, [xt] + list(flat.values()))
    store["resnet/x"], store["resnet/out/y"], store["resnet/cot/y"] = x, y.numpy(), cot
    store["resnet/grad/x"] = grads[0].numpy()
    store["resnet/grad/conv_in/kernel"] = grads[1].numpy()
    store["resnet/grad_sums"] = np.array([float(tf.reduce_sum(g * g)) for g in grads[1:]])
    store["resnet/names"] = np.array(json.dumps(list(flat)))


def main() -> None:
    import tensorflow as tf

    nn, _, encoders = _load_ddsp()
    rng = np.random.default_rng(20261130)
    store, specs = {}, {}
    record_estimators(tf, nn, rng, store)
    record_notes(tf, nn, rng, store, specs)
    record_layers(tf, nn, rng, store, specs)
    record_vq(tf, nn, rng, store, specs)
    record_encoders(tf, nn, encoders, rng, store, specs)
    record_resnet(tf, nn, rng, store, specs)
    store["spec"] = np.array(json.dumps(specs))
    path = os.path.join(HERE, "golden_nn_extras_3_7_0.npz")
    np.savez_compressed(path, **store)
    print(f"recorded {len(specs)} specs, {len(store)} arrays, {os.path.getsize(path)} bytes")


if __name__ == "__main__":
    main()
