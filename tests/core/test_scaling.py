"""ddsp_ref.core scaling: golden case, reference numbers, independent float64 formulas, grads."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import ddsp_ref
from ddsp_ref import core
from ddsp_ref.backend import to_numpy
from ddsp_ref.core.scaling import _add_depth_axis
from tests.golden_util import replay
from tests.strategies import arrays, shapes

LN10 = np.log(10.0)


def ref_sigmoid(x):
    return 1.0 / (1.0 + np.exp(-np.asarray(x, np.float64)))


def ref_exp_sigmoid(x, exponent=10.0, max_value=2.0, threshold=1e-7):
    return max_value * ref_sigmoid(x) ** np.log(exponent) + threshold


def ref_unit_to_hz(u, hz_min, hz_max):
    """Geometric interpolation; hz_min = 0 is MIDI 0 (8.1758 Hz), as in ddsp."""
    hz_min = hz_min if hz_min > 0 else 440.0 * 2.0 ** (-69.0 / 12.0)
    return hz_min * (hz_max / hz_min) ** np.asarray(u, np.float64)


# -- exp_sigmoid -----------------------------------------------------------------------------


def test_golden_exp_sigmoid(xp):
    replay("exp_sigmoid", xp=xp, fwd_tol=2e-7, grad_tol=6e-7)  # measured 7.5e-8; 3.3e-7


def test_exp_sigmoid_reference_numbers():
    x = np.array([0.0, -3.0, -5.0, -10.0])
    np.testing.assert_allclose(
        core.exp_sigmoid(x), [0.40539923, 1.7884e-3, 1.9793e-5, 1.0020e-7], rtol=1e-4
    )
    np.testing.assert_allclose(core.exp_sigmoid(np.float64(0.0)), 0.40539923, rtol=1e-8)
    limits = core.exp_sigmoid(np.array([-1000.0, 1000.0]))
    np.testing.assert_allclose(limits, [1e-7, 2.0 + 1e-7], rtol=1e-12)


def test_exp_sigmoid_uses_natural_log_of_exponent():
    x = np.linspace(-8.0, 8.0, 33)
    np.testing.assert_allclose(core.exp_sigmoid(x), ref_exp_sigmoid(x), rtol=1e-12)
    out = core.exp_sigmoid(x, exponent=3.0, max_value=5.0, threshold=0.25)
    np.testing.assert_allclose(out, 5.0 * ref_sigmoid(x) ** np.log(3.0) + 0.25, rtol=1e-12)
    # not sigmoid ** 10
    assert not np.allclose(core.exp_sigmoid(x), 2.0 * ref_sigmoid(x) ** 10 + 1e-7)


def test_exp_sigmoid_float32_keeps_relative_precision(xp):
    x = np.linspace(-30.0, 30.0, 121)
    out = core.exp_sigmoid(xp.asarray(x, dtype=xp.float32), threshold=0.0)
    assert out.dtype == np.float32
    # ops.sigmoid ** p would be off by orders of magnitude here; exp(-p softplus(-x)) only by
    # the float32 rounding of softplus(-x) ~ |x| times p.
    np.testing.assert_allclose(to_numpy(out), ref_exp_sigmoid(x, threshold=0.0), rtol=1e-5)


def test_exp_sigmoid_rejects_non_positive_exponent():
    with pytest.raises(ValueError, match="exponent"):
        core.exp_sigmoid(np.zeros(2), exponent=0.0)


def test_sym_exp_sigmoid():
    x = np.linspace(-6.0, 6.0, 25)
    np.testing.assert_allclose(
        core.sym_exp_sigmoid(x), ref_exp_sigmoid(8.0 * (np.abs(x) / 2.0 - 1.0)), rtol=1e-12
    )
    np.testing.assert_allclose(core.sym_exp_sigmoid(x), core.sym_exp_sigmoid(-x), rtol=1e-15)
    np.testing.assert_allclose(
        core.sym_exp_sigmoid(np.array([2.0]), width=3.0), [0.40539923], rtol=1e-7
    )


# -- depth axis ------------------------------------------------------------------------------


def test_add_depth_axis_groups_consecutive_channels():
    x = np.arange(2 * 3 * 6, dtype=np.float64).reshape(2, 3, 6)
    out = _add_depth_axis(x, 3)
    assert out.shape == (2, 3, 2, 3)
    np.testing.assert_array_equal(out[1, 2, 1], x[1, 2, 3:6])


@pytest.mark.parametrize(
    "fn", [core.frequencies_softmax, core.frequencies_sigmoid, core.frequencies_critical_bands]
)
def test_bad_shapes_raise(fn):
    with pytest.raises(ValueError, match="depth"):
        fn(np.zeros((1, 2, 5)), depth=2)
    with pytest.raises(ValueError, match="freqs"):
        fn(np.zeros((2, 5)))


def test_critical_bands_rejects_unknown_scale():
    with pytest.raises(ValueError, match="scale"):
        core.frequencies_critical_bands(np.zeros((1, 1, 2)), scale="erb")


# -- frequency scalings vs independent numpy -------------------------------------------------


def ref_frequencies_softmax(x, depth, hz_min, hz_max):
    x = x.reshape(x.shape[:2] + (-1, depth))
    p = np.exp(x - x.max(-1, keepdims=True))
    p /= p.sum(-1, keepdims=True)
    unit = (p * np.linspace(0.0, 1.0, depth)).sum(-1)
    return ref_unit_to_hz(unit, hz_min, hz_max)


@pytest.mark.parametrize("depth", [1, 2, 5])
def test_frequencies_softmax(depth, xp):
    x = np.random.default_rng(depth).normal(size=(2, 3, 4 * depth)) * 3
    out = core.frequencies_softmax(xp.asarray(x), depth=depth, hz_min=30.0, hz_max=5000.0)
    np.testing.assert_allclose(
        to_numpy(out), ref_frequencies_softmax(x, depth, 30.0, 5000.0), rtol=1e-11
    )
    four_d = core.frequencies_softmax(
        xp.asarray(x.reshape(2, 3, 4, depth)), hz_min=30.0, hz_max=5000.0
    )
    np.testing.assert_allclose(to_numpy(four_d), to_numpy(out), rtol=1e-14)


def ref_frequencies_sigmoid(x, depth, hz_min, hz_max):
    x = x.reshape(x.shape[:2] + (-1, depth))
    hz_range = hz_max - hz_min
    scale = hz_range ** (1.0 / depth)
    remainder, total = hz_range, 0.0
    for i in range(depth):
        lo, hi = (hz_min, remainder) if i == depth - 1 else (0.0, remainder * (1 - 1 / scale))
        total = total + ref_unit_to_hz(ref_sigmoid(x[..., i]), lo, hi)
        remainder -= hi
    return total


@pytest.mark.parametrize("depth,hz_min", [(1, 0.0), (2, 0.0), (3, 50.0)])
def test_frequencies_sigmoid(depth, hz_min):
    x = np.random.default_rng(depth).normal(size=(2, 3, 4 * depth)) * 3
    out = core.frequencies_sigmoid(x, depth=depth, hz_min=hz_min, hz_max=8000.0)
    np.testing.assert_allclose(out, ref_frequencies_sigmoid(x, depth, hz_min, 8000.0), rtol=1e-11)
    # depth components each have the 8.18 Hz floor (unit_to_hz with hz_min=0)
    low = core.frequencies_sigmoid(np.full((1, 1, depth), -1e3), depth=depth, hz_max=8000.0)
    np.testing.assert_allclose(low, [[[depth * 8.1757989156]]], rtol=1e-9)


def ref_critical_bands(x, depth, depth_scale, bw_scale, hz_min, hz_max, scale):
    x = x.reshape(x.shape[:2] + (-1, depth))
    if scale == "bark":
        to_x = lambda f: 26.81 / (1.0 + 1960.0 / f) - 0.53  # noqa: E731
        from_x = lambda b: 1960.0 / (26.81 / (b + 0.53) - 1.0)  # noqa: E731
    else:
        to_x = lambda f: 2595.0 * np.log10(1.0 + f / 700.0)  # noqa: E731
        from_x = lambda m: 700.0 * (10.0 ** (m / 2595.0) - 1.0)  # noqa: E731
    centres = from_x(np.linspace(to_x(hz_min), to_x(hz_max), x.shape[-2]))
    erb = 0.108 * centres + 24.7
    modifier = (np.tanh(x) * depth_scale ** -np.arange(depth)).sum(-1)
    f = centres + modifier * bw_scale * erb
    softplus = lambda v: np.logaddexp(0.0, v)  # noqa: E731
    return softplus(f) + hz_min - softplus(f - (hz_max - hz_min))


@pytest.mark.parametrize("scale", ["bark", "mel"])
@pytest.mark.parametrize("depth", [1, 3])
def test_frequencies_critical_bands(scale, depth, xp):
    x = np.random.default_rng(depth).normal(size=(2, 3, 5 * depth))
    kwargs = dict(depth_scale=4.0, bandwidth_scale=2.0, hz_min=30.0, hz_max=7000.0, scale=scale)
    out = core.frequencies_critical_bands(xp.asarray(x), depth=depth, **kwargs)
    ref = ref_critical_bands(x, depth, 4.0, 2.0, 30.0, 7000.0, scale)
    np.testing.assert_allclose(to_numpy(out), ref, rtol=1e-11)


def test_float32_in_float32_out():
    x = np.zeros((1, 2, 4), dtype=np.float32)
    for fn in (
        core.frequencies_softmax,
        core.frequencies_sigmoid,
        core.frequencies_critical_bands,
        core.exp_sigmoid,
        core.sym_exp_sigmoid,
    ):
        assert fn(x).dtype == np.float32, fn.__name__


# -- gradients -------------------------------------------------------------------------------


@given(arrays(shapes(max_dims=3, max_side=4), st.floats(-12.0, 12.0)))
def test_exp_sigmoid_gradients(x):
    ddsp_ref.check_grads(core.exp_sigmoid, x)
    ddsp_ref.check_grads(lambda v: core.exp_sigmoid(v, 3.0, 5.0, 0.5), x)


@given(arrays(shapes(max_dims=3, max_side=4), st.floats(0.05, 6.0)), st.booleans())
def test_sym_exp_sigmoid_gradients(x, negate):
    ddsp_ref.check_grads(core.sym_exp_sigmoid, -x if negate else x)  # away from the kink at 0


@st.composite
def _depth_input(draw):
    depth = draw(st.integers(1, 3))
    b, t, n = draw(st.integers(1, 2)), draw(st.integers(1, 3)), draw(st.integers(1, 3))
    x = draw(arrays((b, t, n * depth), st.floats(-4.0, 4.0)))
    return x, depth


@given(_depth_input())
def test_frequency_scaling_gradients(case):
    x, depth = case
    ddsp_ref.check_grads(lambda v: core.frequencies_softmax(v, depth=depth), x)
    ddsp_ref.check_grads(lambda v: core.frequencies_sigmoid(v, depth=depth, hz_min=20.0), x)
    ddsp_ref.check_grads(lambda v: core.frequencies_critical_bands(v, depth=depth), x)
    ddsp_ref.check_grads(lambda v: core.frequencies_critical_bands(v, depth=depth, scale="mel"), x)


def test_gradients_follow_the_backend(xp):
    x = xp.asarray(np.linspace(-2.0, 2.0, 12).reshape(1, 3, 4))
    g = ddsp_ref.grad(lambda v: core.frequencies_critical_bands(v, depth=2).sum())(x)
    assert ddsp_ref.backend.array_namespace(g) is xp
    g_es = ddsp_ref.grad(lambda v: core.exp_sigmoid(v).sum())(x)
    s = ref_sigmoid(to_numpy(x))
    # d/dx 2 s^ln10 = 2 ln10 s^ln10 (1 - s): closed form
    np.testing.assert_allclose(to_numpy(g_es), 2.0 * LN10 * s**LN10 * (1.0 - s), rtol=1e-12)
