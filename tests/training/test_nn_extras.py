"""Straight-through estimators, note masks and pooling, polyphase_resample, RnnFc, Embedding and
VectorQuantization: parity with ddsp 3.7.0 (values and gradients, recorded by
record_nn_extras_golden.py), float64 gradient checks, edge cases and bad input."""

from __future__ import annotations

import itertools
import json
import os

import numpy as np
import pytest

from ddsp_ref import check_grads
from ddsp_ref.autodiff import ops, value_and_grad
from ddsp_ref.module import unflatten_dict
from ddsp_ref.training import nn
from ddsp_ref.training.nn.estimators import softmax, straight_through_one_hot

GOLDEN = np.load(os.path.join(os.path.dirname(__file__), "golden_nn_extras_3_7_0.npz"))
SPEC = json.loads(str(GOLDEN["spec"]))


def case(name: str) -> dict:
    """The arrays stored under ``name/`` with that prefix removed."""
    prefix = name + "/"
    return {k[len(prefix) :]: GOLDEN[k] for k in GOLDEN.files if k.startswith(prefix)}


def params_of(c: dict) -> dict:
    """``params/...`` entries as a nested dict (Normalize's [1, 1, 1, C] -> [C])."""
    flat = {k[len("params/") :]: v for k, v in c.items() if k.startswith("params/")}
    flat = {k: v.reshape(-1) if k.endswith(("scale", "shift")) else v for k, v in flat.items()}
    return unflatten_dict(flat)


def grads_of(c: dict, prefix: str) -> dict:
    flat = {k[len(prefix) :]: v for k, v in c.items() if k.startswith(prefix)}
    flat = {k: v.reshape(-1) if k.endswith(("scale", "shift")) else v for k, v in flat.items()}
    return unflatten_dict(flat)


def projected(outs: dict, c: dict):
    """``sum(out * cot)`` over the recorded outputs."""
    return sum(ops.sum(outs[k] * c[f"cot/{k}"]) for k in outs)


def close(a, b, rtol=2e-4, atol=2e-5):
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=rtol, atol=atol)


def cat(*outs):
    """Outputs flattened into one vector (check_grads wants one array)."""
    return ops.concatenate([ops.reshape(o, (-1,)) for o in outs])


# -- straight-through estimators -----------------------------------------------------------
def test_straight_through_softmax_matches_ddsp_given_its_draw():
    c = case("st_softmax")
    sample = c["out/sample"]  # TF's seeded draw, injected

    def fun(logits):
        probs = softmax(logits)
        return projected({"sample": straight_through_one_hot(probs, sample), "probs": probs}, c)

    value, g = value_and_grad(fun)(c["logits"])
    close(softmax(c["logits"]), c["out/probs"])
    close(straight_through_one_hot(softmax(c["logits"]), sample), sample, atol=1e-6)
    close(g, c["grad/logits"])


def test_straight_through_choice_matches_ddsp_given_its_draw():
    c, sample = case("st_choice"), case("st_softmax")["out/sample"]

    def fun(logits, values):
        choice = straight_through_one_hot(softmax(logits), sample)
        return projected({"y": ops.sum(choice * values, axis=-1, keepdims=True)}, c)

    gl, gv = value_and_grad(fun, argnums=(0, 1))(c["logits"], c["values"])[1]
    close(gl, c["grad/logits"])
    close(gv, c["grad/values"])


