"""The fused Fc block (Dense, LayerNormalization, leaky ReLU): the reference kernels against a
direct float64 formula, the numba CPU kernels against the reference forward and backward, the
op against the composed autodiff ops and through nn.Fc, edge cases and errors."""

from __future__ import annotations

import numpy as np
import pytest

import ddsp_ref
from ddsp_ref.autodiff.fused.dense import dense_layer_norm
from ddsp_ref.kernels import layer_norm as launcher
from ddsp_ref.kernels import layer_norm_reference as reference
from ddsp_ref.training import nn
from tests.autodiff.cases import _np_fc

cpu = pytest.importorskip("ddsp_ref.kernels.layer_norm_cpu")

TOL = {np.float32: dict(rtol=2e-5, atol=2e-5), np.float64: dict(rtol=1e-12, atol=1e-12)}


def _inputs(rows, ch, dtype, seed=0):
    rng = np.random.default_rng(seed)
    h = (2.0 * rng.standard_normal((rows, ch)) + 0.5).astype(dtype)
    gamma = (1.0 + 0.3 * rng.standard_normal(ch)).astype(dtype)
    beta = (0.3 * rng.standard_normal(ch)).astype(dtype)
    dy = rng.standard_normal((rows, ch)).astype(dtype)
    return h, gamma, beta, dy


