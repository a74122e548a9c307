"""ddsp_ref.training.nn against direct numpy formulas written here, keras' initialiser
properties, float64 gradient checks on every subset of (inputs, parameters), and Module
behaviour (apply, seeds, lazy build)."""

from __future__ import annotations

import numpy as np
import pytest

from ddsp_ref.autodiff import check_grads, ops, tree_flatten, tree_map, value_and_grad
from ddsp_ref.autodiff.fused.rnn import gru_sequence, lstm_sequence
from ddsp_ref.training import nn

DTYPES = [np.float32, np.float64]
TOL = {np.float32: 2e-5, np.float64: 1e-12}
SUBSETS = [(0,), (1,), (0, 1)]  # parameters alone, inputs alone, both


def _x(shape, dtype=np.float64, seed=0, scale=1.0):
    return (scale * np.random.default_rng(seed).standard_normal(shape)).astype(dtype)


def _randomize(params, seed=5):
    """Parameters with every leaf replaced by noise (so bias / gamma / beta are exercised)."""
    leaves, rebuild = tree_flatten(params)
    rng = np.random.default_rng(seed)
    return rebuild([np.asarray(rng.standard_normal(p.shape), p.dtype) for p in leaves])


def _f64(params):
    return tree_map(lambda p: np.asarray(p, np.float64), params)


# -- numpy references ------------------------------------------------------------------------
def np_layer_norm(x, gamma, beta, eps=1e-3):
    mu = x.mean(axis=-1, keepdims=True)
    var = ((x - mu) ** 2).mean(axis=-1, keepdims=True)
    return gamma * (x - mu) / np.sqrt(var + eps) + beta


def np_leaky(x, alpha=0.2):
    return np.where(x > 0, x, alpha * x)