def test_straight_through_softmax_gradient_is_that_of_the_chosen_probability():
    rng = np.random.default_rng(0)
    for dtype in (np.float32, np.float64):
        logits = rng.standard_normal((4, 6)).astype(dtype)
        cot = rng.standard_normal((4, 6)).astype(dtype)
        sample, probs = nn.straight_through_softmax(logits, seed=5)
        assert sample.dtype == dtype and probs.dtype == dtype
        hard = np.round(sample)
        assert np.all(hard.sum(-1) == 1) and np.abs(sample - hard).max() < 1e-6
        g = value_and_grad(
            lambda lg, cot=cot: ops.sum(nn.straight_through_softmax(lg, seed=5)[0] * cot)
        )(logits)[1]
        # Independent: d/dl of sum(cot * p * s) = p * c - p * sum(p * c) with c = cot * s.
        p = np.exp(logits - logits.max(-1, keepdims=True))
        p /= p.sum(-1, keepdims=True)
        cs = cot * hard
        expected = p * cs - p * np.sum(p * cs, -1, keepdims=True)
        close(g, expected, rtol=1e-5 if dtype == np.float64 else 1e-4, atol=1e-6)


def test_straight_through_softmax_draws_follow_the_probabilities_and_the_seed():
    logits = np.log(np.array([[0.1, 0.6, 0.3]] * 4000))
    a = nn.straight_through_softmax(logits, seed=1)[0]
    b = nn.straight_through_softmax(logits, seed=1)[0]
    np.testing.assert_array_equal(a, b)
    freq = np.round(a).mean(0)
    np.testing.assert_allclose(freq, [0.1, 0.6, 0.3], atol=0.03)  # ~4 sigma at n = 4000
    # A near-certain class is always drawn.
    sure = nn.straight_through_softmax(np.array([[0.0, 40.0, 0.0]] * 50), seed=2)[0]
    assert np.all(np.round(sure)[:, 1] == 1)


def test_straight_through_int_quantization_matches_ddsp():
    c = case("st_int")
    y, g = value_and_grad(lambda x: projected({"y": nn.straight_through_int_quantization(x)}, c))(
        c["x"]
    )
    close(nn.straight_through_int_quantization(c["x"]), c["out/y"], atol=0)
    close(g, c["grad/x"], atol=0)
    # Halves to even, as tf.math.round; the gradient is the identity (also in float64).
    x = np.array([0.5, 1.5, 2.5, -0.5, -1.5, 0.49])
    np.testing.assert_array_equal(nn.straight_through_int_quantization(x), [0, 2, 2, 0, -2, 0])
    cot = np.arange(6.0)
    g = value_and_grad(lambda v: ops.sum(nn.straight_through_int_quantization(v) * cot))(x)[1]
    np.testing.assert_array_equal(g, cot)


def test_estimators_reject_bad_input():
    with pytest.raises(ValueError, match="straight_through_softmax: logits"):
        nn.straight_through_softmax(np.float32(1.0))
    with pytest.raises(TypeError, match="straight_through_int_quantization"):
        nn.straight_through_int_quantization(np.array([1 + 2j]))


# -- note masks ----------------------------------------------------------------------------
@pytest.mark.parametrize("name", [f"mask_{k}_{m}" for k in "abc" for m in ("on", "all")])
def test_get_note_mask_matches_ddsp(name):
    c, spec = case(name), SPEC[name]
    for q in (c["q_pitch"], c["q_pitch"][..., 0], c["q_pitch"].astype(np.float64)):
        mask = nn.get_note_mask(q, **spec)
        assert mask.dtype == (np.float64 if q.dtype == np.float64 else np.float32)
        np.testing.assert_array_equal(mask, c["out/mask"])


@pytest.mark.parametrize("name", ["onset_on", "onset_all"])
def test_get_note_mask_from_onset_matches_ddsp(name):
    c = case(name)
    mask = nn.get_note_mask_from_onset(c["q_pitch"], c["onset"], **SPEC[name])
    np.testing.assert_array_equal(mask, c["out/mask"])