def _np_backward(h, gamma, beta, dy, alpha, eps):
    """float64 VJP of act(LayerNorm(h)) by the textbook formula (independent of the kernels)."""
    h, gamma, beta, dy = (np.asarray(a, np.float64) for a in (h, gamma, beta, dy))
    mu = h.mean(-1, keepdims=True)
    sigma = np.sqrt(((h - mu) ** 2).mean(-1, keepdims=True) + eps)
    xhat = (h - mu) / sigma
    z = xhat * gamma + beta
    dz = dy * np.where(z > 0, 1.0, alpha)
    dxhat = dz * gamma
    n = h.shape[-1]
    dh = n * dxhat - dxhat.sum(-1, keepdims=True) - xhat * (dxhat * xhat).sum(-1, keepdims=True)
    return dh / (n * sigma), (dz * xhat).sum(0), dz.sum(0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("rows,ch", [(1, 1), (1, 7), (3, 5), (17, 64), (130, 33), (64, 512)])
@pytest.mark.parametrize("alpha", [0.2, 0.0, 1.0])
def test_cpu_and_reference_match_float64_formula(dtype, rows, ch, alpha):
    h, gamma, beta, dy = _inputs(rows, ch, dtype, seed=rows * ch)
    bias = (0.7 * np.random.default_rng(ch).standard_normal(ch)).astype(dtype)
    eps = 1e-3
    expected = _np_fc(h.astype(np.float64), np.eye(ch), bias, gamma, beta, alpha, eps)
    dh, dgamma, dbeta = _np_backward(h.astype(np.float64) + bias, gamma, beta, dy, alpha, eps)
    grads = (dh, dh.sum(0), dgamma, dbeta)  # the bias cotangent sums dh over the rows
    for module in (reference, cpu):
        y, xhat, rstd = module.norm_act_forward(h.copy(), bias, gamma, beta, eps, alpha)
        assert y.dtype == xhat.dtype == rstd.dtype == dtype
        np.testing.assert_allclose(y, expected, **TOL[dtype])
        back = module.norm_act_backward(dy, xhat, rstd, gamma, beta, alpha)
        assert len(back) == 4
        for ours, ref in zip(back, grads):
            assert ours.dtype == dtype
            scale = max(1.0, float(np.abs(ref).max()))
            np.testing.assert_allclose(ours, ref, rtol=TOL[dtype]["rtol"],
                                       atol=TOL[dtype]["atol"] * scale)  # fmt: skip


def test_constant_rows_and_extreme_scales():
    # A constant row has zero variance: xhat = 0, y = act(beta), finite gradients.
    for scale in (0.0, 1e-6, 1e6):
        h, gamma, beta, dy = _inputs(9, 16, np.float32, seed=3)
        h[0] = 1.5
        h *= np.float32(scale)
        zero = np.zeros(16, np.float32)
        for module in (reference, cpu):
            y, xhat, rstd = module.norm_act_forward(h.copy(), zero, gamma, beta, 1e-3, 0.2)
            np.testing.assert_allclose(y[0], np.where(beta > 0, beta, 0.2 * beta), atol=1e-3)
            assert all(np.isfinite(a).all() for a in (y, xhat, rstd))
            back = module.norm_act_backward(dy, xhat, rstd, gamma, beta, 0.2)
            assert all(np.isfinite(a).all() for a in back)
        ref = _np_backward(h, gamma, beta, dy, 0.2, 1e-3)
        np.testing.assert_allclose(back[0], ref[0], rtol=1e-4, atol=1e-4 * np.abs(ref[0]).max())


def _fc_args(dtype, shape=(2, 5, 6), ch=8, seed=1):
    rng = np.random.default_rng(seed)
    return (
        rng.standard_normal(shape).astype(dtype),
        (0.5 * rng.standard_normal((shape[-1], ch))).astype(dtype),
        (0.1 * rng.standard_normal(ch)).astype(dtype),
        (1.0 + 0.1 * rng.standard_normal(ch)).astype(dtype),
        (0.1 * rng.standard_normal(ch)).astype(dtype),
    )


def _composed(x, w, b, gamma, beta):
    fc = nn.Fc(w.shape[1], input_size=w.shape[0])
    params = {"dense": {"kernel": w, "bias": b}, "layer_norm": {"gamma": gamma, "beta": beta}}
    return fc.apply(params, x)


@pytest.mark.parametrize("mode", ["", "reference"])
def test_op_matches_composed_ops_values_and_gradients(monkeypatch, mode):
    args = _fc_args(np.float32)
    weights = np.random.default_rng(2).standard_normal((2, 5, 8)).astype(np.float32)
    monkeypatch.setenv("DDSP_REF_KERNELS", "composed")
    expected = ddsp_ref.value_and_grad(lambda *a: (_composed(*a) * weights).sum(),
                                       argnums=tuple(range(5)))(*args)  # fmt: skip
    monkeypatch.setenv("DDSP_REF_KERNELS", mode)
    for fun in (_composed, dense_layer_norm):
        got = ddsp_ref.value_and_grad(lambda *a, f=fun: (f(*a) * weights).sum(),
                                      argnums=tuple(range(5)))(*args)  # fmt: skip
        np.testing.assert_allclose(got[0], expected[0], rtol=1e-5)
        for ours, ref in zip(got[1], expected[1]):
            assert ours.dtype == np.float32
            np.testing.assert_allclose(ours, ref, rtol=1e-4, atol=1e-5 * np.abs(ref).max())


def test_reference_path_gradients_float64(monkeypatch):
    monkeypatch.setenv("DDSP_REF_KERNELS", "reference")
    ddsp_ref.check_grads(dense_layer_norm, *_fc_args(np.float64))


def test_fc_records_one_node_and_keeps_other_nonlinearities_composed():
    from ddsp_ref.autodiff.tape import recording

    x = np.random.default_rng(0).standard_normal((3, 4)).astype(np.float32)
    names = {}
    for nonlin in ("leaky_relu", "relu", "sigmoid"):
        fc = nn.Fc(6, nonlinearity=nonlin, seed=0, input_size=4)
        with recording() as tape:
            from ddsp_ref.autodiff.tape import new_tensor

            fc.apply({k: {n: new_tensor(v) for n, v in d.items()}
                      for k, d in fc.parameters().items()}, x)  # fmt: skip
        names[nonlin] = [node.prim.name for node in tape]
        p = fc.parameters()
        ref = _np_fc(x.astype(np.float64), p["dense"]["kernel"], p["dense"]["bias"],
                     p["layer_norm"]["gamma"], p["layer_norm"]["beta"], alpha=0.2)  # fmt: skip
        if nonlin == "leaky_relu":
            np.testing.assert_allclose(fc(x), ref, rtol=1e-5, atol=1e-6)
    assert names["leaky_relu"] == names["relu"] == ["fused_dense_layer_norm"]
    assert "fused_dense_layer_norm" not in names["sigmoid"] and len(names["sigmoid"]) > 3


def test_saves_nothing_outside_value_and_grad_and_builds_lazily():
    fc = nn.Fc(8, seed=0)
    y = fc(np.ones((2, 3, 5), np.float32))
    assert y.shape == (2, 3, 8) and fc.dense.input_size == 5 and fc.layer_norm.input_size == 8
    _, saved = launcher.dense_norm_act_forward(*_fc_args(np.float32), 1e-3, 0.2)
    assert saved is None


def test_float64_stays_float64_and_mixed_becomes_float32():
    args64 = _fc_args(np.float64)
    assert dense_layer_norm(*args64).dtype == np.float64
    mixed = (args64[0].astype(np.float32),) + args64[1:]
    assert dense_layer_norm(*mixed).dtype == np.float64  # promotes like numpy
    assert dense_layer_norm(*_fc_args(np.float32)).dtype == np.float32


def test_bad_shapes_raise():
    x, w, b, g, be = _fc_args(np.float32)
    with pytest.raises(ValueError, match="do not fit"):
        dense_layer_norm(x, w.T, b, g, be)
    with pytest.raises(ValueError, match="gamma must have shape"):
        dense_layer_norm(x, w, b, g[:3], be)
    with pytest.raises(TypeError):
        dense_layer_norm(x.astype(np.complex64), w, b, g, be)


def test_op_follows_the_array_module(xp):
    """cupy arrays run the reference kernels on the device; values and gradients agree with the
    numpy run (numpy: the same check against itself through the CPU kernels)."""
    args = _fc_args(np.float32)
    weights = np.random.default_rng(3).standard_normal((2, 5, 8)).astype(np.float32)

    def run(mod):
        dev = [mod.asarray(a) for a in args]
        w = mod.asarray(weights)
        return ddsp_ref.value_and_grad(lambda *a: (dense_layer_norm(*a) * w).sum(),
                                       argnums=tuple(range(5)))(*dev)  # fmt: skip

    value, grads = run(xp)
    ref_value, ref_grads = run(np)
    assert type(grads[0]) is type(xp.asarray(args[0]))
    np.testing.assert_allclose(float(value), float(ref_value), rtol=1e-5)
    for ours, ref in zip(grads, ref_grads):
        ours = ours.get() if hasattr(ours, "get") else ours
        np.testing.assert_allclose(ours, ref, rtol=1e-4, atol=1e-5 * np.abs(ref).max())
    fc = nn.FcStack(8, 2, seed=0)
    y = fc(xp.asarray(args[0]))
    assert type(y) is type(xp.asarray(args[0])) and y.dtype == np.float32
