"""value_and_grad / grad / stop_gradient / check_grads, Tensor operators, errors."""

from __future__ import annotations

import numpy as np
import pytest

import ddsp_ref
from ddsp_ref import backend
from ddsp_ref.autodiff import GradientCheckError, Tensor, ops, tape

# -- value_and_grad / grad -------------------------------------------------------------------


def f(x, y):
    return ops.sum(ops.sin(x) * y)


X, Y = np.array([0.1, 0.7, -1.2]), np.array([2.0, -0.5, 1.5])


def test_value_and_grad_int_argnums():
    value, g = ddsp_ref.value_and_grad(f)(X, Y)
    assert isinstance(value, (np.ndarray, np.generic)) and value.shape == ()
    np.testing.assert_allclose(value, np.sum(np.sin(X) * Y), rtol=1e-15)
    assert isinstance(g, np.ndarray)
    np.testing.assert_allclose(g, np.cos(X) * Y, rtol=1e-15)
    np.testing.assert_allclose(ddsp_ref.grad(f, argnums=1)(X, Y), np.sin(X), rtol=1e-15)
    np.testing.assert_allclose(ddsp_ref.grad(f, argnums=-1)(X, Y), np.sin(X), rtol=1e-15)


def test_value_and_grad_tuple_argnums():
    value, grads = ddsp_ref.value_and_grad(f, argnums=(1, 0))(X, Y)
    assert isinstance(grads, tuple) and len(grads) == 2
    np.testing.assert_allclose(grads[0], np.sin(X), rtol=1e-15)
    np.testing.assert_allclose(grads[1], np.cos(X) * Y, rtol=1e-15)
    (g,) = ddsp_ref.grad(f, argnums=(0,))(X, Y)
    np.testing.assert_allclose(g, np.cos(X) * Y, rtol=1e-15)


def test_argnums_out_of_range():
    with pytest.raises(ValueError, match="argnums"):
        ddsp_ref.grad(f, argnums=2)(X, Y)


def test_has_aux_returns_plain_arrays():
    def fun(x):
        y = ops.exp(x)
        return ops.sum(y), {"y": y, "label": "exp"}

    (value, aux), g = ddsp_ref.value_and_grad(fun, has_aux=True)(X)
    np.testing.assert_allclose(value, np.exp(X).sum(), rtol=1e-15)
    assert isinstance(aux["y"], np.ndarray) and aux["label"] == "exp"
    np.testing.assert_allclose(aux["y"], np.exp(X), rtol=1e-15)
    np.testing.assert_allclose(g, np.exp(X), rtol=1e-15)
    g2, aux2 = ddsp_ref.grad(fun, has_aux=True)(X)
    np.testing.assert_allclose(g2, np.exp(X), rtol=1e-15)
    assert aux2["label"] == "exp"


def test_kwargs_pass_through_undifferentiated():
    g = ddsp_ref.grad(lambda x, scale=1.0: ops.sum(x * scale))(X, scale=3.0)
    np.testing.assert_allclose(g, np.full(3, 3.0))


def test_fan_in_accumulates():
    g = ddsp_ref.grad(lambda x: ops.sum(x * x + ops.sin(x) - x / 2.0))(X)
    np.testing.assert_allclose(g, 2 * X + np.cos(X) - 0.5, rtol=1e-14)


def test_output_independent_of_argument_gives_zeros():
    value, (gx, gy) = ddsp_ref.value_and_grad(lambda x, y: ops.sum(y), argnums=(0, 1))(X, Y)
    np.testing.assert_allclose(value, Y.sum())
    np.testing.assert_array_equal(gx, np.zeros(3))
    np.testing.assert_array_equal(gy, np.ones(3))
    g = ddsp_ref.grad(lambda x: np.float64(2.0))(X.astype(np.float32))
    assert g.dtype == np.float32 and not g.any()


def test_python_float_argument_and_one_element_output():
    np.testing.assert_allclose(ddsp_ref.grad(lambda x: x * x)(3.0), 6.0)
    g = ddsp_ref.grad(lambda x: ops.reshape(x * 2.0, (1, 1)))(np.array([1.0]))
    np.testing.assert_allclose(g, [2.0])