def test_note_masks_one_frame_silence_and_region_limit():
    # One frame: one note (ddsp would return two frames here; documented deviation).
    np.testing.assert_array_equal(nn.get_note_mask(np.array([[3.0]]), 2), [[[1.0, 0.0]]])
    np.testing.assert_array_equal(nn.get_note_mask(np.array([[0.0]]), 2), [[[0.0, 0.0]]])
    # Silence: every region is off; without note_on_only it is one region.
    assert not nn.get_note_mask(np.zeros((2, 9)), 4).any()
    np.testing.assert_array_equal(nn.get_note_mask(np.zeros((1, 5)), 2, False)[0, :, 0], 1)
    assert not nn.get_note_mask_from_onset(np.zeros((1, 5)), np.ones((1, 5)), 5).any()
    # Regions past max_regions vanish; a change at the last frame opens no region.
    q = np.array([[1.0, 2, 3, 4, 5]])
    mask = nn.get_note_mask(q, 2, note_on_only=False)
    np.testing.assert_array_equal(mask[0].argmax(-1), [0, 1, 0, 0, 0])
    np.testing.assert_array_equal(mask[0].sum(-1), [1, 1, 0, 0, 0])


def test_note_masks_reject_bad_input():
    with pytest.raises(ValueError, match="get_note_mask: q_pitch must have one channel"):
        nn.get_note_mask(np.zeros((1, 4, 2)))
    with pytest.raises(ValueError, match="get_note_mask: q_pitch must have shape"):
        nn.get_note_mask(np.zeros(4))
    with pytest.raises(ValueError, match="no frames"):
        nn.get_note_mask(np.zeros((1, 0)))
    with pytest.raises(ValueError, match="max_regions"):
        nn.get_note_mask(np.zeros((1, 4)), max_regions=0)
    with pytest.raises(ValueError, match="same batch and frames"):
        nn.get_note_mask_from_onset(np.zeros((1, 4)), np.zeros((1, 5)))
    with pytest.raises(ValueError, match="get_note_moments: x .* same batch and frames"):
        nn.get_note_moments(np.zeros((1, 4, 1)), np.zeros((1, 5, 2)))
    with pytest.raises(ValueError, match="note_mask must have shape"):
        nn.get_note_lengths(np.zeros((4, 2)))
    with pytest.raises(ValueError, match="note_lengths must have shape"):
        nn.get_short_note_loss_mask(np.zeros((1, 4, 2)), np.zeros((1, 3)), np.zeros((1, 2)))


# -- note moments and pooling --------------------------------------------------------------
def _moments(x, m):
    return dict(zip(("mean", "std"), nn.get_note_moments(x, m)))


def _pool(x, m):
    return dict(zip(("mean", "std"), nn.pool_over_notes(x, m)))


NOTE_FUNS = {
    "moments3": _moments,
    "moments2": _moments,
    "pool_std": _pool,
    "pool_mean": lambda x, m: {"mean": nn.pool_over_notes(x, m, return_std=False)},
}


@pytest.mark.parametrize("name", list(NOTE_FUNS))
def test_note_moments_and_pooling_match_ddsp(name):
    c, fun = case(name), NOTE_FUNS[name]
    outs = fun(c["x"], c["note_mask"])
    for k, v in outs.items():
        close(v, c[f"out/{k}"])
    gx, gm = value_and_grad(lambda x, m: projected(fun(x, m), c), argnums=(0, 1))(
        c["x"], c["note_mask"]
    )[1]
    close(gx, c["grad/x"])
    close(gm, c["grad/note_mask"])


def test_note_lengths_and_short_note_mask_match_ddsp():
    c = case("lengths")
    close(nn.get_note_lengths(c["note_mask"]), c["out/lengths"])
    g = value_and_grad(lambda m: projected({"lengths": nn.get_note_lengths(m)}, c))(c["note_mask"])[
        1
    ]
    close(g, c["grad/note_mask"])
    c = case("short")

    def short(m):
        return nn.get_short_note_loss_mask(m, c["note_lengths"], c["note_pitches"], 3)

    np.testing.assert_array_equal(short(c["note_mask"]), c["out/loss_mask"])
    g = value_and_grad(lambda m: projected({"loss_mask": short(m)}, c))(c["note_mask"])[1]
    close(g, c["grad/note_mask"])


