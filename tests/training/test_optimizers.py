"""Adam, ExponentialDecay and clip_by_global_norm against keras' / TF's formulas written out in
float64 numpy here."""

import copy
import math

import numpy as np
import pytest

from ddsp_ref.autodiff import ops, value_and_grad
from ddsp_ref.backend import to_numpy
from ddsp_ref.training.optimizers import Adam, ExponentialDecay, clip_by_global_norm

B1, B2, EPS = 0.9, 0.999, 1e-7


def _tree(dtype, seed=0):
    rng = np.random.default_rng(seed)
    return {
        "dense": {"kernel": rng.normal(size=(3, 2)).astype(dtype)},
        "bias": rng.normal(size=(4,)).astype(dtype),
    }


def _grads(dtype, n=3):
    """n gradient trees; the bias gradients are ~1e-7, where epsilon's placement matters."""
    out = []
    for i in range(n):
        g = _tree(dtype, seed=10 + i)
        g["bias"] = (g["bias"] * 1e-7).astype(dtype)
        out.append(g)
    return out


def _keras_adam(params, grads, lrs):
    """keras' Adam by hand in float64: lr_t = lr sqrt(1 - b2^t) / (1 - b1^t),
    p -= lr_t m / (sqrt(v) + eps)."""
    p = {k: np.float64(v) for k, v in _flat(params).items()}
    m = {k: np.zeros_like(v) for k, v in p.items()}
    v = {k: np.zeros_like(x) for k, x in p.items()}
    for t, (g_tree, lr) in enumerate(zip(grads, lrs), start=1):
        lr_t = lr * math.sqrt(1 - B2**t) / (1 - B1**t)
        for k, g in _flat(g_tree).items():
            g = np.asarray(g, np.float64)
            m[k] = B1 * m[k] + (1 - B1) * g
            v[k] = B2 * v[k] + (1 - B2) * g * g
            p[k] = p[k] - lr_t * m[k] / (np.sqrt(v[k]) + EPS)
    return p, m, v


def _flat(tree):
    return {"kernel": tree["dense"]["kernel"], "bias": tree["bias"]}


def _run(opt, params, grads):
    state = opt.init(params)
    for g in grads:
        params, state = opt.update(params, g, state)
    return params, state


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("schedule", [False, True])
def test_adam_three_steps_match_keras_formulas(dtype, schedule):
    params, grads = _tree(dtype), _grads(dtype)
    if schedule:
        opt = Adam(ExponentialDecay(0.1, decay_steps=2, decay_rate=0.5))
        lrs = [0.1 * 0.5 ** (s / 2) for s in range(3)]
    else:
        opt, lrs = Adam(0.1), [0.1] * 3
    new, state = _run(opt, params, grads)
    want_p, want_m, want_v = _keras_adam(params, grads, lrs)
    assert state["step"] == 3
    rtol = 1e-12 if dtype == np.float64 else 2e-5
    for k, got in _flat(new).items():
        assert got.dtype == dtype and _flat(state["m"])[k].dtype == dtype
        assert _flat(state["v"])[k].dtype == dtype
        moved = np.float64(got) - np.float64(_flat(params)[k])
        np.testing.assert_allclose(moved, want_p[k] - _flat(params)[k], rtol=rtol, atol=0)
        np.testing.assert_allclose(_flat(state["m"])[k], want_m[k], rtol=rtol, atol=0)
        np.testing.assert_allclose(_flat(state["v"])[k], want_v[k], rtol=rtol * 10, atol=0)


def test_epsilon_is_added_to_the_uncorrected_sqrt_v():
    """With gradients ~1e-7 the textbook placement (eps on sqrt of bias-corrected v) gives
    another first step; keras' is lr g / (|g| + eps / sqrt(1 - b2))."""
    p, g = {"w": np.zeros(3)}, {"w": np.array([1e-7, -3e-7, 2e-6])}
    new, _ = _run(Adam(1.0), p, [g])
    keras = -g["w"] / (np.abs(g["w"]) + EPS / math.sqrt(1 - B2))
    textbook = -g["w"] / (np.abs(g["w"]) + EPS)
    np.testing.assert_allclose(new["w"], keras, rtol=1e-12)
    assert np.all(np.abs(new["w"] - textbook) > 1e-3)


def test_adam_constant_gradient_closed_form():
    """Linear loss (constant g): m_t = g (1 - b1^t), v_t = g^2 (1 - b2^t), so step t moves
    by lr g / (|g| + eps / sqrt(1 - b2^t)) exactly."""
    g = np.array([2.0, -0.5, 1e-6, -3e-7])
    p = {"w": np.ones(4)}
    opt, state = Adam(0.01), None
    state = opt.init(p)
    for _ in range(50):
        p, state = opt.update(p, {"w": g}, state)
    t = np.arange(1, 51)[:, None]
    want = 1.0 - 0.01 * np.sum(g / (np.abs(g) + EPS / np.sqrt(1 - B2**t)), axis=0)
    np.testing.assert_allclose(p["w"], want, rtol=1e-12)


