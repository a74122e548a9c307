"""Property tests of the autodiff tape: broadcasting, reductions, slicing, pytrees, dual mode,
adjoint identities of the linear ops, and the float32 dtype policy."""

from __future__ import annotations

import collections

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import ddsp_ref
from ddsp_ref.autodiff import Tensor, ops, tape
from ddsp_ref.backend import to_numpy
from tests.autodiff.cases import ALL_CASES, CASE_IDS, np_frame, np_overlap_add
from tests.strategies import arrays

pytestmark = pytest.mark.filterwarnings("error::RuntimeWarning")


def numeric_gradient(scalar_fun, x, eps=1e-6):
    """Element-by-element central differences of a scalar function of one float64 array."""
    grad = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        plus, minus = x.copy(), x.copy()
        plus[i] += eps
        minus[i] -= eps
        grad[i] = (scalar_fun(plus) - scalar_fun(minus)) / (2 * eps)
    return grad


# -- broadcasting ----------------------------------------------------------------------------

_BINARY = {
    "add": ops.add,
    "subtract": ops.subtract,
    "multiply": ops.multiply,
    "divide": ops.divide,
    "power": ops.power,
    "maximum": ops.maximum,
    "where": lambda a, b: ops.where(np.asarray(to_numpy(a)) > 0.3, a, b),
}


@pytest.mark.parametrize("name", sorted(_BINARY))
@given(shapes=hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=3, max_side=3),
       data=st.data())  # fmt: skip
def test_broadcasting_gradients_are_unbroadcast_finite_differences(name, shapes, data):
    op = _BINARY[name]
    shape_a, shape_b = shapes.input_shapes
    # positive inputs keep divide and power smooth; distinct ranges avoid maximum's ties
    a = data.draw(arrays(shape_a, st.floats(0.5, 1.0)))
    b = data.draw(arrays(shape_b, st.floats(1.1, 2.0)))
    cot = np.random.default_rng(0).standard_normal(shapes.result_shape)
    ga, gb = ddsp_ref.grad(lambda p, q: ops.sum(op(p, q) * cot), argnums=(0, 1))(a, b)
    assert ga.shape == a.shape and gb.shape == b.shape
    fa = lambda p: float(np.sum(to_numpy(op(p, b)) * cot))  # noqa: E731
    fb = lambda q: float(np.sum(to_numpy(op(a, q)) * cot))  # noqa: E731
    np.testing.assert_allclose(ga, numeric_gradient(fa, a), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(gb, numeric_gradient(fb, b), rtol=1e-6, atol=1e-8)


# -- reductions over random axes -------------------------------------------------------------


@st.composite
def reduction_input(draw, unique=False):
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=3))
    # a grid of step 1/64: unique values are then far apart compared with the FD step
    grid = st.integers(32, 128).map(lambda k: k / 64.0)
    x = draw(hnp.arrays(np.float64, shape, elements=grid, unique=unique))
    ndim = len(shape)
    kind = draw(st.sampled_from(["none", "int", "tuple"]))
    if kind == "none":
        axis = None
    elif kind == "int":
        axis = draw(st.integers(-ndim, ndim - 1))
    else:
        picked = draw(st.lists(st.integers(0, ndim - 1), min_size=1, unique=True))
        axis = tuple(a - ndim if draw(st.booleans()) else a for a in picked)
    return x, axis, draw(st.booleans())


def _np_logsumexp(x, axis, keepdims):
    return np.log(np.sum(np.exp(x), axis=axis, keepdims=keepdims))


_REDUCTIONS = {
    "sum": np.sum,
    "mean": np.mean,
    "prod": np.prod,
    "max": np.max,
    "min": np.min,
    "logsumexp": _np_logsumexp,
}


@pytest.mark.parametrize("name", sorted(_REDUCTIONS))
@given(data=st.data())
def test_reductions_over_random_axes(name, data):
    # unique values: no ties, so max / min are differentiable everywhere
    x, axis, keepdims = data.draw(reduction_input(unique=name in ("max", "min")))
    op = getattr(ops, name)
    out = op(x, axis=axis, keepdims=keepdims)
    np.testing.assert_allclose(out, _REDUCTIONS[name](x, axis=axis, keepdims=keepdims),
                               rtol=1e-12)  # fmt: skip
    ddsp_ref.check_grads(lambda v: op(v, axis=axis, keepdims=keepdims), x)


@given(reduction_input())
def test_cumsum_is_a_triangular_matrix(case):
    x, axis, _ = case
    axis = 0 if axis is None or isinstance(axis, tuple) else axis
    ddsp_ref.check_grads(lambda v: ops.cumsum(v, axis=axis, exclusive=True, reverse=True), x)
    np.testing.assert_allclose(ops.cumsum(x, axis=axis), np.cumsum(x, axis=axis), rtol=1e-12)


