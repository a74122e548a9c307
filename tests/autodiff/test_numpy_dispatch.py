"""NumPy functions and ufuncs on traced Tensors: the right gradient, or a clear TypeError.

Never a silent zero gradient: ``np.asarray(t)``, ``t.numpy()`` and ``float(t)`` inside
``value_and_grad`` raise and name the fix; differentiable NumPy calls dispatch to the tape.
"""

from __future__ import annotations

import numpy as np
import pytest

import ddsp_ref
from ddsp_ref.autodiff import Tensor, ops

RNG = np.random.default_rng(3)
A = RNG.uniform(0.5, 2.0, (3, 4))
B = RNG.uniform(0.5, 2.0, (3, 4))

# (numpy-written function, the same function written with ops): gradients must agree, and
# both must pass the finite-difference check.
PAIRS = {
    "ufuncs": (
        lambda x: np.sum(np.sin(x) * np.exp(-x) + np.sqrt(x) - np.log1p(x) + np.tanh(x) ** 2),
        lambda x: ops.sum(ops.sin(x) * ops.exp(-x) + ops.sqrt(x) - ops.log1p(x) + ops.tanh(x) ** 2),
    ),
    "ndarray_on_the_left": (
        lambda x: np.mean(B + x) + np.sum(B * x) + np.sum(B - x) + np.sum(B / x) + np.sum(B**x),
        lambda x: (
            ops.mean(B + x) + ops.sum(B * x) + ops.sum(B - x) + ops.sum(B / x) + ops.sum(B**x)
        ),
    ),
    "reductions_and_shapes": (
        lambda x: (
            np.sum(np.mean(x, axis=0))
            + np.max(x)
            + np.sum(np.reshape(x, (4, 3))[0])
            + np.sum(np.transpose(x)[1])
            + np.sum(np.cumsum(x, axis=1)[:, -1])
        ),
        lambda x: (
            ops.sum(ops.mean(x, axis=0))
            + ops.max(x)
            + ops.sum(ops.reshape(x, (4, 3))[0])
            + ops.sum(ops.transpose(x)[1])
            + ops.sum(ops.cumsum(x, axis=1)[:, -1])
        ),
    ),
    "joins_and_selects": (
        lambda x: (
            np.sum(np.concatenate([x, B], axis=1) ** 2)
            + np.sum(np.where(B > 1.0, x, 2 * x))
            + np.sum(np.clip(x, 0.8, 1.5))
            + np.sum(B @ x.T)
        ),
        lambda x: (
            ops.sum(ops.concatenate([x, B], axis=1) ** 2)
            + ops.sum(ops.where(B > 1.0, x, 2 * x))
            + ops.sum(ops.clip(x, 0.8, 1.5))
            + ops.sum(ops.matmul(B, x.T))
        ),
    ),
    "fft": (
        lambda x: np.sum(np.abs(np.fft.rfft(x, axis=-1)) ** 2),
        lambda x: ops.sum(ops.abs(ops.rfft(x, axis=-1)) ** 2),
    ),
}


@pytest.mark.parametrize("name", sorted(PAIRS))
def test_numpy_code_differentiates_like_ops(name):
    np_fun, ops_fun = PAIRS[name]
    v1, g1 = ddsp_ref.value_and_grad(np_fun)(A)
    v2, g2 = ddsp_ref.value_and_grad(ops_fun)(A)
    np.testing.assert_allclose(v1, v2, rtol=1e-13)
    np.testing.assert_allclose(g1, g2, rtol=1e-12, atol=1e-14)
    assert np.abs(g1).max() > 0
    ddsp_ref.check_grads(np_fun, A)


def test_plain_arrays_stay_plain_arrays():
    out = np.sum(np.sin(A))
    assert isinstance(out, np.floating)
    np.testing.assert_allclose(out, np.sin(A).sum())


def test_comparisons_and_queries_give_plain_values():
    seen = {}

    def fun(x):
        seen["gt"] = np.greater(x, 1.0)
        seen["finite"] = np.isfinite(x)
        seen["shape"] = np.shape(x)
        seen["argmax"] = np.argmax(x)
        return ops.sum(x)

    ddsp_ref.grad(fun)(A)
    assert isinstance(seen["gt"], np.ndarray) and seen["gt"].dtype == bool
    np.testing.assert_array_equal(seen["gt"], A > 1.0)
    assert seen["finite"].all() and seen["shape"] == (3, 4)
    assert seen["argmax"] == np.argmax(A)


@pytest.mark.parametrize(
    "call, what",
    [
        (lambda x: np.asarray(x), "numpy.asarray"),
        (lambda x: x.numpy(), "x.numpy()"),
        (lambda x: float(ops.sum(x)), "float(x)"),
        (lambda x: np.sort(x), "numpy.sort"),
        (lambda x: np.linalg.norm(x), "numpy.linalg.norm"),
        (lambda x: np.add.reduce(x), "numpy.add.reduce"),
        (lambda x: np.sum(x, dtype=np.float32), "dtype="),
        (lambda x: np.multiply(x, 2.0, out=np.empty((3, 4))), "out="),
        (lambda x: np.arctan(x), "numpy.arctan"),
    ],
)
def test_calls_that_would_lose_the_gradient_raise_and_name_the_fix(call, what):
    def fun(x):
        return ops.sum(x * call(x))

    with pytest.raises(TypeError) as info:
        ddsp_ref.grad(fun)(A)
    message = str(info.value)
    assert what in message
    assert "stop_gradient" in message and "traced Tensor of shape" in message


def test_stop_gradient_is_the_documented_escape():
    def fun(x):
        scale = float(ddsp_ref.stop_gradient(ops.max(x)))
        return ops.sum(x) * scale

    _, g = ddsp_ref.value_and_grad(fun)(A)
    np.testing.assert_allclose(g, np.full_like(A, A.max()))


def test_tensor_outside_tracing_converts():
    # A Tensor that escaped value_and_grad (nothing records any more) converts to its value.
    escaped = {}

    def fun(x):
        escaped["t"] = x * 2.0
        return ops.sum(x)

    ddsp_ref.grad(fun)(A)
    assert isinstance(escaped["t"], Tensor)
    np.testing.assert_allclose(np.asarray(escaped["t"]), 2 * A)