def test_adam_on_a_quadratic_through_value_and_grad():
    """f = sum h (x - c)^2 / 2: the first step is lr g / (|g| + eps / sqrt(1 - b2)) (closed
    form), and with a decaying rate Adam settles on the minimiser c."""
    h, c = np.array([1.0, 100.0, 0.01]), np.array([0.5, -2.0, 3.0])
    x = {"x": np.zeros(3)}

    def f(p):
        return ops.sum(0.5 * h * ops.square(p["x"] - c))

    opt = Adam(ExponentialDecay(0.1, decay_steps=300, decay_rate=0.1))
    state = opt.init(x)
    _, g = value_and_grad(f)(x)
    first, state1 = opt.update(x, g, state)
    g0 = -h * c
    np.testing.assert_allclose(first["x"], -0.1 * g0 / (np.abs(g0) + EPS / math.sqrt(1 - B2)))
    assert state1["step"] == 1
    for _ in range(1500):
        _, g = value_and_grad(f)(x)
        x, state = opt.update(x, g, state)
    np.testing.assert_allclose(x["x"], c, atol=2e-3)


def test_adam_is_functional_and_skips_none_gradients():
    params, g = _tree(np.float32), _grads(np.float32, 1)[0]
    g["bias"] = None
    opt = Adam()
    state = opt.init(params)
    before_p, before_s = copy.deepcopy(params), copy.deepcopy(state)
    new, new_state = opt.update(params, g, state)
    for k in ("kernel", "bias"):
        np.testing.assert_array_equal(_flat(params)[k], _flat(before_p)[k])
        np.testing.assert_array_equal(_flat(state["m"])[k], _flat(before_s["m"])[k])
    assert state["step"] == 0 and new_state["step"] == 1
    assert new["bias"] is params["bias"] and new_state["m"]["bias"] is state["m"]["bias"]
    assert not np.array_equal(new["dense"]["kernel"], params["dense"]["kernel"])


def test_adam_float64_gradients_keep_float32_parameters():
    params = _tree(np.float32)
    g = _tree(np.float64, seed=3)
    new, state = Adam().update(params, g, Adam().init(params))
    assert new["bias"].dtype == np.float32 and state["v"]["dense"]["kernel"].dtype == np.float32


@pytest.mark.parametrize(
    "kwargs",
    [
        {"learning_rate": 0.0},
        {"learning_rate": -1},
        {"beta_1": 1.0},
        {"beta_2": -0.1},
        {"epsilon": 0},
        {"learning_rate": float("nan")},
    ],  # fmt: skip
)
def test_adam_rejects_bad_hyperparameters(kwargs):
    with pytest.raises(ValueError, match="Adam"):
        Adam(**kwargs)


def test_adam_rejects_mismatched_trees_and_complex_params():
    params = _tree(np.float64)
    opt = Adam()
    with pytest.raises(ValueError, match="grads"):
        opt.update(params, {"bias": params["bias"]}, opt.init(params))
    with pytest.raises(TypeError, match="Adam.init"):
        opt.init({"w": np.ones(2, complex)})


# -- ExponentialDecay ------------------------------------------------------------------------
@pytest.mark.parametrize("step", [0, 5000, 10000, 20000])
def test_exponential_decay_defaults(step):
    want = {0: 3e-4, 5000: 3e-4 * math.sqrt(0.98), 10000: 3e-4 * 0.98, 20000: 3e-4 * 0.98**2}
    got = ExponentialDecay(3e-4)(step)
    assert isinstance(got, float)
    assert got == pytest.approx(want[step], rel=1e-14)


def test_exponential_decay_staircase_and_array_steps():
    sched = ExponentialDecay(1.0, decay_steps=10, decay_rate=0.5, staircase=True)
    assert [sched(s) for s in (0, 9, 10, 19, 25)] == [1.0, 1.0, 0.5, 0.5, 0.25]
    assert ExponentialDecay(2.0, 4, 0.25)(np.int64(2)) == pytest.approx(1.0, rel=1e-15)


@pytest.mark.parametrize("kwargs", [{"decay_steps": 0}, {"decay_rate": 0}, {"decay_rate": -1}])
def test_exponential_decay_rejects_bad_arguments(kwargs):
    with pytest.raises(ValueError, match="ExponentialDecay"):
        ExponentialDecay(0.1, **kwargs)