def test_std_gradient_is_finite_where_ddsp_gives_nan():
    c = case("moments_nan")  # empty regions and constant notes
    assert np.isnan(c["grad/x"]).all()  # what ddsp does
    outs = _moments(c["x"], c["note_mask"])
    for k, v in outs.items():
        close(v, c[f"out/{k}"])
    gx = value_and_grad(lambda x: projected(_moments(x, c["note_mask"]), c))(c["x"])[1]
    assert np.isfinite(gx).all()
    # The mean part alone is smooth: ddsp's and ours agree there (independent formula).
    m = c["note_mask"].astype(np.float64)
    lengths = m.sum(1)
    cot = c["cot/mean"].astype(np.float64)
    expected = np.einsum("btn,bnd->btd", m, cot / np.where(lengths == 0, 1e-7, lengths)[..., None])
    gmean = value_and_grad(lambda x: ops.sum(nn.get_note_moments(x, m, False) * cot))(
        c["x"].astype(np.float64)
    )[1]
    close(gmean, expected, rtol=1e-10, atol=1e-12)


def test_note_moments_against_a_direct_formula_float64():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 9, 3))
    m = nn.get_note_mask(np.array([[1.0, 1, 1, 0, 2, 2, 2, 2, 2], [0] * 9]), 4)
    mean, std = nn.get_note_moments(x, m)
    for b, n in itertools.product(range(2), range(4)):
        frames = m[b, :, n] > 0
        want_mean = x[b, frames].mean(0) if frames.any() else np.zeros(3)
        want_std = x[b, frames].std(0) if frames.any() else np.zeros(3)
        close(mean[b, n], want_mean, rtol=1e-12, atol=1e-12)
        close(std[b, n], want_std, rtol=1e-12, atol=1e-12)
    pooled_mean, pooled_std = nn.pool_over_notes(x, m)
    note_of = m.argmax(-1)
    on = m.sum(-1) > 0
    close(pooled_mean[on], mean[np.nonzero(on)[0], note_of[on]], rtol=1e-12, atol=0)
    close(pooled_std[on], std[np.nonzero(on)[0], note_of[on]], rtol=1e-12, atol=0)
    assert not pooled_mean[~on].any() and not pooled_std[~on].any()
    # 2-D x: [batch, frames] out (a deviation from ddsp's broadcast).
    flat = nn.pool_over_notes(x[..., 0], m, return_std=False)
    close(flat, pooled_mean[..., 0], rtol=1e-12, atol=0)


def _soft_mask(rng, shape):
    return rng.uniform(0.1, 1.0, shape)


@pytest.mark.parametrize("argnums", [(0,), (1,), (0, 1)])
@pytest.mark.parametrize("rank", [2, 3])
def test_note_moments_and_pooling_gradients_float64(argnums, rank):
    rng = np.random.default_rng(4)
    x = rng.standard_normal((2, 6, 2)[:rank])
    m = _soft_mask(rng, (2, 6, 3))
    check_grads(lambda x, m: cat(*nn.get_note_moments(x, m)), x, m, argnums=argnums)
    check_grads(lambda x, m: cat(*nn.pool_over_notes(x, m)), x, m, argnums=argnums)
    check_grads(lambda x, m: nn.pool_over_notes(x, m, False), x, m, argnums=argnums)


def test_note_gradients_with_hard_masks_one_frame_and_silence():
    rng = np.random.default_rng(5)
    # Hard masks with empty regions: differentiable in x (the mask sits on a kink at 0).
    m = nn.get_note_mask(np.array([[1.0, 1, 2, 2, 2, 0, 0]]), 5)
    x = rng.standard_normal((1, 7, 2))
    check_grads(lambda x: cat(*nn.get_note_moments(x, m)), x)
    check_grads(lambda x: cat(*nn.pool_over_notes(x, m)), x)
    # One frame, one note: std 0 with a zero (not NaN) gradient.
    one = nn.get_note_mask(np.array([[2.0]]), 1)
    mean, std = nn.get_note_moments(np.array([[[0.7]]]), one)
    assert mean[0, 0, 0] == 0.7 and std[0, 0, 0] == 0.0
    g = value_and_grad(lambda x: ops.sum(nn.get_note_moments(x, one)[1]))(np.array([[[0.7]]]))
    assert g[1][0, 0, 0] == 0.0
    # Silence (an all-zero mask): zeros out, zero gradients.
    zero = np.zeros((1, 7, 3))
    out, g = value_and_grad(lambda x: ops.sum(cat(*nn.pool_over_notes(x, zero))))(x)
    assert out == 0 and not g.any()
    check_grads(lambda m: cat(*nn.get_note_moments(x, m)), _soft_mask(rng, (1, 7, 2)))