def np_normalize(x, norm_type, eps=1e-5):
    """[B, T, C]: statistics per example over time and the channels of each group (loop)."""
    ch = x.shape[-1]
    size = {"layer": ch, "instance": 1, "group": ch // 32}[norm_type]
    out = np.empty_like(x)
    for b in range(x.shape[0]):
        for start in range(0, ch, size):
            block = x[b, :, start : start + size]
            out[b, :, start : start + size] = (block - block.mean()) / np.sqrt(block.var() + eps)
    return out


def np_sigmoid(x):
    return 1 / (1 + np.exp(-x))


def np_gru(x, w, u, bias, h):
    """keras GRU(reset_after=True), gates (z, r, n), one step at a time."""
    units, out = u.shape[0], []
    for t in range(x.shape[1]):
        xg, hg = x[:, t] @ w + bias[0], h @ u + bias[1]
        z = np_sigmoid(xg[:, :units] + hg[:, :units])
        r = np_sigmoid(xg[:, units : 2 * units] + hg[:, units : 2 * units])
        n = np.tanh(xg[:, 2 * units :] + r * hg[:, 2 * units :])
        h = z * h + (1 - z) * n
        out.append(h)
    return np.stack(out, 1), h


def np_lstm(x, w, u, bias, h, c):
    """keras LSTM, gates (i, f, c, o)."""
    units, out = u.shape[0], []
    for t in range(x.shape[1]):
        p = x[:, t] @ w + h @ u + bias
        i, f, g, o = (p[:, k * units : (k + 1) * units] for k in range(4))
        c = np_sigmoid(f) * c + np_sigmoid(i) * np.tanh(g)
        h = np_sigmoid(o) * np.tanh(c)
        out.append(h)
    return np.stack(out, 1), h, c


# -- forward parity --------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(3, 7), (2, 5, 7), (1, 1, 7), (2, 3, 4, 7)])
def test_dense_matches_numpy(dtype, shape):
    layer = nn.Dense(4, activation="tanh", seed=0)
    x = _x(shape, dtype)
    y = layer(x)
    p = _f64(layer.parameters())
    want = np.tanh(x.astype(np.float64) @ p["kernel"] + p["bias"])
    assert y.dtype == dtype and y.shape == shape[:-1] + (4,)
    np.testing.assert_allclose(y, want, rtol=TOL[dtype], atol=TOL[dtype])


def test_dense_without_bias_and_input_size():
    layer = nn.Dense(3, use_bias=False, seed=1, input_size=5)
    assert set(layer.parameters()) == {"kernel"} and layer.parameters()["kernel"].shape == (5, 3)
    x = _x((2, 5))
    np.testing.assert_allclose(layer(x), x @ layer.parameters()["kernel"], rtol=1e-12)
    with pytest.raises(ValueError, match="5 entries on the last axis"):
        layer(_x((2, 6)))


@pytest.mark.parametrize("dtype", DTYPES)
def test_layer_normalization_matches_numpy(dtype):
    layer = nn.LayerNormalization()
    x = _x((2, 6, 5), dtype, scale=3.0) + 2.0
    layer(x)  # build
    params = _randomize(layer.parameters())
    y = layer.apply(params, x)
    p = _f64(params)
    want = np_layer_norm(x.astype(np.float64), p["gamma"], p["beta"])
    assert y.dtype == dtype
    np.testing.assert_allclose(y, want, rtol=10 * TOL[dtype], atol=10 * TOL[dtype])


def test_layer_normalization_defaults_and_silence():
    layer = nn.LayerNormalization(input_size=4)
    p = layer.parameters()
    np.testing.assert_array_equal(p["gamma"], np.ones(4, np.float32))
    np.testing.assert_array_equal(p["beta"], np.zeros(4, np.float32))
    np.testing.assert_array_equal(layer(np.zeros((2, 3, 4), np.float32)), 0.0)
    # eps 1e-3 (keras), not 1e-5: a constant +-0.01 row normalises to 0.01 / sqrt(1e-4 + 1e-3).
    row = np.array([[0.01, -0.01, 0.01, -0.01]])
    np.testing.assert_allclose(layer(row), row / np.sqrt(1e-4 + 1e-3), rtol=1e-12)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("norm_type,channels", [("layer", 5), ("instance", 5), ("group", 64)])
def test_normalize_op_matches_numpy(dtype, norm_type, channels):
    x = _x((2, 6, channels), dtype, scale=2.0) + 1.0
    y = nn.normalize_op(x, norm_type)
    assert y.dtype == dtype and y.shape == x.shape
    want = np_normalize(x.astype(np.float64), norm_type)
    np.testing.assert_allclose(y, want, rtol=10 * TOL[dtype], atol=10 * TOL[dtype])


def test_normalize_op_layouts_agree():
    """[B, C] is ddsp's [B, 1, 1, C]; [B, T, C] is [B, T, 1, C]."""
    x3 = _x((2, 6, 5))
    y4 = nn.normalize_op(x3[:, :, None, :], "instance")
    np.testing.assert_allclose(nn.normalize_op(x3, "instance"), y4[:, :, 0], rtol=1e-12)
    x2 = _x((3, 8))
    want = (x2 - x2.mean(1, keepdims=True)) / np.sqrt(x2.var(1, keepdims=True) + 1e-5)
    np.testing.assert_allclose(nn.normalize_op(x2, "layer"), want, rtol=1e-12)


def test_normalize_one_frame_instance_is_zero():
    # One time step: each channel's mean is the value itself, so 'instance' gives 0 exactly.
    np.testing.assert_array_equal(nn.normalize_op(_x((2, 1, 3)), "instance"), 0.0)


@pytest.mark.parametrize("dtype", DTYPES)
def test_normalize_none_is_scale_and_shift_only(dtype):
    """ddsp: normalize_op(x, None) returns x; Normalize(None) only scales and shifts."""
    x = _x((2, 4, 3), dtype)
    np.testing.assert_array_equal(nn.normalize_op(x, None), x)
    layer = nn.Normalize(None)
    layer(x)  # builds scale and shift for 3 channels
    params = _randomize(layer.parameters())
    y = layer.apply(params, x)
    assert y.dtype == dtype
    np.testing.assert_allclose(y, x * params["scale"] + params["shift"], rtol=TOL[dtype])
    with pytest.raises(ValueError, match="x must"):
        nn.normalize_op(np.ones(3, dtype), None)


def test_normalize_bad_input():
    with pytest.raises(ValueError, match="divisible by 32"):
        nn.normalize_op(_x((2, 4, 48)), "group")
    with pytest.raises(ValueError, match="norm_type"):
        nn.normalize_op(_x((2, 4, 8)), "batch")
    with pytest.raises(ValueError, match="norm_type"):
        nn.Normalize("batch")
    with pytest.raises(ValueError, match="divisible by 32"):
        nn.Normalize("group")(_x((2, 4, 16)))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("norm_type,channels", [("layer", 5), ("instance", 3), ("group", 32)])
def test_normalize_layer_matches_numpy(dtype, norm_type, channels):
    layer = nn.Normalize(norm_type)
    x = _x((2, 4, channels), dtype)
    np.testing.assert_allclose(layer(x), np_normalize(x.astype(np.float64), norm_type),
                               rtol=10 * TOL[dtype], atol=10 * TOL[dtype])  # fmt: skip
    params = _randomize(layer.parameters())
    p = _f64(params)
    want = np_normalize(x.astype(np.float64), norm_type) * p["scale"] + p["shift"]
    y = layer.apply(params, x)
    assert y.dtype == dtype and params["scale"].shape == (channels,)
    np.testing.assert_allclose(y, want, rtol=10 * TOL[dtype], atol=10 * TOL[dtype])


NP_ACTIVATIONS = {
    "linear": lambda x: x,
    "relu": lambda x: np.maximum(x, 0),
    "relu6": lambda x: np.minimum(np.maximum(x, 0), 6),
    "leaky_relu": np_leaky,
    "elu": lambda x: np.where(x > 0, x, np.expm1(np.minimum(x, 0))),
    "selu": lambda x: (
        1.0507009873554805 * np.where(x > 0, x, 1.6732632423543772 * np.expm1(np.minimum(x, 0)))
    ),
    "sigmoid": np_sigmoid,
    "tanh": np.tanh,
    "softplus": lambda x: np.logaddexp(0, x),
    "softsign": lambda x: x / (1 + np.abs(x)),
    "swish": lambda x: x * np_sigmoid(x),
    "silu": lambda x: x * np_sigmoid(x),
    "exponential": np.exp,
}


def test_every_nonlinearity_has_a_reference():
    assert set(NP_ACTIVATIONS) == set(nn.NONLINEARITIES)


@pytest.mark.parametrize("name", sorted(NP_ACTIVATIONS))
@pytest.mark.parametrize("dtype", DTYPES)
def test_nonlinearity_matches_numpy(name, dtype):
    x = np.concatenate([np.linspace(-8, 8, 33), [-1e-3, 1e-3, 7.5, -60.0]]).astype(dtype)
    if name == "exponential":
        x = x[x < 10]
    y = nn.get_nonlinearity(name)(x)
    assert y.dtype == dtype
    np.testing.assert_allclose(y, NP_ACTIVATIONS[name](x.astype(np.float64)),
                               rtol=4 * TOL[dtype], atol=4 * TOL[dtype])  # fmt: skip


@pytest.mark.parametrize("name", sorted(NP_ACTIVATIONS))
def test_nonlinearity_gradients(name):
    # Away from the kinks at 0 and 6 so that central differences are valid.
    x = np.array([-3.3, -1.2, -0.4, 0.3, 0.9, 2.1, 5.1, 7.2])
    check_grads(nn.get_nonlinearity(name), x)


def test_get_nonlinearity_names_and_errors():
    assert nn.get_nonlinearity(None)(3.0) == 3.0
    fn = np.sin
    assert nn.get_nonlinearity(fn) is fn
    with pytest.raises(ValueError, match="leaky_relu") as err:
        nn.get_nonlinearity("gelu_fast")
    assert "tanh" in str(err.value) and "gelu_fast" in str(err.value)


@pytest.mark.parametrize("dtype", DTYPES)
def test_fc_and_fc_stack_match_numpy(dtype):
    x = _x((2, 5, 6), dtype)
    stack = nn.FcStack(ch=8, layers=3, seed=3)
    stack(x)
    params = _randomize(stack.parameters())
    want = x.astype(np.float64)
    for i in range(3):
        p = _f64(params[f"fc_{i}"])
        dense = want @ p["dense"]["kernel"] + p["dense"]["bias"]
        want = np_leaky(np_layer_norm(dense, p["layer_norm"]["gamma"], p["layer_norm"]["beta"]))
    y = stack.apply(params, x)
    assert y.dtype == dtype and y.shape == (2, 5, 8)
    np.testing.assert_allclose(y, want, rtol=100 * TOL[dtype], atol=100 * TOL[dtype])


def test_fc_nonlinearity_and_defaults():
    fc = nn.Fc(seed=0, nonlinearity="sigmoid")
    x = _x((3, 10))
    y = fc(x)
    p = _f64(fc.parameters())
    assert p["dense"]["kernel"].shape == (10, 128)  # ddsp's default ch=128
    want = np_sigmoid(np_layer_norm(x @ p["dense"]["kernel"], 1.0, 0.0))
    np.testing.assert_allclose(y, want, rtol=1e-10, atol=1e-12)
    assert nn.FcStack(seed=0)(x).shape == (3, 256)  # ch=256, layers=2
    assert len(nn.FcStack(seed=0).children()) == 2


def test_split_to_dict():
    x = _x((2, 3, 7))
    out = nn.split_to_dict(x, (("amps", 1), ("harmonic_distribution", 4), ("noise", 2)))
    assert list(out) == ["amps", "harmonic_distribution", "noise"]
    np.testing.assert_array_equal(out["amps"], x[..., :1])
    np.testing.assert_array_equal(out["harmonic_distribution"], x[..., 1:5])
    np.testing.assert_array_equal(out["noise"], x[..., 5:])
    with pytest.raises(ValueError, match="add up to 6"):
        nn.split_to_dict(x, (("a", 2), ("b", 4)))
    # The pieces are differentiable: d/dx sum(2 * a) + sum(b^2).
    _, g = value_and_grad(
        lambda t: (
            ops.sum(2 * nn.split_to_dict(t, [("a", 3), ("b", 4)])["a"])
            + ops.sum(ops.square(nn.split_to_dict(t, [("a", 3), ("b", 4)])["b"]))
        )
    )(x)
    np.testing.assert_allclose(g, np.concatenate([np.full((2, 3, 3), 2.0), 2 * x[..., 3:]], -1))


# -- initialisers ----------------------------------------------------------------------------
def test_glorot_uniform_bounds_and_variance():
    fan_in, fan_out = 300, 500
    w = nn.Dense(fan_out, seed=0, input_size=fan_in).parameters()["kernel"]
    limit = np.sqrt(6 / (fan_in + fan_out))
    assert w.dtype == np.float32 and np.abs(w).max() <= limit
    assert np.abs(w).max() > 0.99 * limit  # fills the interval, not a narrower one
    # Uniform(-l, l) has variance l^2 / 3 = 2 / (fan_in + fan_out); 150000 draws: ~0.4% error.
    np.testing.assert_allclose(w.var(), 2 / (fan_in + fan_out), rtol=0.02)
    assert abs(w.mean()) < 0.01 * limit


@pytest.mark.parametrize("rnn_type,gates", [("gru", 3), ("lstm", 4)])
def test_recurrent_initialisers(rnn_type, gates):
    layer = nn.Rnn(16, rnn_type, seed=4, input_size=10)
    p = layer.parameters()
    u = p["recurrent_kernel"].astype(np.float64)
    # keras Orthogonal on the whole [units, G * units] matrix: its rows are orthonormal ...
    assert u.shape == (16, gates * 16)
    np.testing.assert_allclose(u @ u.T, np.eye(16), atol=1e-6)
    # ... and no gate block [units, units] is orthogonal by itself.
    block = u[:, :16]
    assert np.abs(block.T @ block - np.eye(16)).max() > 0.1
    limit = np.sqrt(6 / (10 + gates * 16))
    assert p["kernel"].shape == (10, gates * 16) and np.abs(p["kernel"]).max() <= limit
    if rnn_type == "gru":
        np.testing.assert_array_equal(p["bias"], np.zeros((2, 48), np.float32))
    else:  # unit_forget_bias: (i, f, c, o) blocks are 0, 1, 0, 0
        want = np.concatenate([np.zeros(16), np.ones(16), np.zeros(32)]).astype(np.float32)
        np.testing.assert_array_equal(p["bias"], want)


def test_orthogonal_tall_and_square():
    rng = np.random.default_rng(0)
    tall = nn.orthogonal(rng, (12, 5)).astype(np.float64)
    np.testing.assert_allclose(tall.T @ tall, np.eye(5), atol=1e-6)
    square = nn.orthogonal(rng, (6, 6)).astype(np.float64)
    np.testing.assert_allclose(square @ square.T, np.eye(6), atol=1e-6)
    np.testing.assert_allclose(square.T @ square, np.eye(6), atol=1e-6)


def test_orthogonal_is_haar_not_biased():
    """keras folds sign(diag(R)) into Q; without it the diagonal of Q leans negative/positive.
    Over many 2x2 draws the mean of Q[0, 0] must be ~0 (Haar measure)."""
    rng = np.random.default_rng(1)
    q00 = np.array([nn.orthogonal(rng, (2, 2))[0, 0] for _ in range(4000)])
    assert abs(q00.mean()) < 0.05


# -- seeds, apply, lazy build ----------------------------------------------------------------
def _layers():
    return {
        "dense": lambda s: nn.Dense(4, activation="relu", seed=s),
        "layer_norm": lambda s: nn.LayerNormalization(),
        "normalize": lambda s: nn.Normalize("instance"),
        "fc": lambda s: nn.Fc(6, seed=s),
        "fc_stack": lambda s: nn.FcStack(5, 2, seed=s),
        "gru": lambda s: nn.Rnn(4, "gru", seed=s),
        "lstm": lambda s: nn.Rnn(4, "lstm", seed=s),
        "gru_last": lambda s: nn.Rnn(4, "gru", return_sequences=False, seed=s),
        "lstm_last": lambda s: nn.Rnn(3, "lstm", return_sequences=False, seed=s),
        "gru_bidir": lambda s: nn.Rnn(3, "gru", bidir=True, seed=s),
        "lstm_bidir_last": lambda s: nn.Rnn(2, "lstm", return_sequences=False, bidir=True, seed=s),
        "fc_stack_out": lambda s: nn.FcStackOut(4, 2, 3, seed=s),
        "rnn_sandwich": lambda s: nn.RnnSandwich(4, 1, 3, "lstm", seed=s),
        "single_gru": lambda s: nn.SingleGru(3, seed=s),
    }


SEEDED = ["dense", "fc", "fc_stack", "gru", "lstm", "gru_bidir", "fc_stack_out", "rnn_sandwich"]


@pytest.mark.parametrize("kind", SEEDED)
def test_seeds_reproduce(kind):
    make = _layers()[kind]
    x = _x((2, 5, 3))
    a, b, c = make(7), make(7), make(8)
    for layer in (a, b, c):
        layer(x)
    same = zip(tree_flatten(a.parameters())[0], tree_flatten(b.parameters())[0])
    assert all(np.array_equal(p, q) for p, q in same)
    np.testing.assert_array_equal(a(x), b(x))
    assert not np.allclose(a(x), c(x))


@pytest.mark.parametrize("kind", sorted(_layers()))
def test_apply_is_functional(kind):
    layer = _layers()[kind](0)
    x = _x((2, 5, 3))
    before = layer(x)
    stored = tree_map(np.copy, layer.parameters())
    other = _randomize(layer.parameters(), seed=11)
    changed = layer.apply(other, x)
    assert not np.allclose(changed, before)
    # The stored parameters are untouched and the plain call is unchanged ...
    for p, q in zip(tree_flatten(layer.parameters())[0], tree_flatten(stored)[0]):
        np.testing.assert_array_equal(p, q)
    np.testing.assert_array_equal(layer(x), before)
    # ... and set_parameters makes the plain call give what apply gave.
    layer.set_parameters(other)
    np.testing.assert_allclose(layer(x), changed, rtol=1e-12)


def test_unbuilt_layer_has_no_parameters_until_called():
    layer = nn.Dense(3)
    assert layer.parameters() == {} and not layer.built
    layer(_x((2, 4)))
    assert layer.built and layer.parameters()["kernel"].shape == (4, 3)


def test_training_step_lowers_the_loss():
    """value_and_grad over the parameter dict is the whole training step."""
    x = _x((4, 6, 3), seed=1)
    target = np.sin(x.sum(-1, keepdims=True))
    stack, head = nn.FcStack(16, 2, seed=0), nn.Dense(1, seed=1)
    params = {"stack": _f64(_build(stack, x)), "head": _f64(_build(head, stack(x)))}

    def loss(p):
        return ops.mean(ops.square(head.apply(p["head"], stack.apply(p["stack"], x)) - target))

    first = None
    for _ in range(60):
        value, g = value_and_grad(loss)(params)
        first = float(value) if first is None else first
        params = tree_map(lambda p, d: p - 0.05 * d, params, g)
    assert float(loss(params)) < 0.5 * first


def _build(layer, x):
    layer(x)
    return layer.parameters()


# -- gradients -------------------------------------------------------------------------------
@pytest.mark.parametrize("argnums", SUBSETS)
@pytest.mark.parametrize("kind", sorted(_layers()))
def test_layer_gradients(kind, argnums):
    layer = _layers()[kind](0)
    x = _x((2, 4, 3), scale=0.7)
    layer(x)
    params = _randomize(layer.parameters(), seed=3)
    if "gru" in kind or "lstm" in kind or "rnn" in kind:  # keep the gates out of saturation
        params = tree_map(lambda p: 0.5 * p, params)
    check_grads(lambda p, v: layer.apply(p, v), params, x, argnums=argnums)


@pytest.mark.parametrize("argnums", SUBSETS)
@pytest.mark.parametrize("norm_type,channels", [("layer", 5), ("instance", 3), ("group", 64)])
def test_normalize_gradients(norm_type, channels, argnums):
    layer = nn.Normalize(norm_type)
    x = _x((2, 3, channels))
    layer(x)
    params = _randomize(layer.parameters())
    check_grads(lambda p, v: layer.apply(p, v), params, x, argnums=argnums)


@pytest.mark.parametrize("norm_type", ["layer", "instance"])
def test_normalize_op_gradient_2d_and_4d(norm_type):
    check_grads(lambda v: nn.normalize_op(v, norm_type), _x((3, 4)))
    check_grads(lambda v: nn.normalize_op(v, norm_type), _x((2, 3, 2, 4)))


def test_gradients_of_a_quiet_input():
    # Far below eps the normalisations are ~linear; their gradients must stay finite and right.
    check_grads(nn.LayerNormalization(input_size=4), _x((2, 3, 4), scale=1e-6))
    check_grads(lambda v: nn.normalize_op(v, "instance"), _x((2, 3, 4), scale=1e-6))


@pytest.mark.parametrize("rnn_type", ["gru", "lstm"])
@pytest.mark.parametrize("subset", [(0,), (1,), (2,), (0, 1, 2)])
def test_stateless_rnn_gradients(rnn_type, subset):
    layer = nn.StatelessRnn(3, rnn_type, seed=2)
    x = _x((2, 4, 5), scale=0.7)
    layer(x)
    params = tree_map(lambda p: 0.5 * p, _randomize(layer.parameters()))
    state = _x((2, 3), seed=9) if rnn_type == "gru" else (_x((2, 3), seed=9), _x((2, 3), seed=8))

    def fun(p, v, s):
        y, new = layer.apply(p, v, s)
        last = new if rnn_type == "gru" else new[0] * new[1]
        return y * 1.0 + ops.expand_dims(last, 1)  # both outputs reach the loss

    check_grads(fun, params, x, state, argnums=subset)


# -- recurrent layers ------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n_steps", [1, 2, 9])
def test_gru_matches_numpy_and_the_fused_op(dtype, n_steps):
    layer = nn.Rnn(5, "gru", seed=0)
    x = _x((3, n_steps, 4), dtype)
    y = layer(x)
    p = _f64(layer.parameters())
    want, final = np_gru(x.astype(np.float64), p["kernel"], p["recurrent_kernel"], p["bias"],
                         np.zeros((3, 5)))  # fmt: skip
    assert y.dtype == dtype and y.shape == (3, n_steps, 5)
    np.testing.assert_allclose(y, want, rtol=20 * TOL[dtype], atol=20 * TOL[dtype])
    raw = layer.parameters()
    direct, _ = gru_sequence(x, raw["kernel"], raw["recurrent_kernel"], raw["bias"])
    np.testing.assert_array_equal(y, direct)
    last = nn.Rnn(5, "gru", return_sequences=False, seed=0)
    np.testing.assert_allclose(last(x), final, rtol=20 * TOL[dtype], atol=20 * TOL[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
def test_lstm_matches_numpy_and_the_fused_op(dtype):
    layer = nn.Rnn(4, "lstm", seed=1)
    x = _x((2, 6, 3), dtype)
    layer(x)
    params = _randomize(layer.parameters())
    y = layer.apply(params, x)
    p = _f64(params)
    zeros = np.zeros((2, 4))
    want, h, _ = np_lstm(x.astype(np.float64), p["kernel"], p["recurrent_kernel"], p["bias"],
                         zeros, zeros)  # fmt: skip
    assert y.dtype == dtype
    np.testing.assert_allclose(y, want, rtol=20 * TOL[dtype], atol=20 * TOL[dtype])
    direct = lstm_sequence(x, params["kernel"], params["recurrent_kernel"], params["bias"])[0]
    np.testing.assert_array_equal(y, direct)
    last = nn.Rnn(4, "lstm", return_sequences=False, seed=1)
    last(x)
    np.testing.assert_allclose(last.apply(params, x), h, rtol=20 * TOL[dtype],
                               atol=20 * TOL[dtype])  # fmt: skip


@pytest.mark.parametrize("rnn_type", ["gru", "lstm"])
@pytest.mark.parametrize("cut", [0, 1, 4, 7])
def test_stateless_rnn_in_pieces_equals_whole(rnn_type, cut):
    layer = nn.StatelessRnn(4, rnn_type, seed=3)
    x = _x((2, 7, 3))
    whole, final = layer(x)
    first, state = layer(x[:, :cut], None)
    second, final2 = layer(x[:, cut:], state)
    np.testing.assert_allclose(np.concatenate([first, second], 1), whole, rtol=1e-12)
    for a, b in zip(tree_flatten(final2)[0], tree_flatten(final)[0]):
        np.testing.assert_allclose(a, b, rtol=1e-12)


def test_stateless_rnn_state_follows_numpy():
    layer = nn.StatelessRnn(3, "lstm", seed=5)
    x, h0, c0 = _x((2, 4, 2)), _x((2, 3), seed=1), _x((2, 3), seed=2)
    y, (h, c) = layer(x, (h0, c0))
    p = _f64(layer.parameters())
    want, hw, cw = np_lstm(x, p["kernel"], p["recurrent_kernel"], p["bias"], h0, c0)
    np.testing.assert_allclose(y, want, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(c, cw, rtol=1e-10, atol=1e-12)
    # A float32 input with a float64 state runs (and returns) float32.
    y32, _ = layer(x.astype(np.float32), (h0, c0))
    assert y32.dtype == np.float32


def test_rnn_bad_arguments():
    with pytest.raises(ValueError, match="rnn_type"):
        nn.Rnn(4, "rnn")
    with pytest.raises(ValueError, match="rnn_type"):
        nn.StatelessRnn(4, "transformer")
    with pytest.raises(ValueError, match="dims"):
        nn.Rnn(0, "gru")
    with pytest.raises(ValueError, match=r"\[batch, n_steps, input_size\]"):
        nn.Rnn(4, "gru")(_x((2, 3)))
    with pytest.raises(ValueError, match="pair"):
        nn.StatelessRnn(4, "lstm")(_x((2, 3, 2)), _x((2, 4)))


def test_layers_follow_the_array_module(xp):
    """cupy input builds cupy parameters and gives cupy output (numpy: the same path)."""
    x = xp.asarray(_x((2, 5, 3), np.float32))
    for layer in (nn.FcStack(4, 2, seed=0), nn.Rnn(4, "gru", seed=0), nn.Normalize("layer")):
        y = layer(x)
        assert type(y) is type(x) and y.dtype == np.float32
        leaves = tree_flatten(layer.parameters())[0]
        assert all(type(p) is type(x) for p in leaves)


@pytest.mark.parametrize("rnn_type", ["gru", "lstm"])
@pytest.mark.parametrize("return_sequences", [True, False])
def test_bidirectional_rnn_matches_numpy(rnn_type, return_sequences):
    """keras Bidirectional(merge 'concat'): [forward, backward run on reversed time, put back]."""
    layer = nn.Rnn(3, rnn_type, return_sequences=return_sequences, bidir=True, seed=2)
    x = _x((2, 5, 4))
    y = layer(x)
    p = _f64(layer.parameters())
    zeros = np.zeros((2, 3))

    def run(q, v):
        args = (v, q["kernel"], q["recurrent_kernel"], q["bias"], zeros)
        seq = np_gru(*args)[0] if rnn_type == "gru" else np_lstm(*args, zeros)[0]
        return seq

    fwd, bwd = run(p, x), run(p["backward"], x[:, ::-1])
    assert not np.allclose(p["kernel"], p["backward"]["kernel"])  # separate weights
    if return_sequences:
        want = np.concatenate([fwd, bwd[:, ::-1]], -1)
    else:
        want = np.concatenate([fwd[:, -1], bwd[:, -1]], -1)
    np.testing.assert_allclose(y, want, rtol=1e-10, atol=1e-12)


def test_stacks_match_numpy():
    x = _x((2, 4, 3))
    out = nn.FcStackOut(5, 2, 2, seed=0)
    out(x)
    params = _randomize(out.parameters())
    h = x
    for i in range(2):
        q = params["stack"][f"fc_{i}"]
        dense = h @ q["dense"]["kernel"] + q["dense"]["bias"]
        h = np_leaky(np_layer_norm(dense, q["layer_norm"]["gamma"], q["layer_norm"]["beta"]))
    want = h @ params["dense_out"]["kernel"] + params["dense_out"]["bias"]
    np.testing.assert_allclose(out.apply(params, x), want, rtol=1e-10, atol=1e-12)

    single = nn.SingleGru(4, seed=1)
    single(x)
    params = _randomize(single.parameters())
    g = params["gru"]
    seq = np_gru(x, g["kernel"], g["recurrent_kernel"], g["bias"], np.zeros((2, 4)))[0]
    norm = params["layer_norm"]
    want = np_layer_norm(seq, norm["gamma"], norm["beta"])
    np.testing.assert_allclose(single.apply(params, x), want, rtol=1e-10, atol=1e-12)


def test_rnn_sandwich_is_its_parts_in_order():
    sandwich = nn.RnnSandwich(fc_stack_ch=6, fc_stack_layers=1, rnn_ch=4, rnn_type="gru", seed=0)
    x = _x((2, 5, 3))
    y = sandwich(x)
    assert list(sandwich.children()) == ["fc_stack_in", "rnn", "fc_stack_out"]
    inner = sandwich.rnn(sandwich.fc_stack_in(x))
    np.testing.assert_array_equal(y, sandwich.fc_stack_out(inner))
    defaults = nn.RnnSandwich(seed=0)  # ddsp's defaults: 256-wide stacks of 2, GRU(512)
    defaults(_x((1, 2, 3)))  # every layer is sized by the first input (keras)
    p = defaults.parameters()
    assert p["rnn"]["recurrent_kernel"].shape == (512, 1536)
    assert p["fc_stack_out"]["fc_1"]["dense"]["kernel"].shape == (256, 256)


# -- DictLayer / OutputSplitsLayer -----------------------------------------------------------
class _SumProd(nn.DictLayer):
    # This file uses postponed annotations, so the return annotation reaches DictLayer as
    # the string "['total', 'product']" (the string path is what is tested here).
    # ddsp writes output keys this way; the noqa keeps ruff from unquoting them.
    def call(self, a, b, c=10.0, d=100.0) -> ["total", "product"]:  # noqa: F821, UP037
        return a + b + c + d, a * b


def test_dict_layer_keys_from_the_signature():
    layer = _SumProd()
    assert layer.input_keys == ["a", "b"] and layer.default_input_keys == ["c", "d"]
    assert layer.output_keys == ["total", "product"]
    # Two dicts merged (later wins), a missing optional key takes its default, extra keys ignored.
    out = layer({"a": 1.0, "b": 5.0, "d": 0.5}, {"b": 2.0, "unused": -1.0})
    assert out == {"total": 1.0 + 2.0 + 10.0 + 0.5, "product": 2.0}
    assert layer(3.0, 4.0) == {"total": 117.0, "product": 12.0}  # arrays go straight to call
    with pytest.raises(KeyError, match="'b'"):
        layer({"a": 1.0})


def test_dict_layer_explicit_keys_nested_paths_and_errors():
    layer = _SumProd(input_keys=["x/a", "y"], output_keys=["s", "p"])
    assert layer.default_input_keys == []
    out = layer({"x": {"a": 2.0}, "y": 3.0, "c": 1000.0})  # c is not looked up any more
    assert out == {"s": 115.0, "p": 6.0}

    class Plain(nn.DictLayer):
        def call(self, a):
            return a, a

    Plain.call.__annotations__["return"] = ["one"]  # a real (not string) annotation
    with pytest.raises(ValueError, match="returned 2 outputs but the layer has 1"):
        Plain()({"a": 1.0})

    class Direct(nn.DictLayer):
        def call(self, a):
            return {"doubled": 2 * a}

    assert Direct()({"a": 4.0}) == {"doubled": 8.0}


class _Splits(nn.OutputSplitsLayer):
    def compute_output(self, f0_scaled, ld_scaled):
        return ops.concatenate([f0_scaled, ld_scaled], axis=-1)


def test_output_splits_layer_matches_numpy_and_trains():
    layer = _Splits(output_splits=(("amps", 1), ("harmonic_distribution", 3)), seed=0)
    assert layer.input_keys == ["f0_scaled", "ld_scaled"]
    f0, ld = _x((2, 5, 1)), _x((2, 5, 1), seed=1)
    out = layer({"f0_scaled": f0, "ld_scaled": ld, "audio": None})
    p = _f64(layer.parameters()["dense_out"])
    full = np.concatenate([f0, ld], -1) @ p["kernel"] + p["bias"]
    assert list(out) == ["amps", "harmonic_distribution"]
    np.testing.assert_allclose(out["amps"], full[..., :1], rtol=1e-12)
    np.testing.assert_allclose(out["harmonic_distribution"], full[..., 1:], rtol=1e-12)

    def fun(params, f, v):
        res = layer.apply(params, {"f0_scaled": f, "ld_scaled": v})
        return ops.concatenate([res["amps"] ** 2, res["harmonic_distribution"]], axis=-1)

    params = _randomize(layer.parameters())
    for argnums in [(0,), (1, 2), (0, 1, 2)]:
        check_grads(fun, params, f0, ld, argnums=argnums)
    assert _Splits(seed=0).output_keys == ["amps", "harmonic_distribution"]  # ddsp's default
    with pytest.raises(ValueError, match="size of 'amps'"):
        _Splits(output_splits=(("amps", 0),))