# -- slicing ---------------------------------------------------------------------------------


@st.composite
def sliced(draw, kind):
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=5))
    x = draw(arrays(shape))
    if kind == "basic":
        index = draw(hnp.basic_indices(shape, allow_newaxis=True, allow_ellipsis=True))
    elif kind == "integer":
        index = draw(hnp.integer_array_indices(shape, result_shape=hnp.array_shapes(max_dims=2)))
    else:
        index = draw(hnp.arrays(np.bool_, shape))
    return x, index


@pytest.mark.parametrize("kind", ["basic", "integer", "boolean"])
@given(data=st.data())
def test_slicing_gradient_is_a_scatter_add(kind, data):
    x, index = data.draw(sliced(kind))
    out = ops.getitem(x, index)
    np.testing.assert_array_equal(out, x[index])
    cot = np.random.default_rng(1).standard_normal(np.shape(out))
    g = ddsp_ref.grad(lambda v: ops.sum(v[index] * cot))(x)
    expected = np.zeros_like(x)
    np.add.at(expected, index, cot)  # repeated integer indices accumulate
    np.testing.assert_allclose(g, expected, rtol=1e-15)


# -- pytrees ---------------------------------------------------------------------------------

Pair = collections.namedtuple("Pair", ["left", "right"])

_leaves = hnp.arrays(
    st.sampled_from([np.float64, np.float32]),
    hnp.array_shapes(min_dims=0, max_dims=2, max_side=3),
    elements=st.floats(-2, 2, width=32),
)
_trees = st.recursive(
    _leaves,
    lambda children: st.one_of(
        st.lists(children, min_size=1, max_size=3),
        st.lists(children, min_size=1, max_size=3).map(tuple),
        st.dictionaries(st.sampled_from("abcd"), children, min_size=1, max_size=3),
        st.tuples(children, children).map(lambda t: Pair(*t)),
    ),
    max_leaves=6,
)


def _assert_same_structure(grad_tree, arg_tree, path="root"):
    assert type(grad_tree) is type(arg_tree), f"{path}: {type(grad_tree)} != {type(arg_tree)}"
    if isinstance(arg_tree, dict):
        assert list(grad_tree) == list(arg_tree), f"{path}: keys differ"
        for k in arg_tree:
            _assert_same_structure(grad_tree[k], arg_tree[k], f"{path}/{k}")
    elif isinstance(arg_tree, (list, tuple)):
        assert len(grad_tree) == len(arg_tree), f"{path}: lengths differ"
        for i, (g, a) in enumerate(zip(grad_tree, arg_tree, strict=True)):
            _assert_same_structure(g, a, f"{path}/{i}")
    else:
        assert isinstance(grad_tree, np.ndarray), f"{path}: gradient is {type(grad_tree)}"
        assert grad_tree.shape == arg_tree.shape and grad_tree.dtype == arg_tree.dtype, path
        np.testing.assert_allclose(grad_tree, np.cos(arg_tree), rtol=1e-5)


@given(_trees)
def test_pytree_gradients_mirror_the_argument(tree):
    leaves, _ = ddsp_ref.autodiff.tree_flatten(tree)

    def loss(params, scale):
        flat, _ = ddsp_ref.autodiff.tree_flatten(params)
        return sum(ops.sum(ops.sin(leaf)) for leaf in flat) * scale

    value, grads = ddsp_ref.value_and_grad(loss)(tree, 1.0)
    np.testing.assert_allclose(value, sum(np.sin(np.float64(x)).sum() for x in leaves),
                               rtol=1e-5)  # fmt: skip
    _assert_same_structure(grads, tree)


def test_pytree_gradients_with_two_tree_arguments():
    params = {"w": np.array([1.0, 2.0]), "layers": [np.array(3.0), (np.ones((2, 2)),)]}
    other = Pair(np.array([0.5]), {"b": np.array([2.0, 1.0])})

    def loss(p, q):
        return (ops.sum(p["w"] * q.right["b"]) + p["layers"][0] * ops.sum(p["layers"][1][0])
                + ops.sum(q.left) ** 2)  # fmt: skip

    gp, gq = ddsp_ref.grad(loss, argnums=(0, 1))(params, other)
    np.testing.assert_allclose(gp["w"], [2.0, 1.0])
    np.testing.assert_allclose(gp["layers"][0], 4.0)
    np.testing.assert_allclose(gp["layers"][1][0], np.full((2, 2), 3.0))
    assert isinstance(gq, Pair)
    np.testing.assert_allclose(gq.left, [1.0])
    np.testing.assert_allclose(gq.right["b"], [1.0, 2.0])


# -- dual mode -------------------------------------------------------------------------------


def _is_plain(x):
    return isinstance(x, (np.ndarray, np.generic)) and not isinstance(x, Tensor)