def test_stop_gradient_blocks_the_gradient():
    g = ddsp_ref.grad(lambda x: ops.sum(ddsp_ref.stop_gradient(x) * x))(X)
    np.testing.assert_allclose(g, X)  # not 2 X
    assert ddsp_ref.stop_gradient(X) is X
    seen = {}

    def fun(x):
        seen["raw"] = ddsp_ref.stop_gradient(x)
        return ops.sum(x)

    ddsp_ref.grad(fun)(X)
    assert isinstance(seen["raw"], np.ndarray) and not isinstance(seen["raw"], Tensor)


def test_complex_argument_gradient_convention():
    # L = |z|^2 = x^2 + y^2: cotangent dL/dx + i dL/dy = 2 z
    z = np.array([1.0 + 2.0j, -0.5 + 0.1j])
    g = ddsp_ref.grad(lambda v: ops.sum(ops.real(v * ops.conj(v))))(z)
    np.testing.assert_allclose(g, 2 * z, rtol=1e-15)


def test_gradients_keep_the_device(xp):
    x = xp.asarray(X)
    g = ddsp_ref.grad(lambda v: ops.sum(ops.tanh(v) * 2.0))(x)
    assert backend.array_namespace(g) is xp
    np.testing.assert_allclose(backend.to_numpy(g), 2.0 / np.cosh(X) ** 2, rtol=1e-12)
    ddsp_ref.check_grads(lambda v: ops.rfft(ops.exp(v), n=6), x)


# -- errors ----------------------------------------------------------------------------------


def test_shape_mismatch_in_an_op_raises():
    with pytest.raises(ValueError, match="broadcast"):
        ops.add(np.ones(3), np.ones(4))
    with pytest.raises(ValueError, match="broadcast"):
        ddsp_ref.grad(lambda x: ops.sum(x * np.ones(4)))(np.ones(3))
    with pytest.raises(ValueError):
        ddsp_ref.grad(lambda x: ops.sum(ops.matmul(x, np.ones((4, 2)))))(np.ones((2, 3)))


def test_integer_argument_raises_type_error():
    with pytest.raises(TypeError, match="int64"):
        ddsp_ref.grad(lambda x: ops.sum(x * 1.0))(np.arange(3))
    with pytest.raises(TypeError, match="not an array"):
        ddsp_ref.grad(lambda x: x * 1.0)(3)
    with pytest.raises(TypeError, match="bool"):
        ddsp_ref.grad(lambda x, m: ops.sum(x), argnums=1)(X, X > 0)
    with pytest.raises(TypeError, match="leaf"):  # an integer leaf inside a pytree
        ddsp_ref.grad(lambda p: ops.sum(p["a"]))({"a": X, "b": np.arange(2)})


def test_non_scalar_output_raises_type_error():
    with pytest.raises(TypeError, match="scalar"):
        ddsp_ref.grad(lambda x: x * 2.0)(X)
    with pytest.raises(TypeError, match="scalar"):
        ddsp_ref.value_and_grad(lambda x: (x, None), has_aux=True)(X)


def test_nested_value_and_grad_raises_and_recovers():
    inner = ddsp_ref.grad(lambda x: ops.sum(x * x))
    with pytest.raises(RuntimeError, match="nested"):
        ddsp_ref.grad(lambda x: ops.sum(inner(x)))(X)
    assert tape._active_tape() is None  # the failed call left no tape behind
    np.testing.assert_allclose(inner(X), 2 * X)


def test_exception_inside_fun_leaves_no_tape():
    def bad(x):
        raise KeyError("boom")

    with pytest.raises(KeyError):
        ddsp_ref.grad(bad)(X)
    assert tape._active_tape() is None


def test_check_grads_catches_a_wrong_gradient():
    # stop_gradient hides half of d(x^2)/dx from the tape: the VJP says x, the truth is 2x.
    with pytest.raises(GradientCheckError, match="finite differences"):
        ddsp_ref.check_grads(lambda x: ddsp_ref.stop_gradient(x) * x, X)
    ddsp_ref.check_grads(lambda x: x * x, X)
    with pytest.raises(ValueError, match="no floating"):
        ddsp_ref.check_grads(lambda i: i, np.arange(3))


@pytest.mark.parametrize("size", [1e-9, 1e-6, 1e-3, 1.0, 1e6])
def test_check_grads_catches_a_factor_two_at_every_gradient_size(size):
    # d/dx (size * x^2) seen as size * x (half the truth) must fail however small size is: the
    # tolerance is relative to the derivative, not to max(derivative, 1).
    with pytest.raises(GradientCheckError):
        ddsp_ref.check_grads(lambda x: size * ddsp_ref.stop_gradient(x) * x, X)
    ddsp_ref.check_grads(lambda x: size * x * x, X)


