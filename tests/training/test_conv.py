"""conv1d (im2col + GEMM) against direct loops, TF 'same' padding, gradients; Conv1D, FiLM and
DilatedConvStack against compositions written here in float64 numpy."""

from __future__ import annotations

import itertools
import json
import math
from pathlib import Path

import numpy as np
import pytest

import ddsp_ref
from ddsp_ref.autodiff import check_grads, value_and_grad
from ddsp_ref.autodiff import ops as aops
from ddsp_ref.autodiff.fused.conv import conv1d, conv1d_transpose, same_padding
from ddsp_ref.module import flatten_dict
from ddsp_ref.training import nn

_rng = np.random.default_rng(1234)


# -- float64 numpy references -------------------------------------------------------------------
def np_conv(x, w, b, dilation=1, stride=1, padding="same"):
    """Direct loops: y[b, t, o] = b[o] + sum_{j, c} x[b, t*s + j*d - before, c] w[j, c, o]
    with TF's 'SAME' rule written out: n_out = ceil(T / s), total = max((n_out - 1) s + span
    - T, 0), before = floor(total / 2)."""
    batch, n, _ = x.shape
    k, _, c_out = w.shape
    span = (k - 1) * dilation + 1
    if padding == "same":
        n_out = math.ceil(n / stride)
        before = max((n_out - 1) * stride + span - n, 0) // 2
    else:
        n_out, before = (n - span) // stride + 1, 0
    y = np.tile(b.astype(np.float64), (batch, n_out, 1))
    for t in range(n_out):
        for j in range(k):
            src = t * stride + j * dilation - before
            if 0 <= src < n:
                y[:, t] += x[:, src].astype(np.float64) @ w[j].astype(np.float64)
    return y


def np_conv_transpose(x, w, b, stride):
    """keras Conv2DTranspose 'same' by direct loops: y[t * s + j - before] += x[t] w[j]^T over
    an output of n * s steps, before = floor(max(k - s, 0) / 2)."""
    batch, n, _ = x.shape
    k, c_out, _ = w.shape
    length, before = n * stride, max(k - stride, 0) // 2
    y = np.tile(b.astype(np.float64), (batch, length, 1))
    for t in range(n):
        for j in range(k):
            dst = t * stride + j - before
            if 0 <= dst < length:
                y[:, dst] += x[:, t].astype(np.float64) @ w[j].astype(np.float64).T
    return y


def np_relu(x):
    return np.maximum(x, 0.0)