@pytest.mark.parametrize("name,case", ALL_CASES, ids=CASE_IDS)
def test_dual_mode(name, case):
    plain = case.fun(*case.args)
    assert _is_plain(plain), f"{name}: plain inputs gave {type(plain).__name__}"
    assert tape._active_tape() is None

    def traced(*args):
        out = case.fun(*args)
        assert isinstance(out, Tensor), f"{name}: traced call returned {type(out).__name__}"
        return ops.sum(ops.real(out)), out

    (_, aux), _ = ddsp_ref.value_and_grad(traced, argnums=tuple(range(len(case.args))),
                                          has_aux=True)(*case.args)  # fmt: skip
    assert _is_plain(aux)
    # Equal up to summation order: a fused kernel asked for gradients may accumulate its value
    # in another order (the spectral loss: 1 ulp).
    np.testing.assert_allclose(aux, plain, rtol=1e-14, atol=0)


def test_constants_inside_value_and_grad_are_not_recorded():
    seen = {}

    def fun(x):
        seen["const"] = ops.sin(np.ones(3))  # no Tensor among the inputs
        seen["tape_len"] = len(tape._active_tape())
        return ops.sum(x * seen["const"])

    ddsp_ref.grad(fun)(np.ones(3))
    assert _is_plain(seen["const"]) and seen["tape_len"] == 0


# -- adjoint identities ----------------------------------------------------------------------


def _as_real(z):
    z = np.asarray(z)
    return np.concatenate([z.real.ravel(), z.imag.ravel()]) if np.iscomplexobj(z) else z.ravel()


def dense_jacobian(linear, x):
    """The real matrix of a linear map (complex values split into real and imaginary parts),
    built by applying it to every basis vector."""
    basis = [np.eye(x.size)[i].reshape(x.shape) for i in range(x.size)]
    if np.iscomplexobj(x):
        basis = basis + [1j * e for e in basis]
    return np.stack([_as_real(linear(e)) for e in basis], axis=1)


def vjp_of(linear, x, y):
    """The gradient of <linear(x), y> (real inner product) from the tape."""

    def pairing(v):
        out = linear(v)
        if np.iscomplexobj(y):
            return ops.sum(ops.real(out) * y.real + ops.imag(out) * y.imag)
        return ops.sum(ops.real(out) * y)

    return ddsp_ref.grad(pairing)(x)


_rng = np.random.default_rng(7)


def _cn(n):
    return _rng.normal(size=n) + 1j * _rng.normal(size=n)


_LINEAR = {
    "frame pad_end": (lambda v: ops.frame(v, 4, 3, pad_end=True), _rng.normal(size=(2, 10))),
    "frame hop>frame": (lambda v: ops.frame(v, 2, 3), _rng.normal(size=9)),
    "frame axis 0": (lambda v: ops.frame(v, 3, 1, axis=0), _rng.normal(size=(5, 2))),
    "overlap_add": (lambda v: ops.overlap_add(v, 2), _rng.normal(size=(3, 5))),
    "overlap_add gaps": (lambda v: ops.overlap_add(v, 4), _rng.normal(size=(3, 2))),
    "rfft": (lambda v: ops.rfft(v), _rng.normal(size=8)),
    "rfft n larger odd": (lambda v: ops.rfft(v, n=11), _rng.normal(size=8)),
    "rfft n smaller": (lambda v: ops.rfft(v, n=6, axis=0), _rng.normal(size=(8, 2))),
    "irfft": (lambda z: ops.irfft(z), _cn(5)),
    "irfft odd n": (lambda z: ops.irfft(z, n=9), _cn(5)),
    "irfft n smaller": (lambda z: ops.irfft(z, n=4), _cn(5)),
    "irfft n larger": (lambda z: ops.irfft(z, n=14), _cn(5)),
    "fft n smaller": (lambda z: ops.fft(z, n=3), _cn(5)),
    "ifft n larger": (lambda z: ops.ifft(z, n=7), _cn(5)),
    "cumsum exclusive reverse": (
        lambda v: ops.cumsum(v, exclusive=True, reverse=True),
        _rng.normal(size=6),
    ),
    "take repeats": (lambda v: ops.take(v, np.array([2, 0, 2, 2])), _rng.normal(size=3)),
}
for _mode in ("constant", "reflect", "edge", "symmetric", "wrap"):
    _LINEAR[f"pad {_mode}"] = (
        lambda v, m=_mode: ops.pad(v, ((1, 0), (3, 2)), mode=m),
        _rng.normal(size=(2, 3)),
    )