def test_check_grads_floor_excuses_only_unresolvable_differences():
    # A function of size 1e8 with a tiny, exact derivative passes: finite differences of
    # 1e8-sized values cannot resolve better than ~1e-8 * 1e8 / 1e6.
    ddsp_ref.check_grads(lambda x: 1e8 + 1e-12 * x, X)
    # ...but a gradient 1e-3 off on a unit-sized function does not.
    with pytest.raises(GradientCheckError):
        ddsp_ref.check_grads(lambda x: x * (1.0 + 1e-3 * ddsp_ref.stop_gradient(x) / x), X)


def test_check_grads_checks_pytrees_and_argnums():
    params = {"w": X, "b": [Y]}
    ddsp_ref.check_grads(lambda p, s: ops.tanh(p["w"] * s + p["b"][0]), params, X, argnums=0)
    ddsp_ref.check_grads(lambda p, s: ops.tanh(p["w"] * s + p["b"][0]), params, X)


# -- Tensor operators ------------------------------------------------------------------------


def test_tensor_arithmetic_operators():
    a, b = np.array([[0.5, 1.5], [2.0, 0.7]]), np.array([1.2, 0.4])

    def fun(x, y):
        out = (x + y) * (x - 1.0) / (y + 2.0) + 2.0 / x - 3.0 * y + (1.0 - x) ** 2
        out = out + x**y + 2.0**y + (x @ y)[:, None] + (y @ x)[None, :] + (-x) + abs(x - 1.0)
        out = out + (x % 0.45) + (np.ones(2) + x) * (np.ones(2) - y) + (+x)
        return out

    ddsp_ref.check_grads(fun, a, b)
    np.testing.assert_allclose(fun(a, b), _np_fun(a, b), rtol=1e-12)


def _np_fun(x, y):
    out = (x + y) * (x - 1.0) / (y + 2.0) + 2.0 / x - 3.0 * y + (1.0 - x) ** 2
    out = out + x**y + 2.0**y + (x @ y)[:, None] + (y @ x)[None, :] + (-x) + np.abs(x - 1.0)
    return out + np.mod(x, 0.45) + (1 + x) * (1 - y) + x


def test_numpy_array_on_the_left_defers_to_tensor():
    seen = {}

    def fun(x):
        seen["sum"] = np.ones(3) + x
        seen["mul"] = np.full(3, 2.0) * x
        return ops.sum(seen["sum"] * seen["mul"])

    g = ddsp_ref.grad(fun)(X)
    assert isinstance(seen["sum"], Tensor) and isinstance(seen["mul"], Tensor)
    np.testing.assert_allclose(g, 2 * (2 * X + 1), rtol=1e-14)


def test_tensor_methods_and_properties():
    a = np.arange(1.0, 7.0).reshape(2, 3)
    seen = {}

    def fun(x):
        out = x.sum() + x.mean(axis=0).sum() + x.max() + x.min(axis=1).sum()
        out = out + x.reshape(3, 2).T.sum(axis=0, keepdims=True).sum()
        out = out + x.transpose(1, 0)[0].sum() + (x // 2.5).sum()
        return out + x.astype(np.complex128).real.sum() + (x * 1j).imag.sum()

    ddsp_ref.check_grads(fun, a + np.array([0.0, 0.01, 0.02]))  # no ties for max / min

    def record(x):
        seen.update(
            shape=x.shape,
            dtype=x.dtype,
            ndim=x.ndim,
            size=x.size,
            len=len(x),
            lt=x < 3.0,
            first=float(ddsp_ref.stop_gradient(x[0, 0])),
            numpy=ddsp_ref.stop_gradient(x),
            array=np.asarray(ddsp_ref.stop_gradient(x)),
        )
        return x.sum()  # fmt: skip

    ddsp_ref.grad(record)(a)
    assert seen["shape"] == (2, 3) and seen["dtype"] == np.float64
    assert (seen["ndim"], seen["size"], seen["len"]) == (2, 6, 2)
    assert isinstance(seen["lt"], np.ndarray) and seen["lt"].dtype == bool
    assert isinstance(seen["numpy"], np.ndarray) and isinstance(seen["array"], np.ndarray)
    assert seen["first"] == 1.0
    g = ddsp_ref.grad(lambda x: ops.sum(x * 0.0) + (x.max() if bool(x[0, 0] > 0) else 0.0))(a)
    np.testing.assert_array_equal(g, (a == 6.0).astype(float))