def test_note_functions_float32_and_float64():
    rng = np.random.default_rng(6)
    m = _soft_mask(rng, (1, 5, 2))
    for dtype in (np.float32, np.float64):
        x = rng.standard_normal((1, 5, 2)).astype(dtype)
        mean, std = nn.pool_over_notes(x, m.astype(dtype))
        assert mean.dtype == dtype and std.dtype == dtype
        assert nn.get_note_lengths(m.astype(dtype)).dtype == dtype
    ref64 = nn.get_note_moments(x.astype(np.float64), m)[1]
    close(nn.get_note_moments(x.astype(np.float32), m.astype(np.float32))[1], ref64, rtol=1e-5)


# -- polyphase_resample --------------------------------------------------------------------
@pytest.mark.parametrize("i", range(6))
def test_polyphase_resample_matches_ddsp(i):
    c, spec = case(f"poly{i}"), SPEC[f"poly{i}"]
    y, g = value_and_grad(lambda x: projected({"y": nn.polyphase_resample(x, **spec)}, c))(c["x"])
    np.testing.assert_array_equal(nn.polyphase_resample(c["x"], **spec), c["out/y"])
    np.testing.assert_array_equal(nn.PolyphaseResample(**spec)(c["x"]), c["out/y"])
    np.testing.assert_array_equal(g, c["grad/x"])