@pytest.mark.parametrize("label", sorted(_LINEAR))
def test_vjp_is_the_transpose_of_the_dense_matrix(label):
    linear, x = _LINEAR[label]
    out = linear(x)
    y = _rng.normal(size=np.shape(out))
    if np.iscomplexobj(out):
        y = y + 1j * _rng.normal(size=np.shape(out))
    jac = dense_jacobian(linear, x)
    expected = jac.T @ _as_real(y)  # <A x, y> = <x, A^T y>
    g = vjp_of(linear, x, y)
    if np.iscomplexobj(x):  # cotangent convention: dL/d(re) + i dL/d(im)
        half = x.size
        expected = (expected[:half] + 1j * expected[half:]).reshape(x.shape)
    np.testing.assert_allclose(g, expected.reshape(x.shape), rtol=1e-10, atol=1e-12)


@given(st.integers(1, 6), st.integers(1, 6), st.integers(1, 5))
def test_frame_and_overlap_add_are_adjoint(frame_size, hop, n_frames):
    rng = np.random.default_rng(frame_size * 100 + hop * 10 + n_frames)
    length = (n_frames - 1) * hop + frame_size  # frames tile the signal exactly
    x, frames = rng.normal(size=(2, length)), rng.normal(size=(2, n_frames, frame_size))
    framed = ops.frame(x, frame_size, hop)
    np.testing.assert_allclose(framed, np_frame(x, frame_size, hop), rtol=1e-15)
    np.testing.assert_allclose(ops.overlap_add(frames, hop), np_overlap_add(frames, hop),
                               rtol=1e-13)  # fmt: skip
    lhs = np.sum(framed * frames)
    rhs = np.sum(x * ops.overlap_add(frames, hop))
    np.testing.assert_allclose(lhs, rhs, rtol=1e-10)


@given(st.integers(1, 5), st.integers(0, 4), st.integers(0, 4))
def test_pad_and_crop_are_adjoint(n, before, after):
    rng = np.random.default_rng(n * 100 + before * 10 + after)
    x, y = rng.normal(size=(2, n)), rng.normal(size=(2, n + before + after))
    lhs = np.sum(ops.pad(x, ((0, 0), (before, after))) * y)
    rhs = np.sum(x * ops.getitem(y, (slice(None), slice(before, before + n))))
    np.testing.assert_allclose(lhs, rhs, rtol=1e-12)


def _half_weights(n_bins, n, interior):
    w = np.full(n_bins, float(interior))
    w[0] = 1.0
    if n % 2 == 0:
        w[-1] = 1.0
    return w


@given(st.integers(2, 12))
def test_rfft_and_irfft_adjoint_identities(n):
    rng = np.random.default_rng(n)
    n_bins = n // 2 + 1
    x = rng.normal(size=n)
    y = rng.normal(size=n_bins) + 1j * rng.normal(size=n_bins)
    real_inner = lambda a, b: np.sum(a.real * b.real + a.imag * b.imag)  # noqa: E731
    # rfft^T Y = n * irfft(w Y): irfft doubles the interior bins and divides by n.
    lhs = real_inner(ops.rfft(x), y)
    rhs = np.sum(x * n * ops.irfft(y * _half_weights(n_bins, n, 0.5), n=n))
    np.testing.assert_allclose(lhs, rhs, rtol=1e-10)
    # irfft^T y = w' rfft(y) / n with w' = 2 on the interior bins.
    lhs = np.sum(ops.irfft(y, n=n) * x)
    rhs = real_inner(y, ops.rfft(x) * _half_weights(n_bins, n, 2.0) / n)
    np.testing.assert_allclose(lhs, rhs, rtol=1e-10)
    # and the tape's VJPs are exactly these transposes
    np.testing.assert_allclose(vjp_of(ops.rfft, x, y),
                               n * np.fft.irfft(y * _half_weights(n_bins, n, 0.5), n=n),
                               rtol=1e-10, atol=1e-12)  # fmt: skip


# -- dtype policy ----------------------------------------------------------------------------


def _to_single(a):
    if isinstance(a, np.ndarray) and a.dtype == np.complex128:
        return a.astype(np.complex64)
    if isinstance(a, np.ndarray) and a.dtype == np.float64:
        return a.astype(np.float32)
    return a


@pytest.mark.parametrize("name,case", ALL_CASES, ids=CASE_IDS)
def test_float32_arguments_get_float32_gradients(name, case):
    def loss(*args):
        return ops.sum(ops.real(case.fun(*args)))

    argnums = tuple(range(len(case.args)))
    single = [_to_single(a) for a in case.args]
    _, grads32 = ddsp_ref.value_and_grad(loss, argnums=argnums)(*single)
    _, grads64 = ddsp_ref.value_and_grad(loss, argnums=argnums)(*case.args)
    for a, g32, g64 in zip(single, grads32, grads64, strict=True):
        assert g32.dtype == a.dtype, f"{name}: {a.dtype} argument got a {g32.dtype} gradient"
        scale = max(np.linalg.norm(g64), 1.0)
        assert np.linalg.norm(g32 - g64) <= 1e-4 * scale, name