# -- clip_by_global_norm ---------------------------------------------------------------------
def _norm_tree(dtype=np.float64):
    # global norm sqrt(9 + 16 + 144) = 13
    return {"a": np.array([3.0, 4.0], dtype), "b": {"c": np.array([[12.0]], dtype)}}


@pytest.mark.parametrize("clip_norm", [20.0, 13.0, 6.5, 1.0])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_clip_by_global_norm_above_at_and_below(clip_norm, dtype):
    grads = _norm_tree(dtype)
    clipped, norm = clip_by_global_norm(grads, clip_norm)
    leaves = [grads["a"], grads["b"]["c"]]
    want_norm = np.sqrt(sum(np.sum(np.float64(x) ** 2) for x in leaves))
    assert float(norm) == pytest.approx(want_norm, rel=1e-6) and want_norm == 13.0
    scale = clip_norm / max(want_norm, clip_norm)
    for got, x in zip([clipped["a"], clipped["b"]["c"]], leaves):
        assert got.dtype == dtype
        np.testing.assert_allclose(got, np.float64(x) * scale, rtol=1e-6, atol=0)
        if clip_norm >= 13.0:
            np.testing.assert_array_equal(got, x)  # not clipped: bit for bit unchanged
    new_norm = np.sqrt(sum(np.sum(np.float64(x) ** 2) for x in (clipped["a"], clipped["b"]["c"])))
    assert new_norm == pytest.approx(min(13.0, clip_norm), rel=1e-6)


def test_clip_by_global_norm_zero_nonfinite_none_and_empty():
    zeros = {"a": np.zeros(3), "b": np.zeros((2, 2))}
    clipped, norm = clip_by_global_norm(zeros, 3.0)
    assert float(norm) == 0.0 and all(
        np.all(v == 0) and np.isfinite(v).all() for v in clipped.values()
    )
    bad, norm = clip_by_global_norm({"a": np.array([1.0, np.inf]), "b": np.ones(2)}, 3.0)
    assert np.isinf(norm) and np.isnan(bad["a"]).all() and np.isnan(bad["b"]).all()
    clipped, norm = clip_by_global_norm({"a": np.array([6.0, 8.0]), "b": None}, 5.0)
    np.testing.assert_allclose(clipped["a"], [3.0, 4.0])
    assert clipped["b"] is None and float(norm) == 10.0
    assert clip_by_global_norm({}, 1.0) == ({}, 0.0)
    with pytest.raises(ValueError, match="clip_norm"):
        clip_by_global_norm(zeros, 0.0)


# -- array backends --------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_adam_and_clipping_on_each_backend(xp, dtype):
    """Same numbers on the device as the float64 keras formulas; arrays stay on it, in dtype."""
    params, grads = _tree(dtype), _grads(dtype)
    on = {
        "dense": {"kernel": xp.asarray(params["dense"]["kernel"])},
        "bias": xp.asarray(params["bias"]),
    }
    opt, state = Adam(0.1), None
    state = opt.init(on)
    for g in grads:
        g_on = {
            "dense": {"kernel": xp.asarray(g["dense"]["kernel"])},
            "bias": xp.asarray(g["bias"]),
        }
        g_on, _ = clip_by_global_norm(g_on, 1e9)
        on, state = opt.update(on, g_on, state)
    want_p = _keras_adam(params, grads, [0.1] * 3)[0]
    for k, got in _flat(on).items():
        assert type(got) is type(on["bias"]) and got.dtype == dtype
        assert state["m"]["bias"].dtype == dtype
        moved = np.float64(to_numpy(got)) - np.float64(_flat(params)[k])
        rtol = 1e-12 if dtype == np.float64 else 2e-5
        np.testing.assert_allclose(moved, want_p[k] - _flat(params)[k], rtol=rtol, atol=0)
    clipped, norm = clip_by_global_norm({"a": xp.asarray(np.array([6.0, 8.0], dtype))}, 5.0)
    np.testing.assert_allclose(to_numpy(clipped["a"]), [3.0, 4.0], rtol=1e-6)
    assert float(norm) == pytest.approx(10.0) and clipped["a"].dtype == dtype


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_adam_on_scalar_parameters(dtype):
    p, g = {"s": np.array(2.0, dtype)}, {"s": np.array(-0.5, dtype)}
    opt = Adam(0.1)
    new, state = opt.update(p, g, opt.init(p))
    assert np.shape(new["s"]) == () and new["s"].dtype == dtype and state["v"]["s"].dtype == dtype
    want = 2.0 + 0.1 * 0.5 / (0.5 + EPS / math.sqrt(1 - B2))
    assert float(new["s"]) == pytest.approx(want, rel=1e-6 if dtype == np.float32 else 1e-14)