def np_normalize(x, norm_type, eps=1e-5):
    """ddsp normalize_op on [B, T, C]: statistics over time and the channels of a group."""
    if norm_type is None:
        return x
    b, t, c = x.shape
    groups = {"layer": 1, "instance": c, "group": 32}[norm_type]
    g = x.reshape(b, t, groups, c // groups)
    mean = g.mean(axis=(1, 3), keepdims=True)
    var = ((g - mean) ** 2).mean(axis=(1, 3), keepdims=True)
    return ((g - mean) / np.sqrt(var + eps)).reshape(b, t, c)


def np_resample(p, x, kind, stride):
    if kind == "upsample":
        return np_conv_transpose(x, p["kernel"], p["bias"], stride)
    return np_conv(x, p["kernel"], p["bias"], 1, stride)


def np_stack(p, x, dilations, norm_type, z=None, shift_only=False, resample=None):
    """DilatedConvStack from its parameters dict: conv_in, then x += Norm(conv(relu(x))).
    ``resample = (kind, stride, {("before" | "after", layer): resample index})``."""
    kind, stride, where = resample or (None, 1, {})
    x = np_conv(x, p["conv_in"]["kernel"], p["conv_in"]["bias"])
    for i, d in enumerate(dilations):
        if ("before", i) in where:
            x = np_resample(p[f"resample_{where['before', i]}"], x, kind, stride)
        conv, norm = p[f"dilated_conv_{i}"], p[f"norm_{i}"]
        y = np_normalize(np_conv(np_relu(x), conv["kernel"], conv["bias"], d), norm_type)
        if z is None:
            y = y * norm["scale"] + norm["shift"]
        else:
            dense = norm["conditional_scale_and_shift"]["dense"]
            zz = z if z.ndim == 3 else z[:, None, :]
            film = zz @ dense["kernel"] + dense["bias"]
            ch = y.shape[-1]
            y = y + film if shift_only else y * film[..., :ch] + film[..., ch:]
        x = x + y
        if ("after", i) in where:
            x = np_resample(p[f"resample_{where['after', i]}"], x, kind, stride)
    return x


def _f64(tree):
    return ddsp_ref.autodiff.tree_map(lambda a: np.asarray(a, np.float64), tree)


# -- conv1d ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("n", [1, 3, 7, 40])
@pytest.mark.parametrize("k", [1, 2, 3, 4, 5])
@pytest.mark.parametrize("dilation", [1, 2, 4])
def test_same_conv_matches_direct_loops(n, k, dilation):
    # lengths 1, below the receptive field ((k - 1) * d + 1 up to 17) and well above it
    x, w, b = _rng.standard_normal((2, n, 3)), _rng.standard_normal((k, 3, 4)), _rng.random(4)
    y = conv1d(x, w, b, dilation)
    assert y.shape == (2, n, 4) and y.dtype == np.float64
    np.testing.assert_allclose(y, np_conv(x, w, b, dilation), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("stride", [2, 3])
@pytest.mark.parametrize("padding", ["same", "valid"])
def test_strided_conv_matches_direct_loops(stride, padding):
    for n, k, d in [(10, 3, 1), (11, 4, 2), (9, 2, 1), (5, 1, 1)]:
        x, w, b = _rng.standard_normal((2, n, 2)), _rng.standard_normal((k, 2, 3)), _rng.random(3)
        np.testing.assert_allclose(
            conv1d(x, w, b, d, stride, padding), np_conv(x, w, b, d, stride, padding),
            rtol=1e-12, atol=1e-12,
        )  # fmt: skip


def test_tf_same_padding_split():
    # (length, kernel, dilation, stride) -> (before, after); an odd total puts the extra zero
    # after the signal (TF's rule), an even kernel is therefore shifted left.
    table = {
        (10, 3, 1, 1): (1, 1),
        (10, 4, 1, 1): (1, 2),
        (10, 2, 1, 1): (0, 1),
        (10, 3, 2, 1): (2, 2),
        (10, 4, 2, 1): (3, 3),
        (10, 3, 1, 2): (0, 1),
        (11, 3, 1, 2): (1, 1),
        (1, 5, 4, 1): (8, 8),
        (7, 1, 1, 1): (0, 0),
        (8, 2, 1, 2): (0, 0),
    }
    for args, expected in table.items():
        assert same_padding(*args) == expected, args


# Recorded from TensorFlow 2.20 keras (float64, zero bias): Conv2D(2, (k, 1), (s, 1),
# dilation_rate=(d, 1), padding='same') and Conv2DTranspose(2, (k, 1), (s, 1), padding='same')
# on x[None, :, None, :] with kernel w[:, None] (keras' layouts [k, 1, c_in, c_out] and
# [k, 1, c_out, c_in]). Integer inputs make the outputs exact.
KERAS_CASES = [
    ("conv", 4, 2, 1,
     [[2, -3], [-2, -2], [-2, 2], [3, 1], [-3, -3]],
     [[[-1, 0], [1, 0]], [[-1, -2], [1, 1]], [[-2, -2], [0, -1]], [[2, 0], [0, 0]]],
     [[10, 6], [-7, -5], [-6, -5], [5, 15], [-2, -5]]),
    ("conv", 2, 1, 3,
     [[1, 1], [-2, 2], [2, 3], [2, -2], [-1, 1], [1, 1], [3, -1]],
     [[[2, -2], [-2, 2]], [[2, -1], [-2, -1]]],
     [[-8, 0], [4, -8], [8, -8]]),
    ("conv", 3, 4, 1, [[-3, 3]],
     [[[1, 0], [-1, 0]], [[-2, 1], [0, -2]], [[-1, 1], [0, -1]]],
     [[6, -9]]),
    ("transpose", 4, 1, 2,
     [[-2, -3], [1, 1], [0, 3]],
     [[[2, -1], [1, 1]], [[-1, -1], [0, 1]], [[-1, 1], [1, -1]], [[-1, 2], [2, 1]]],
     [[5, -3], [0, 3], [-6, -6], [-3, 3], [-2, 6], [3, -3]]),
    ("transpose", 3, 1, 3,
     [[-3, 1], [-2, 2]],
     [[[2, 0], [2, 1]], [[-1, 2], [-1, -2]], [[0, 2], [1, -1]]],
     [[-6, -5], [5, 1], [2, -4], [-4, -2], [6, -2], [4, -4]]),
]  # fmt: skip


@pytest.mark.parametrize("case", KERAS_CASES, ids=lambda c: f"{c[0]}-k{c[1]}-d{c[2]}-s{c[3]}")
def test_matches_values_recorded_from_keras(case):
    kind, k, dilation, stride, x, w, expected = case
    x, w = np.array(x, np.float64)[None], np.array(w, np.float64)
    assert w.shape[0] == k
    if kind == "conv":
        y = conv1d(x, w, np.zeros(2), dilation, stride)
    else:
        y = conv1d_transpose(x, w, np.zeros(2), stride)
    np.testing.assert_array_equal(y[0], expected)


def test_even_kernel_alignment_by_hand():
    # k = 2, 'same': out[t] = w0 x[t] + w1 x[t + 1] (the zero is appended at the end)
    x = np.arange(1.0, 6.0).reshape(1, 5, 1)
    w = np.array([10.0, 1.0]).reshape(2, 1, 1)
    y = conv1d(x, w, np.zeros(1))[0, :, 0]
    np.testing.assert_array_equal(y, [12, 23, 34, 45, 50])


@pytest.mark.parametrize("config", [(3, 1, 1, "same"), (4, 2, 1, "same"), (3, 2, 2, "same"),
                                    (2, 1, 3, "valid"), (5, 4, 1, "same")])  # fmt: skip
def test_gradients_on_every_subset_of_inputs(config):
    k, d, s, padding = config
    args = (_rng.standard_normal((2, 9, 3)), _rng.standard_normal((k, 3, 2)),
            _rng.standard_normal(2))  # fmt: skip
    weights = _rng.standard_normal((2, -(-9 // s) if padding == "same" else (9 - (k - 1) * d - 1)
                                    // s + 1, 2))  # fmt: skip

    def loss(x, w, b):
        return aops.sum(conv1d(x, w, b, d, s, padding) * weights)

    _, full = value_and_grad(loss, (0, 1, 2))(*args)
    for size in (1, 2, 3):
        for subset in itertools.combinations(range(3), size):
            check_grads(lambda *a: conv1d(*a, d, s, padding), *args, argnums=subset)
            _, part = value_and_grad(loss, subset)(*args)
            for i, g in zip(subset, part):
                np.testing.assert_allclose(g, full[i], rtol=1e-12, atol=1e-12)


def test_gradient_is_the_adjoint_of_the_direct_loops():
    # <conv(x), g> differentiated by hand: dL/dx[t'] = sum over outputs using x[t'].
    x, w, b = _rng.standard_normal((1, 6, 2)), _rng.standard_normal((3, 2, 2)), np.zeros(2)
    g = _rng.standard_normal((1, 6, 2))
    gx = ddsp_ref.grad(lambda v: aops.sum(conv1d(v, w, b, 2) * g))(x)
    expected = np.zeros_like(x)
    for i in range(x.size):  # the map is linear in x: apply it to each basis vector
        e = np.zeros(x.size)
        e[i] = 1.0
        expected.flat[i] = np.sum(np_conv(e.reshape(x.shape), w, b, 2) * g)
    np.testing.assert_allclose(gx, expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("n", [1, 2, 7])
@pytest.mark.parametrize("stride", [1, 2, 3])
@pytest.mark.parametrize("k", [1, 2, 3, 4, 6])
def test_transpose_conv_matches_direct_loops_and_is_the_adjoint(n, stride, k):
    x, w, b = _rng.standard_normal((2, n, 3)), _rng.standard_normal((k, 4, 3)), _rng.random(4)
    y = conv1d_transpose(x, w, b, stride)
    assert y.shape == (2, n * stride, 4)
    np.testing.assert_allclose(y, np_conv_transpose(x, w, b, stride), rtol=1e-12, atol=1e-12)
    # <conv(u), x> = <conv_transpose(x), u> for the strided 'same' convolution of n*s steps
    u = _rng.standard_normal((2, n * stride, 4))
    lhs = np.sum(np_conv(u, w, np.zeros(3), 1, stride) * x)
    rhs = np.sum(conv1d_transpose(x, w, np.zeros(4), stride) * u)
    np.testing.assert_allclose(lhs, rhs, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("k,stride", [(4, 2), (6, 3), (1, 2), (3, 1)])
def test_transpose_gradients_on_every_subset_of_inputs(k, stride):
    args = (_rng.standard_normal((2, 5, 3)), _rng.standard_normal((k, 2, 3)),
            _rng.standard_normal(2))  # fmt: skip
    weights = _rng.standard_normal((2, 5 * stride, 2))

    def loss(x, w, b):
        return aops.sum(conv1d_transpose(x, w, b, stride) * weights)

    _, full = value_and_grad(loss, (0, 1, 2))(*args)
    for size in (1, 2, 3):
        for subset in itertools.combinations(range(3), size):
            check_grads(lambda *a: conv1d_transpose(*a, stride), *args, argnums=subset)
            _, part = value_and_grad(loss, subset)(*args)
            for i, g in zip(subset, part):
                np.testing.assert_allclose(g, full[i], rtol=1e-12, atol=1e-12)


def test_float32_stays_float32():
    x, w, b = (_rng.standard_normal(s).astype(np.float32) for s in [(2, 50, 4), (3, 4, 5), (5,)])
    y = conv1d(x, w, b, 4)
    assert y.dtype == np.float32
    np.testing.assert_allclose(y, np_conv(x, w, b, 4), rtol=1e-5, atol=1e-5)
    grads = ddsp_ref.grad(lambda *a: aops.sum(conv1d(*a, 4) ** 2), (0, 1, 2))(x, w, b)
    assert [g.dtype for g in grads] == [np.float32] * 3
    wt = _rng.standard_normal((4, 5, 4)).astype(np.float32)
    yt = conv1d_transpose(x, wt, b, 2)
    assert yt.dtype == np.float32
    np.testing.assert_allclose(yt, np_conv_transpose(x, wt, b, 2), rtol=1e-5, atol=1e-5)
    grads = ddsp_ref.grad(lambda *a: aops.sum(conv1d_transpose(*a, 2) ** 2), (0, 1, 2))(x, wt, b)
    assert [g.dtype for g in grads] == [np.float32] * 3


def test_bad_input_raises():
    x, w, b = np.zeros((1, 4, 2)), np.zeros((3, 2, 2)), np.zeros(2)
    with pytest.raises(ValueError, match="channels"):
        conv1d(x, np.zeros((3, 5, 2)), b)
    with pytest.raises(ValueError, match="padding"):
        conv1d(x, w, b, padding="causal")
    with pytest.raises(ValueError, match="shorter than the dilated kernel"):
        conv1d(x, w, b, dilation=2, padding="valid")
    with pytest.raises(ValueError, match="dilation"):
        conv1d(x, w, b, dilation=0)
    with pytest.raises(ValueError, match="n_steps >= 1"):
        conv1d(np.zeros((1, 0, 2)), w, b)


# -- Conv1D layer ---------------------------------------------------------------------------------
def test_conv1d_layer_initialisers():
    layer = nn.Conv1D(64, 5, seed=0, input_size=32)
    kernel = layer.parameters()["kernel"]
    assert kernel.shape == (5, 32, 64) and kernel.dtype == np.float32
    limit = math.sqrt(6.0 / (5 * 32 + 5 * 64))  # keras counts the receptive field in both fans
    assert np.max(np.abs(kernel)) <= limit
    assert abs(kernel.std() - limit / math.sqrt(3)) < 0.03 * limit
    np.testing.assert_array_equal(layer.parameters()["bias"], np.zeros(64))
    ortho = nn.Conv1D(4, 3, kernel_initializer="orthogonal", seed=0, input_size=5)
    flat = ortho.parameters()["kernel"].reshape(15, 4).astype(np.float64)
    np.testing.assert_allclose(flat.T @ flat, np.eye(4), atol=1e-6)


def test_conv1d_transpose_layer():
    layer = nn.Conv1DTranspose(6, 4, stride=2, seed=0, input_size=3)
    kernel = layer.parameters()["kernel"]
    assert kernel.shape == (4, 6, 3)  # keras' [k, 1, filters, c_in] without the width
    assert np.max(np.abs(kernel)) <= math.sqrt(6.0 / (4 * 6 + 4 * 3))
    x = _rng.standard_normal((2, 5, 3))
    np.testing.assert_allclose(layer(x), np_conv_transpose(x, kernel, np.zeros(6), 2),
                               rtol=1e-6, atol=1e-6)  # fmt: skip


def test_conv1d_layer_call_and_seed():
    x = _rng.standard_normal((2, 12, 3))
    layer = nn.Conv1D(4, 3, dilation=2, seed=5)
    y = layer(x)
    p = layer.parameters()
    np.testing.assert_allclose(y, np_conv(x, p["kernel"], p["bias"], 2), rtol=1e-6, atol=1e-6)
    again = nn.Conv1D(4, 3, dilation=2, seed=5, input_size=3).parameters()["kernel"]
    np.testing.assert_array_equal(again, p["kernel"])


# -- FiLM ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("shift_only", [False, True])
@pytest.mark.parametrize("z_rank", [2, 3])
def test_conditional_norm_by_hand(shift_only, z_rank):
    x = _rng.standard_normal((2, 7, 4))
    z = _rng.standard_normal((2, 3) if z_rank == 2 else (2, 7, 3))
    layer = nn.ConditionalNorm("instance", shift_only=shift_only, seed=0)
    y = layer((x, z))
    dense = layer.parameters()["conditional_scale_and_shift"]["dense"]
    assert dense["kernel"].shape == (3, 4 if shift_only else 8)
    film = (z if z_rank == 3 else z[:, None]) @ dense["kernel"] + dense["bias"]
    xn = np_normalize(x, "instance")
    expected = xn + film if shift_only else xn * film[..., :4] + film[..., 4:]
    np.testing.assert_allclose(y, expected, rtol=1e-5, atol=1e-5)


# -- DilatedConvStack -----------------------------------------------------------------------------
@pytest.mark.parametrize("norm_type", [None, "layer", "instance"])
@pytest.mark.parametrize("dilation", [2, -2, 3])
def test_stack_matches_hand_composition(norm_type, dilation):
    stack = nn.DilatedConvStack(ch=6, layers_per_stack=3, stacks=2, kernel_size=3,
                                dilation=dilation, norm_type=norm_type, seed=3)  # fmt: skip
    expected_rates = {2: [1, 2, 4], -2: [4, 2, 1], 3: [1, 3, 9]}[dilation] * 2
    assert stack.dilations == expected_rates
    x = _rng.standard_normal((2, 30, 2))
    stack(x)
    params = _f64(stack.parameters())
    for i in range(6):  # non-trivial scale and shift
        params[f"norm_{i}"]["scale"] = _rng.uniform(0.5, 1.5, 6)
        params[f"norm_{i}"]["shift"] = _rng.standard_normal(6)
    y = stack.apply(params, x)
    assert y.shape == (2, 30, 6) and y.dtype == np.float64
    np.testing.assert_allclose(y, np_stack(params, x, expected_rates, norm_type), rtol=1e-10,
                               atol=1e-10)  # fmt: skip


@pytest.mark.parametrize("shift_only", [False, True])
def test_conditional_stack_matches_hand_composition(shift_only):
    stack = nn.DilatedConvStack(ch=4, layers_per_stack=2, stacks=1, kernel_size=2,
                                norm_type="layer", conditional=True, shift_only=shift_only,
                                seed=1)  # fmt: skip
    x, z = _rng.standard_normal((2, 9, 3)), _rng.standard_normal((2, 9, 5))
    stack((x, z))
    params = _f64(stack.parameters())
    np.testing.assert_allclose(stack.apply(params, (x, z)),
                               np_stack(params, x, [1, 2], "layer", z, shift_only),
                               rtol=1e-10, atol=1e-10)  # fmt: skip
    # a 2-D z conditions every step alike
    z2 = _rng.standard_normal((2, 5))
    np.testing.assert_allclose(stack.apply(params, (x, z2)),
                               np_stack(params, x, [1, 2], "layer", z2, shift_only),
                               rtol=1e-10, atol=1e-10)  # fmt: skip


def test_stack_float32_defaults_and_layouts():
    stack = nn.DilatedConvStack(ch=8, seed=0)  # ddsp's defaults otherwise: 2 x 5 layers
    assert stack.dilations == [1, 2, 4, 8, 16] * 2
    x = _rng.standard_normal((1, 40, 3)).astype(np.float32)
    y = stack(x)
    assert y.dtype == np.float32 and y.shape == (1, 40, 8)
    params = _f64(stack.parameters())
    np.testing.assert_allclose(y, np_stack(params, x, stack.dilations, None), rtol=1e-4,
                               atol=1e-4)  # fmt: skip
    np.testing.assert_array_equal(stack(x[:, :, None, :]), y)  # ddsp's 4-D layout
    one = stack(x[:, :1])  # one frame: every tap but the centre reads padding
    np.testing.assert_allclose(one, np_stack(params, x[:, :1], stack.dilations, None),
                               rtol=1e-4, atol=1e-4)  # fmt: skip


RESAMPLING = [
    # (resample_type, stride, stacks_per_resample, after, {(when, layer): resample index})
    ("upsample", 2, 1, True, {("after", 1): 0, ("after", 3): 1}),
    ("upsample", 3, 2, False, {("before", 0): 0}),
    ("downsample", 2, 1, False, {("before", 0): 0, ("before", 2): 1}),
    ("downsample", 3, 2, True, {("after", 3): 0}),
]


@pytest.mark.parametrize("kind,stride,per,after,where", RESAMPLING)
def test_resampling_stack_matches_hand_composition(kind, stride, per, after, where):
    stack = nn.DilatedConvStack(ch=4, layers_per_stack=2, stacks=2, norm_type="layer",
                                resample_type=kind, resample_stride=stride,
                                stacks_per_resample=per, resample_after_convolve=after,
                                seed=7)  # fmt: skip
    x = _rng.standard_normal((2, 11, 3))
    stack(x)  # builds the layers (lazily, on the input's device)
    assert len([k for k in stack.parameters() if k.startswith("resample_")]) == len(where)
    k = stack.parameters()["resample_0"]["kernel"].shape[0]
    assert k == (2 * stride if kind == "upsample" else stride)
    params = _f64(stack.parameters())
    y = stack.apply(params, x)
    n_out = 11 * stride ** len(where) if kind == "upsample" else 11
    if kind == "downsample":
        for _ in where:
            n_out = -(-n_out // stride)
    assert y.shape == (2, n_out, 4)
    expected = np_stack(params, x, [1, 2, 1, 2], "layer", resample=(kind, stride, where))
    np.testing.assert_allclose(y, expected, rtol=1e-10, atol=1e-10)


def test_stack_parameter_gradients_float64():
    stack = nn.DilatedConvStack(ch=3, layers_per_stack=2, stacks=1, norm_type="layer",
                                conditional=True, seed=2)  # fmt: skip
    x, z = _rng.standard_normal((2, 6, 2)), _rng.standard_normal((2, 4))
    stack((x, z))
    params = _f64(stack.parameters())
    check_grads(lambda p, xx: stack.apply(p, (xx, z)), params, x, argnums=(0, 1))
    for kind in ("upsample", "downsample"):
        stack = nn.DilatedConvStack(ch=3, layers_per_stack=1, stacks=2, norm_type="instance",
                                    resample_type=kind, resample_stride=2, seed=4)  # fmt: skip
        stack(x)
        check_grads(stack.apply, _f64(stack.parameters()), x, argnums=(0, 1))


def test_stack_bad_options():
    with pytest.raises(ValueError, match="resample_type"):
        nn.DilatedConvStack(resample_type="sideways")
    with pytest.raises(ValueError, match="dilation"):
        nn.DilatedConvStack(dilation=0)
    with pytest.raises(ValueError, match="norm_type"):
        nn.DilatedConvStack(norm_type="batch")
    stack = nn.DilatedConvStack(ch=2, layers_per_stack=1, stacks=1, conditional=True)
    with pytest.raises(ValueError, match="pair"):
        stack(np.zeros((1, 4, 2)))


def test_gin_builds_the_stack_under_ddsps_names():
    gin = pytest.importorskip("gin")
    gin.clear_config()

    @gin.configurable("test_conv_holder")
    def holder(net=None, norm=None):
        return net, norm

    try:
        gin.parse_config(
            "import ddsp_ref\n"
            "DilatedConvStack.ch = 5\n"
            "DilatedConvStack.layers_per_stack = 1\n"
            "ConditionalNorm.norm_type = 'layer'\n"
            "test_conv_holder.net = @nn.DilatedConvStack()\n"
            "test_conv_holder.norm = @nn.ConditionalNorm()\n"
        )
        net, norm = holder()
    finally:
        gin.clear_config()
    assert isinstance(net, nn.DilatedConvStack) and net.ch == 5 and net.dilations == [1, 1]
    assert isinstance(norm, nn.ConditionalNorm) and norm.norm_type == "layer"


# -- golden cases recorded from ddsp 3.7.0 (tests/training/record_conv_golden.py) ----------------
GOLDEN = Path(__file__).parent / "golden_conv_3_7_0.npz"


def _subtree(arrays: dict, prefix: str) -> dict:
    out: dict = {}
    for key, value in arrays.items():
        if key.startswith(prefix + "/"):
            node, *parts = out, *key[len(prefix) + 1 :].split("/")
            for part in parts[:-1]:
                node = node.setdefault(part, {})
            node[parts[-1]] = value
    return out


def _rel_l2(ours, ref, floor: float = 0.0) -> float:
    """``||ours - ref|| / max(||ref||, floor)``."""
    ours, ref = np.asarray(ours, np.float64), np.asarray(ref, np.float64)
    assert ours.shape == ref.shape, (ours.shape, ref.shape)
    return float(np.linalg.norm(ours - ref) / max(np.linalg.norm(ref), floor))


def check_golden(name: str, build, call, out_tol=1e-5, grad_tol=1e-4) -> None:
    """Replay one recorded case: ``build(spec)`` makes our layer, ``call(layer, params,
    features)`` returns its outputs dict (``params=None``: stored parameters). Outputs and the
    gradients of ``sum(out * cot)`` (parameters and recorded inputs) are compared by relative
    L2 error with TF's; a gradient that is zero in exact arithmetic (a bias followed by an
    instance norm) is float32 noise in both, so each is measured against at least 1e-3 of the
    case's whole gradient norm."""
    with np.load(GOLDEN) as data:
        spec = json.loads(str(data["spec"]))[name]
        arrays = {k[len(name) + 1 :]: data[k] for k in data.files if k.startswith(name + "/")}
    inputs = {k: v for k, v in arrays.items() if "/" not in k}
    params, outs = _subtree(arrays, "params"), _subtree(arrays, "out")
    cots, grads = _subtree(arrays, "cot"), _subtree(arrays, "grad")
    layer = build(spec)
    call(layer, None, inputs)  # builds the lazily sized layers
    assert sorted(flatten_dict(layer.parameters())) == sorted(flatten_dict(params))
    out = call(layer, params, inputs)
    assert sorted(out) == sorted(outs)
    for key in outs:
        assert _rel_l2(out[key], outs[key]) < out_tol, (name, key)
    names = sorted(k for k in grads if k != "params")

    def loss(p, *xs):
        o = call(layer, p, dict(inputs, **dict(zip(names, xs))))
        return sum(aops.sum(o[k] * cots[k]) for k in cots)

    got = ddsp_ref.grad(loss, tuple(range(1 + len(names))))(params, *[inputs[n] for n in names])
    ref_flat, got_flat = flatten_dict(grads["params"]), flatten_dict(got[0])
    floor = 1e-3 * np.sqrt(sum(np.sum(np.square(g, dtype=np.float64)) for g in ref_flat.values()))
    for key, ref in ref_flat.items():
        assert _rel_l2(got_flat[key], ref, floor) < grad_tol, (name, key)
    for n, g in zip(names, got[1:]):
        assert _rel_l2(g, grads[n], floor) < grad_tol, (name, n)


@pytest.mark.parametrize("case", [f"stack{i}" for i in range(9)])
def test_stack_matches_ddsp_golden(case):
    def build(spec):
        return nn.DilatedConvStack(**spec, seed=0)

    def call(layer, params, f):
        inputs = (f["x"], f["z"]) if layer.conditional else f["x"]
        return {"y": layer(inputs) if params is None else layer.apply(params, inputs)}

    check_golden(case, build, call)