@pytest.mark.parametrize("n_time", [1, 2, 3, 4, 5, 6, 7])
@pytest.mark.parametrize("trim_or_pad", ["trim", "pad"])
def test_polyphase_resample_lengths_and_gradients(n_time, trim_or_pad):
    rng = np.random.default_rng(n_time)
    x = rng.standard_normal((2, n_time, 3))
    stride = 3
    if trim_or_pad == "trim" and n_time < stride:
        with pytest.raises(ValueError, match="leaves nothing"):
            nn.polyphase_resample(x, stride, "down", "trim")
        return
    y = nn.polyphase_resample(x, stride, "down", trim_or_pad)
    n_out = -(-n_time // stride) if trim_or_pad == "pad" else n_time // stride
    padded = np.zeros((2, n_out * stride, 3))
    keep = min(n_time, n_out * stride)
    padded[:, :keep] = x[:, :keep]
    # Independent: output step j holds input steps j*stride .. j*stride+stride-1 side by side.
    for j in range(n_out):
        close(y[:, j], padded[:, j * stride : (j + 1) * stride].reshape(2, -1), rtol=0, atol=0)
    check_grads(lambda x: nn.polyphase_resample(x, stride, "down", trim_or_pad), x)
    up = nn.polyphase_resample(y, stride, "up", trim_or_pad)  # up inverts down exactly
    np.testing.assert_array_equal(up, padded)
    check_grads(lambda y: nn.polyphase_resample(y, 2, "up", trim_or_pad), y)


def test_polyphase_resample_rejects_bad_input():
    x = np.zeros((1, 4, 3))
    with pytest.raises(ValueError, match="resample_type"):
        nn.polyphase_resample(x, resample_type="sideways")
    with pytest.raises(ValueError, match="trim_or_pad"):
        nn.polyphase_resample(x, trim_or_pad="crop")
    with pytest.raises(ValueError, match="stride"):
        nn.polyphase_resample(x, stride=0)
    with pytest.raises(ValueError, match="width 1"):
        nn.polyphase_resample(np.zeros((1, 4, 2, 3)))
    with pytest.raises(ValueError, match="must have shape"):
        nn.polyphase_resample(np.zeros((4, 3)))
    with pytest.raises(ValueError, match="stride"):
        nn.PolyphaseResample(stride=-1)


# -- RnnFc -----------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["rnnfc_lstm", "rnnfc_gru_bidir"])
def test_rnn_fc_matches_ddsp(name):
    c, spec = case(name), SPEC[name]
    layer = nn.RnnFc(**spec, seed=0)
    layer(c["x"])
    params = params_of(c)
    assert sorted(layer.parameters()) == sorted(params)

    def fun(p, x):
        return projected({"y": layer.apply(p, x)}, c)

    (gp, gx) = value_and_grad(fun, argnums=(0, 1))(params, c["x"])[1]
    close(layer.apply(params, c["x"]), c["out/y"])
    close(gx, c["grad/x"])
    for k, v in grads_of(c, "grad/params/").items():
        for kk, vv in v.items():
            for kkk, g in vv.items() if isinstance(vv, dict) else [(None, vv)]:
                ours = gp[k][kk] if kkk is None else gp[k][kk][kkk]
                close(ours, g)


def test_rnn_fc_bidir_bug_and_its_fix():
    x = np.random.default_rng(0).standard_normal((2, 5, 4)).astype(np.float32)
    assert nn.RnnFc(3, 2, seed=1)(x).shape == (2, 2)  # ddsp: last output only
    buggy = nn.RnnFc(3, 2, bidir=True, seed=1)
    assert buggy(x).shape == (2, 5, 2)  # sequences, one-way
    assert "backward" not in buggy.parameters()["rnn_0"]
    fixed = nn.RnnFc(3, 2, bidir=True, seed=1, ddsp_bidir_bug=False)
    assert fixed(x).shape == (2, 5, 2)
    assert "backward" in fixed.parameters()["rnn_0"]
    assert fixed.parameters()["fc"]["dense"]["kernel"].shape == (6, 2)
    # n_rnn > 1 with the bug fails as in ddsp (the second Rnn gets no time axis).
    with pytest.raises(ValueError, match="must have shape"):
        nn.RnnFc(3, 2, n_rnn=2, seed=1)(x)
    assert nn.RnnFc(3, 2, n_rnn=2, seed=1, ddsp_bidir_bug=False)(x).shape == (2, 5, 2)
    with pytest.raises(ValueError, match="n_rnn"):
        nn.RnnFc(3, 2, n_rnn=0)


def test_rnn_fc_gradients_float64():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((1, 3, 2))
    for kw in (dict(), dict(bidir=True, rnn_type="gru")):
        layer = nn.RnnFc(2, 2, seed=3, **kw)
        layer(x)
        check_grads(lambda p, x, f=layer: f.apply(p, x), layer.parameters(), x, argnums=(0, 1))
        check_grads(lambda p, f=layer: f.apply(p, x), layer.parameters())
        check_grads(layer, x)


# -- Embedding -------------------------------------------------------------------------------
def test_get_embedding_matches_ddsp():
    c = case("embedding")
    emb = nn.get_embedding(5, 3, seed=0)
    params = params_of(c)
    close(emb.apply(params, c["ids"]), c["out/y"], atol=0)
    g = value_and_grad(lambda p: projected({"y": emb.apply(p, c["ids"])}, c))(params)[1]
    close(g["embeddings"], c["grad/params/embeddings"])  # repeated ids add up


def test_embedding_initialiser_ids_and_errors():
    emb = nn.Embedding(7, 4, seed=3)
    table = emb.parameters()["embeddings"]
    assert table.shape == (7, 4) and table.dtype == np.float32
    assert np.abs(table).max() <= 0.05 and table.std() > 0.01
    np.testing.assert_array_equal(nn.Embedding(7, 4, seed=3).parameters()["embeddings"], table)
    np.testing.assert_array_equal(emb(np.array([[6.0, 0.0]])), table[[[6, 0]]])
    check_grads(lambda p: emb.apply({"embeddings": p}, np.array([1, 1, 4])), table)
    with pytest.raises(ValueError, match=r"ids must lie in \[0, 7\)"):
        emb(np.array([7]))
    with pytest.raises(ValueError, match=r"ids must lie in \[0, 7\)"):
        emb(np.array([-1]))
    with pytest.raises(ValueError, match="whole numbers"):
        emb(np.array([0.5]))
    with pytest.raises(ValueError, match="input_dim"):
        nn.Embedding(0, 3)


# -- VectorQuantization ----------------------------------------------------------------------
def _vq(state):
    vq = nn.VectorQuantization(**SPEC["vq"], seed=0)
    vq.set_variables({"counts": state["counts"], "sums": state["sums"]})
    return vq


@pytest.mark.parametrize("training", [False, True])
def test_vector_quantization_matches_ddsp(training):
    state = case("vq/state")
    c = case(f"vq_{'train' if training else 'eval'}")
    vq = _vq(state)
    assert vq.parameters() == {}  # the codebook is state, not a parameter

    def fun(x):
        z, ids = vq(x, training=training)
        return projected({"z": z, "loss": vq.committment_loss(x, z)}, c), ids

    (value, ids), g = value_and_grad(fun, has_aux=True)(c["x"])
    np.testing.assert_array_equal(ids, c["out/c"])
    vq = _vq(state)
    z, _ = vq(c["x"], training=training)
    close(z, c["out/z"])
    close(vq.committment_loss(c["x"], z), c["out/loss"])
    close(g, c["grad/x"])
    close(vq.counts, c["new/counts"])
    close(vq.sums, c["new/sums"])
    if training:  # ddsp's unquantize of the eval ids, with the state after this update
        close(vq.unquantize(case("vq_eval")["out/c"]), GOLDEN["vq/unquantize"])


def test_vector_quantization_state_update_restarts_and_errors():
    rng = np.random.default_rng(7)
    x = rng.standard_normal((3, 4, 2)).astype(np.float32)
    vq = nn.VectorQuantization(k=20, gamma=0.5, seed=1)
    z, ids = vq(x)  # eval on the zero codebook: every vector maps to centroid 0 (all zero)
    assert not z.any() and not ids.any() and not vq.counts.any()
    z, ids = vq(x, training=True)  # all centroids restart; 12 of 20 from the batch
    assert ids.shape == (3, 4, 1) and ids.dtype == np.int64
    flat = x.reshape(-1, 2)
    assert all(any(np.array_equal(v, row) for row in flat) for v in z.reshape(-1, 2))
    np.testing.assert_array_equal(z.reshape(-1, 2), flat)  # each vector is its own centroid
    # EMA: counts = 0.5 * 0 + 0.5 * batch counts; sums likewise.
    np.testing.assert_allclose(vq.counts.sum(), 0.5 * 12)
    np.testing.assert_allclose(vq.sums.sum(0), 0.5 * flat.sum(0), rtol=1e-6)
    # The gradient of z is the identity (straight through); the state has no gradient path.
    g = value_and_grad(lambda v: ops.sum(vq(v)[0] * 3.0))(x)[1]
    np.testing.assert_array_equal(g, np.full_like(x, 3.0))
    check_grads(lambda v: vq.committment_loss(v, vq(v)[0]), x.astype(np.float64))
    with pytest.raises(ValueError, match="multiple of num_heads"):
        nn.VectorQuantization(4, num_heads=3)(np.zeros((2, 4)))
    with pytest.raises(ValueError, match="must have 2 channels"):
        vq(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="unquantize before the first call"):
        nn.VectorQuantization(4).unquantize(np.zeros((1, 1), int))
