"""Gradient-check cases for every registered autodiff op (ddsp_ref.autodiff.REGISTRY).

``CASES[op_name]`` is a list of :class:`Case`: a function of float64 (or complex128) arrays that
calls the op, inputs drawn from the op's valid domain (away from kinks and branch cuts), and
where numpy has the same function a float64 numpy reference for the forward values. Integer
index arrays and boolean masks are closed over, so every array argument is differentiated.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ddsp_ref.autodiff import ops
from ddsp_ref.autodiff.fused import oscillators as fused
from ddsp_ref.autodiff.fused.spectral_loss import spectral_terms
from ddsp_ref.core.resampling import resample_taps


@dataclass
class Case:
    label: str
    fun: Callable
    args: tuple
    ref: Callable | None = None  # numpy function of the same args, for the forward values


_rng = np.random.default_rng(20240607)


def r(*shape: int) -> np.ndarray:
    """Standard normal float64."""
    return _rng.standard_normal(shape)


def u(lo: float, hi: float, *shape: int) -> np.ndarray:
    """Uniform float64 in [lo, hi]."""
    return _rng.uniform(lo, hi, shape)


def c(*shape: int) -> np.ndarray:
    """Standard complex normal complex128."""
    return _rng.standard_normal(shape) + 1j * _rng.standard_normal(shape)


def away_from_zero(*shape: int) -> np.ndarray:
    """Random signs times magnitudes in [0.3, 2] (no kink of abs / relu / sign at 0)."""
    return u(0.3, 2.0, *shape) * np.where(_rng.random(shape) < 0.5, -1.0, 1.0)


# Arguments are positional; `K` builds a Case with numpy's op as the forward reference.
def K(label: str, fun: Callable, *args: Any, ref: Callable | None = None) -> Case:
    return Case(label, fun, args, ref)


def _binary_cases(name: str, np_fun: Callable) -> list[Case]:
    op = getattr(ops, name)
    return [
        K("same shape", op, r(3, 4), u(0.5, 2, 3, 4), ref=np_fun),
        K("broadcast (3,1)x(4,)", op, r(3, 1), u(0.5, 2, 4), ref=np_fun),
        K("broadcast (2,1,4)x(3,1)", op, r(2, 1, 4), u(0.5, 2, 3, 1), ref=np_fun),
        K("python scalar left", lambda b: op(1.5, b), u(0.5, 2, 5), ref=lambda b: np_fun(1.5, b)),
        K("python scalar right", lambda a: op(a, 0.7), r(5), ref=lambda a: np_fun(a, 0.7)),
        K("0-d", op, r(), u(0.5, 2, 2, 3), ref=np_fun),
    ]


def _elementwise_cases() -> dict[str, list[Case]]:
    cases = {
        name: _binary_cases(name, getattr(np, name))
        for name in ("add", "subtract", "multiply", "divide")
    }
    cases["multiply"].append(K("complex", ops.multiply, c(3, 2), c(2), ref=np.multiply))
    cases["divide"].append(K("complex", ops.divide, c(3, 2), c(2) + 3, ref=np.divide))
    cases["add"].append(K("complex+real", ops.add, c(4), r(3, 4), ref=np.add))
    cases["power"] = [
        K("array**array", ops.power, u(0.5, 2, 3, 4), r(4), ref=np.power),
        K("array**3", lambda a: ops.power(a, 3.0), r(6), ref=lambda a: a**3.0),
        K("2**array", lambda b: ops.power(2.0, b), r(2, 3), ref=lambda b: 2.0**b),
        K("0**2", lambda a: ops.power(a, 2.0), np.array([0.0, 1.5]), ref=lambda a: a**2.0),
    ]
    ties_a = np.array([[1.0, 2.0, -1.0], [0.5, 3.0, 4.0]])
    ties_b = np.array([1.0, 0.0, -1.0])  # ties in columns 0 and 2 of row 0
    for name in ("maximum", "minimum"):
        op, np_op = getattr(ops, name), getattr(np, name)
        cases[name] = [
            K("broadcast", op, r(3, 4), r(4), ref=np_op),
            K("ties", op, ties_a, ties_b, ref=np_op),
            K("scalar", lambda a, op=op: op(a, 0.1), away_from_zero(5) + 0.1,
              ref=lambda a, np_op=np_op: np_op(a, 0.1)),
        ]  # fmt: skip
    cases["mod"] = [
        K("array mod array", ops.mod, np.array([5.3, -2.2, 7.9, 0.4]),
          np.array([2.0, 1.5, 3.0, 0.7]), ref=np.mod),
        K("mod 2pi", lambda a: ops.mod(a, 2 * np.pi), np.array([-7.0, 1.0, 8.0, 20.0]),
          ref=lambda a: np.mod(a, 2 * np.pi)),
    ]  # fmt: skip
    cond = np.array([[True], [False], [True]])
    cases["where"] = [
        K("broadcast cond", lambda a, b: ops.where(cond, a, b), r(3, 4), r(4),
          ref=lambda a, b: np.where(cond, a, b)),
        K("scalar branch", lambda a: ops.where(a > 0, a, 0.0), away_from_zero(6),
          ref=lambda a: np.where(a > 0, a, 0.0)),
    ]  # fmt: skip
    x = np.array([-2.0, -0.5, 0.2, 0.7, 1.8])
    cases["clip"] = [
        K("scalar bounds", lambda v: ops.clip(v, -1.0, 1.0), x, ref=lambda v: np.clip(v, -1, 1)),
        K("array bounds", ops.clip, x, np.full(5, -1.0), np.full(5, 1.0), ref=np.clip),
        K("upper only", lambda v: ops.clip(v, None, 0.5), x, ref=lambda v: np.minimum(v, 0.5)),
    ]
    cases["leaky_relu"] = [
        K("default alpha", ops.leaky_relu, away_from_zero(3, 4),
          ref=lambda v: np.where(v > 0, v, 0.2 * v)),
        K("alpha 0.01", lambda v: ops.leaky_relu(v, alpha=0.01), away_from_zero(5),
          ref=lambda v: np.where(v > 0, v, 0.01 * v)),
    ]  # fmt: skip
    cases["abs"] = [
        K("real", ops.abs, away_from_zero(3, 4), ref=np.abs),
        K("complex", ops.abs, c(5) + 0.1, ref=np.abs),
    ]
    return cases


# name -> (domain sampler, numpy reference)
_UNARY_DOMAINS: dict[str, tuple[Callable, Callable]] = {
    "negative": (lambda: r(3, 4), np.negative),
    "exp": (lambda: r(3, 4), np.exp),
    "log": (lambda: u(0.2, 5, 3, 4), np.log),
    "log1p": (lambda: u(-0.5, 3, 3, 4), np.log1p),
    "sqrt": (lambda: u(0.2, 5, 3, 4), np.sqrt),
    "sin": (lambda: 3 * r(3, 4), np.sin),
    "cos": (lambda: 3 * r(3, 4), np.cos),
    "tan": (lambda: u(-1.2, 1.2, 3, 4), np.tan),
    "tanh": (lambda: 2 * r(3, 4), np.tanh),
    "sigmoid": (lambda: 4 * r(3, 4), lambda v: 1 / (1 + np.exp(-v))),
    "softplus": (lambda: 4 * r(3, 4), lambda v: np.log1p(np.exp(v))),
    "relu": (lambda: away_from_zero(3, 4), lambda v: np.maximum(v, 0)),
    "square": (lambda: r(3, 4), np.square),
    "sign": (lambda: away_from_zero(3, 4), np.sign),
    # piecewise constant: points away from the jumps (integers, and .5 for round)
    "floor": (lambda: np.floor(3 * r(3, 4)) + u(0.1, 0.9, 3, 4), np.floor),
    "round": (lambda: np.floor(3 * r(3, 4)) + u(0.1, 0.4, 3, 4), np.round),
}


def _unary_cases() -> dict[str, list[Case]]:
    cases = {}
    for name, (sample, np_ref) in _UNARY_DOMAINS.items():
        op = getattr(ops, name)
        cases[name] = [
            K("3x4", op, sample(), ref=np_ref),
            K("0-d", op, np.asarray(sample()[0, 0]), ref=np_ref),
        ]
    cases["exp"].append(K("complex", ops.exp, 0.5 * c(4), ref=np.exp))
    cases["square"].append(K("complex", ops.square, c(4), ref=np.square))
    return cases


def _reduction_cases() -> dict[str, list[Case]]:
    cases: dict[str, list[Case]] = {}
    x = r(2, 3, 4)
    for name in ("sum", "mean", "logsumexp"):
        op = getattr(ops, name)
        np_op = _np_logsumexp if name == "logsumexp" else getattr(np, name)
        cases[name] = [
            K(f"axis={axis} keepdims={keep}",
              lambda v, op=op, axis=axis, keep=keep: op(v, axis=axis, keepdims=keep), x,
              ref=lambda v, np_op=np_op, axis=axis, keep=keep: np_op(v, axis=axis, keepdims=keep))
            for axis in (None, 1, -1, (0, 2)) for keep in (False, True)
        ]  # fmt: skip
    cases["sum"].append(K("complex", lambda v: ops.sum(v, axis=0), c(3, 2),
                          ref=lambda v: np.sum(v, axis=0)))  # fmt: skip
    cases["sum"].append(K("Tensor.sum", lambda v: v.sum(axis=1), r(2, 3),
                          ref=lambda v: v.sum(axis=1)))  # fmt: skip
    # 2-way ties only: central differences at a 2-way tie average the two slopes, which is
    # exactly the even split of the VJP (3-way ties are checked in test_registry directly).
    ties = np.array([[1.0, 3.0, 3.0, 0.0], [2.0, -1.0, 2.0, 0.5], [0.1, 0.2, 0.3, 0.4]])
    for name in ("max", "min"):
        op, np_op = getattr(ops, name), getattr(np, name)
        t = ties if name == "max" else -ties
        cases[name] = [
            K(f"axis={axis} keepdims={keep}",
              lambda v, op=op, axis=axis, keep=keep: op(v, axis=axis, keepdims=keep), x,
              ref=lambda v, np_op=np_op, axis=axis, keep=keep: np_op(v, axis=axis, keepdims=keep))
            for axis in (None, 0, -1, (0, 2)) for keep in (False, True)
        ] + [
            K("ties along axis 1", lambda v, op=op: op(v, axis=1), t,
              ref=lambda v, np_op=np_op: np_op(v, axis=1)),
            K("tie overall", op, np.array([[1.0, 3.0], [3.0, 0.0]]) * (1 if name == "max" else -1),
              ref=np_op),
        ]  # fmt: skip
    with_zero = r(3, 4)
    with_zero[1, 2] = 0.0
    cases["prod"] = [
        K(f"axis={axis} keepdims={keep}",
          lambda v, axis=axis, keep=keep: ops.prod(v, axis=axis, keepdims=keep), with_zero,
          ref=lambda v, axis=axis, keep=keep: np.prod(v, axis=axis, keepdims=keep))
        for axis in (None, 1, (0, 1), -2) for keep in (False, True)
    ]  # fmt: skip
    cases["cumsum"] = [
        K(f"axis={axis} exclusive={ex} reverse={rev}",
          lambda v, axis=axis, ex=ex, rev=rev: ops.cumsum(v, axis=axis, exclusive=ex, reverse=rev),
          r(3, 5), ref=lambda v, axis=axis, ex=ex, rev=rev: _np_cumsum(v, axis, ex, rev))
        for axis in (0, -1) for ex in (False, True) for rev in (False, True)
    ]  # fmt: skip
    cases["standardize"] = [
        K(f"axis={axis} eps={eps}",
          lambda v, axis=axis, eps=eps: ops.standardize(v, axis=axis, eps=eps), x,
          ref=lambda v, axis=axis, eps=eps: _np_standardize(v, axis, eps))
        for axis in (-1, 1, (0, 2), (1, 2)) for eps in (0.0, 1e-3)
    ]  # fmt: skip
    return cases


def _np_standardize(v, axis, eps):
    """Two-pass textbook formula in float64."""
    n = np.prod([v.shape[a] for a in np.atleast_1d(axis)])
    mean = v.sum(axis=axis, keepdims=True) / n
    var = ((v - mean) ** 2).sum(axis=axis, keepdims=True) / n
    return (v - mean) / np.sqrt(var + eps)


def _np_logsumexp(v, axis=None, keepdims=False):
    return np.log(np.sum(np.exp(v), axis=axis, keepdims=keepdims))


def _np_cumsum(v, axis, exclusive, reverse):
    """tf.cumsum semantics written with explicit loops (independent of the op)."""
    v = np.moveaxis(v, axis, -1)
    n = v.shape[-1]
    out = np.zeros_like(v)
    for i in range(n):
        idx = range(i, n) if reverse else range(i + 1)
        idx = [j for j in idx if not (exclusive and j == i)]
        out[..., i] = v[..., idx].sum(-1) if idx else 0.0
    return np.moveaxis(out, -1, axis)


def _shape_cases() -> dict[str, list[Case]]:
    x = r(2, 3, 4)
    cases = {
        "reshape": [
            K("to (6,4)", lambda v: ops.reshape(v, (6, 4)), x, ref=lambda v: v.reshape(6, 4)),
            K("-1", lambda v: ops.reshape(v, -1), x, ref=lambda v: v.reshape(-1)),
            K("Tensor.reshape", lambda v: v.reshape(4, 6), x, ref=lambda v: v.reshape(4, 6)),
        ],
        "transpose": [
            K("reverse", ops.transpose, x, ref=np.transpose),
            K("(1,2,0)", lambda v: ops.transpose(v, (1, 2, 0)), x,
              ref=lambda v: v.transpose(1, 2, 0)),
            K("negative axes", lambda v: ops.transpose(v, (-1, 0, 1)), x,
              ref=lambda v: v.transpose(2, 0, 1)),
            K("Tensor.T", lambda v: v.T, r(3, 2), ref=lambda v: v.T),
        ],
        "moveaxis": [
            K("0->-1", lambda v: ops.moveaxis(v, 0, -1), x, ref=lambda v: np.moveaxis(v, 0, -1)),
            K("two axes", lambda v: ops.moveaxis(v, (0, 2), (2, 0)), x,
              ref=lambda v: np.moveaxis(v, (0, 2), (2, 0))),
        ],
        "expand_dims": [
            K("axis 1", lambda v: ops.expand_dims(v, 1), r(3, 4),
              ref=lambda v: np.expand_dims(v, 1)),
            K("axis -1", lambda v: ops.expand_dims(v, -1), r(3), ref=lambda v: v[:, None]),
            K("tuple", lambda v: ops.expand_dims(v, (0, 2)), r(3),
              ref=lambda v: np.expand_dims(v, (0, 2))),
        ],
        "squeeze": [
            K("all", ops.squeeze, r(1, 3, 1), ref=np.squeeze),
            K("axis 2", lambda v: ops.squeeze(v, 2), r(1, 3, 1), ref=lambda v: v[:, :, 0]),
        ],
        "broadcast_to": [
            K("(3,1)->(2,3,4)", lambda v: ops.broadcast_to(v, (2, 3, 4)), r(3, 1),
              ref=lambda v: np.broadcast_to(v, (2, 3, 4))),
            K("0-d", lambda v: ops.broadcast_to(v, (3,)), r(), ref=lambda v: np.full(3, v)),
        ],
        "concatenate": [
            K("axis 1, three parts", lambda a, b, d: ops.concatenate([a, b, d], axis=1),
              r(2, 1), r(2, 3), r(2, 2), ref=lambda a, b, d: np.concatenate([a, b, d], axis=1)),
            K("axis 0", lambda a, b: ops.concatenate([a, b]), r(2), r(3),
              ref=lambda a, b: np.concatenate([a, b])),
        ],
        "stack": [
            K("axis 0", lambda a, b: ops.stack([a, b]), r(3), r(3),
              ref=lambda a, b: np.stack([a, b])),
            K("axis -1", lambda a, b, d: ops.stack([a, b, d], axis=-1), r(2, 3), r(2, 3), r(2, 3),
              ref=lambda a, b, d: np.stack([a, b, d], axis=-1)),
        ],
        "flip": [
            K("all", ops.flip, x, ref=np.flip),
            K("axis 0", lambda v: ops.flip(v, 0), x, ref=lambda v: np.flip(v, 0)),
            K("axes (0,2)", lambda v: ops.flip(v, (0, 2)), x, ref=lambda v: np.flip(v, (0, 2))),
        ],
        "tile": [
            K("int", lambda v: ops.tile(v, 2), r(2, 3), ref=lambda v: np.tile(v, 2)),
            K("longer reps", lambda v: ops.tile(v, (2, 1, 3)), r(2, 3),
              ref=lambda v: np.tile(v, (2, 1, 3))),
        ],
        "astype": [
            K("to complex128", lambda v: ops.astype(v, np.complex128), r(3),
              ref=lambda v: v.astype(np.complex128)),
            K("float64 to float64", lambda v: ops.astype(v, np.float64), r(3), ref=lambda v: v),
            K("Tensor.astype", lambda v: v.astype(np.complex128) * (1 + 2j), r(2),
              ref=lambda v: v * (1 + 2j)),
        ],
    }  # fmt: skip
    cases["pad"] = [
        K("constant", lambda v: ops.pad(v, ((1, 2), (0, 3))), r(3, 4),
          ref=lambda v: np.pad(v, ((1, 2), (0, 3)))),
        K("constant value", lambda v: ops.pad(v, 2, constant_values=1.5), r(3),
          ref=lambda v: np.pad(v, 2, constant_values=1.5)),
    ] + [
        K(mode, lambda v, mode=mode: ops.pad(v, ((2, 3), (1, 0)), mode=mode), r(4, 3),
          ref=lambda v, mode=mode: np.pad(v, ((2, 3), (1, 0)), mode=mode))
        for mode in ("reflect", "edge", "symmetric", "wrap")
    ] + [  # padding longer than the signal: repeated reflections / wraps
        K(f"{mode} long", lambda v, mode=mode: ops.pad(v, (5, 4), mode=mode), r(3),
          ref=lambda v, mode=mode: np.pad(v, (5, 4), mode=mode))
        for mode in ("reflect", "symmetric", "wrap")
    ]  # fmt: skip
    return cases


def _indexing_cases() -> dict[str, list[Case]]:
    x = r(4, 5)
    idx = np.array([0, 2, 2, 3, 0])
    mask = np.array([True, False, True, True, False])
    basic = (slice(1, None), slice(None, None, -2))
    cases = {
        "getitem": [
            K("basic slices", lambda v: v[basic], x, ref=lambda v: v[basic]),
            K("int and None", lambda v: ops.getitem(v, (1, None, slice(1, 4))), x,
              ref=lambda v: v[1, None, 1:4]),
            K("ellipsis", lambda v: v[..., 2], r(2, 3, 4), ref=lambda v: v[..., 2]),
            K("int array with repeats", lambda v: v[idx], x, ref=lambda v: v[idx]),
            K("int array on axis 1", lambda v: v[:, idx], x, ref=lambda v: v[:, idx]),
            K("two int arrays", lambda v: v[idx[:3], np.array([1, 1, 4])], x,
              ref=lambda v: v[idx[:3], np.array([1, 1, 4])]),
            K("list index", lambda v: ops.getitem(v, [3, 3, 1]), x, ref=lambda v: v[[3, 3, 1]]),
            K("boolean mask", lambda v: v[:, mask], x, ref=lambda v: v[:, mask]),
            K("full boolean mask", lambda v: v[v > 0], x, ref=lambda v: v[v > 0]),
            K("split (composite)",
              lambda v: ops.split(v, 2, axis=0)[1] * ops.split(v, [1], 1)[0][2:], x,
              ref=lambda v: v[2:] * v[2:, :1]),
        ],
        "take": [
            K("axis None", lambda v: ops.take(v, idx), x, ref=lambda v: np.take(v, idx)),
            K("axis 1 repeats", lambda v: ops.take(v, idx, axis=1), x,
              ref=lambda v: np.take(v, idx, axis=1)),
            K("axis -2, 2-D indices", lambda v: ops.take(v, idx.reshape(1, 5), axis=-2), x,
              ref=lambda v: np.take(v, idx.reshape(1, 5), axis=-2)),
            K("scalar index", lambda v: ops.take(v, 3, axis=0), x, ref=lambda v: v[3]),
            K("repeat (composite)", lambda v: ops.repeat(v, 2, axis=1), r(2, 3),
              ref=lambda v: np.repeat(v, 2, axis=1)),
        ],
        "take_along_axis": [
            K("axis 1 repeats", lambda v: ops.take_along_axis(v, np.array([[0, 0, 4]] * 4), 1), x,
              ref=lambda v: np.take_along_axis(v, np.array([[0, 0, 4]] * 4), 1)),
            K("axis 0 broadcast index", lambda v: ops.take_along_axis(v, np.array([[1], [1]]), 0),
              x, ref=lambda v: np.take_along_axis(v, np.array([[1], [1]]), 0)),
            K("size-1 input axis", lambda v: ops.take_along_axis(v, np.array([[0, 2]] * 3), -1),
              r(1, 4), ref=lambda v: np.take_along_axis(v, np.array([[0, 2]] * 3), -1)),
        ],
    }  # fmt: skip
    return cases


def _linalg_cases() -> dict[str, list[Case]]:
    return {
        "matmul": [
            K("1-D @ 1-D", ops.matmul, r(4), r(4), ref=np.matmul),
            K("1-D @ 2-D", ops.matmul, r(4), r(4, 3), ref=np.matmul),
            K("2-D @ 1-D", ops.matmul, r(3, 4), r(4), ref=np.matmul),
            K("batched @ 2-D", ops.matmul, r(2, 3, 4), r(4, 5), ref=np.matmul),
            # folded into one GEMM: [2, 3, 2, 4] rows -> [12, 4] @ [4, 5]
            K("4-D @ 2-D", ops.matmul, r(2, 3, 2, 4), r(4, 5), ref=np.matmul),
            K("transposed batch @ 2-D", lambda a, b: ops.matmul(ops.transpose(a, (1, 0, 2)), b),
              r(3, 2, 4), r(4, 5), ref=lambda a, b: np.matmul(a.transpose(1, 0, 2), b)),
            K("broadcast batch", ops.matmul, r(1, 3, 4), r(2, 4, 2), ref=np.matmul),
            K("1-D @ batched", ops.matmul, r(4), r(2, 4, 3), ref=np.matmul),
            K("complex", ops.matmul, c(2, 3), c(3, 2), ref=np.matmul),
            K("Tensor @", lambda a, b: a @ b, r(2, 3), r(3), ref=np.matmul),
        ],
        "einsum": [
            K("ij,jk->ik", lambda a, b: ops.einsum("ij,jk->ik", a, b), r(2, 3), r(3, 4),
              ref=lambda a, b: np.einsum("ij,jk->ik", a, b)),
            K("implicit output", lambda a, b: ops.einsum("ij,jk", a, b), r(2, 3), r(3, 4),
              ref=lambda a, b: np.einsum("ij,jk", a, b)),
            K("ellipsis", lambda a, b: ops.einsum("...ij,...jk->...ik", a, b), r(2, 2, 3),
              r(3, 4), ref=lambda a, b: np.einsum("...ij,...jk->...ik", a, b)),
            K("letter summed in one operand", lambda a, b: ops.einsum("ij,kl->ik", a, b),
              r(2, 3), r(4, 5), ref=lambda a, b: np.einsum("ij,kl->ik", a, b)),
            K("full reduction", lambda a: ops.einsum("ij->", a), r(3, 2),
              ref=lambda a: np.einsum("ij->", a)),
            K("three operands", lambda a, b, d: ops.einsum("bi,ij,bj->b", a, b, d), r(2, 3),
              r(3, 4), r(2, 4), ref=lambda a, b, d: np.einsum("bi,ij,bj->b", a, b, d)),
            K("outer", lambda a, b: ops.einsum("i,j->ji", a, b), r(3), r(2),
              ref=lambda a, b: np.einsum("i,j->ji", a, b)),
            K("complex", lambda a, b: ops.einsum("ij,j->i", a, b), c(2, 3), c(3),
              ref=lambda a, b: np.einsum("ij,j->i", a, b)),
        ],
    }  # fmt: skip


def _fft_cases() -> dict[str, list[Case]]:
    cases = {
        "real": [K("complex", ops.real, c(3, 2), ref=np.real),
                 K("Tensor.real", lambda z: z.real * 2.0, c(3), ref=lambda z: 2 * z.real)],
        "imag": [K("complex", ops.imag, c(3, 2), ref=np.imag),
                 K("Tensor.imag", lambda z: z.imag, c(3), ref=np.imag)],
        "conj": [K("complex", ops.conj, c(3, 2), ref=np.conj),
                 K("Tensor.conj", lambda z: z.conj() * z, c(3), ref=lambda z: np.conj(z) * z)],
        # real part > 0 keeps the points away from the branch cut on the negative real axis
        "angle": [K("right half plane", ops.angle, u(0.3, 2, 5) + 1j * r(5), ref=np.angle),
                  K("upper half plane", ops.angle, r(4) + 1j * u(0.3, 2, 4), ref=np.angle)],
        "complex": [K("re, im", ops.make_complex, r(3), r(3), ref=lambda a, b: a + 1j * b),
                    K("broadcast", ops.make_complex, r(2, 3), r(3),
                      ref=lambda a, b: a + 1j * b)],
    }  # fmt: skip
    for name in ("fft", "ifft"):
        op, np_op = getattr(ops, name), getattr(np.fft, name)
        cases[name] = [
            K(f"{kind} n={n} axis={axis}", lambda z, op=op, n=n, axis=axis: op(z, n=n, axis=axis),
              z, ref=lambda z, np_op=np_op, n=n, axis=axis: np_op(z, n=n, axis=axis))
            for kind, z in (("complex", c(2, 6)), ("real", r(2, 6)))
            for n, axis in ((None, -1), (9, -1), (4, -1), (3, 0))
        ]  # fmt: skip
    cases["rfft"] = [
        K(f"n={n} axis={axis}", lambda v, n=n, axis=axis: ops.rfft(v, n=n, axis=axis), r(3, 8),
          ref=lambda v, n=n, axis=axis: np.fft.rfft(v, n=n, axis=axis))
        for n, axis in ((None, -1), (12, -1), (13, -1), (5, -1), (6, -1), (4, 0), (2, 0))
    ]  # fmt: skip
    cases["irfft"] = [
        K(f"n={n} axis={axis}", lambda z, n=n, axis=axis: ops.irfft(z, n=n, axis=axis), c(3, 5),
          ref=lambda z, n=n, axis=axis: np.fft.irfft(z, n=n, axis=axis))
        for n, axis in ((None, -1), (7, -1), (6, -1), (12, -1), (9, -1), (4, 0), (5, 0))
    ]  # fmt: skip
    return cases


def np_frame(x, frame_size, hop, pad_end=False, pad_value=0.0):
    """tf.signal.frame of the last axis, written with a loop over frames."""
    n = x.shape[-1]
    n_frames = -(-n // hop) if pad_end else (0 if n < frame_size else 1 + (n - frame_size) // hop)
    padded = np.full(x.shape[:-1] + (max(n, (n_frames - 1) * hop + frame_size),), pad_value)
    padded[..., :n] = x
    return np.stack([padded[..., f * hop : f * hop + frame_size] for f in range(n_frames)], -2)


def np_overlap_add(frames, hop):
    """tf.signal.overlap_and_add, written with a loop over frames."""
    n_frames, frame_size = frames.shape[-2:]
    out = np.zeros(frames.shape[:-2] + ((n_frames - 1) * hop + frame_size,), frames.dtype)
    for f in range(n_frames):
        out[..., f * hop : f * hop + frame_size] += frames[..., f, :]
    return out


def _framing_cases() -> dict[str, list[Case]]:
    frame_params = [(4, 3, False), (4, 3, True), (3, 5, False), (3, 5, True), (4, 4, True),
                    (1, 2, False)]  # fmt: skip
    cases = {
        "frame": [
            K(f"frame={f} hop={h} pad_end={p}",
              lambda v, f=f, h=h, p=p: ops.frame(v, f, h, pad_end=p), r(2, 13),
              ref=lambda v, f=f, h=h, p=p: np_frame(v, f, h, p))
            for f, h, p in frame_params
        ] + [
            K("frame longer than signal, pad_end", lambda v: ops.frame(v, 5, 2, pad_end=True),
              r(3), ref=lambda v: np_frame(v, 5, 2, True)),
            K("pad_value", lambda v: ops.frame(v, 4, 3, pad_end=True, pad_value=2.0), r(7),
              ref=lambda v: np_frame(v, 4, 3, True, 2.0)),
            K("axis 0", lambda v: ops.frame(v, 3, 2, axis=0), r(9, 2),
              ref=lambda v: np.moveaxis(np_frame(v.T, 3, 2), 0, -1)),
        ],
        "overlap_add": [
            K(f"hop={h}", lambda v, h=h: ops.overlap_add(v, h), r(2, 4, 5),
              ref=lambda v, h=h: np_overlap_add(v, h))
            for h in (1, 2, 5, 7)
        ] + [K("one frame", lambda v: ops.overlap_add(v, 3), r(1, 4),
               ref=lambda v: np_overlap_add(v, 3))],
    }  # fmt: skip
    return cases


def _fused_dsp_cases() -> dict[str, list[Case]]:
    """Ops registered by the DSP layers around fused kernels (their modules are imported at the
    top of this file so that the registry is complete whatever the import order)."""

    def spectral(t, a, l2=False):
        return spectral_terms(t, a, fft_sizes=(16, 8), w_mag=1.0, w_log=0.5, l2=l2)

    taps_f = resample_taps(3, 18, "linear")
    taps_w = resample_taps(3, 18, "window", np.float64)
    taps_n = resample_taps(3, 18, "nearest")
    ident = fused.Taps.identity(7)

    def harmonic(f0, amps, phase0, taps_a=taps_w):
        audio, final = fused.harmonic_bank(f0, amps, taps_f, taps_a, phase0, 16000)
        return ops.concatenate([audio, ops.reshape(final, (2, 1))], axis=1)

    def harmonic_audio(f, a):
        return fused.harmonic_bank(f, a, ident, ident, np.zeros(2), 16000)[0]

    def wrapped(x, exclusive=False):
        return np.mod(np.cumsum(x, axis=1) - (x if exclusive else 0.0), 2 * np.pi)

    return {
        # k * f0 stays below Nyquist (7500 < 8000 Hz): no mask boundary under perturbation.
        "fused_harmonic_bank": [
            K(
                "frame-rate f0, window amps, final phase",
                harmonic,
                u(100, 1500, 2, 3),
                u(0, 1, 2, 3, 5),
                u(0, 6, 2),
            ),
            K(
                "frame-rate f0, nearest amps, final phase",
                lambda f, a, p: harmonic(f, a, p, taps_n),
                u(100, 1500, 2, 3),
                u(0, 1, 2, 3, 5),
                u(0, 6, 2),
            ),
            K("sample-rate", harmonic_audio, u(100, 900, 2, 7), u(0, 1, 2, 7, 4)),
            K(
                "frame-rate, amplitudes times a gain",
                lambda f, a, p, g: ops.concatenate(
                    [
                        o if o.ndim == 2 else ops.reshape(o, (2, 1))
                        for o in fused.harmonic_bank(f, a, taps_f, taps_w, p, 16000, gain=g)
                    ],
                    axis=1,
                ),  # fmt: skip
                u(100, 1500, 2, 3),
                u(0, 1, 2, 3, 5),
                u(0, 6, 2),
                u(0.1, 1, 2, 3, 1),
            ),
        ],
        # Steps small enough that no partial sum crosses a multiple of 2 pi under perturbation.
        "wrapped_cumsum": [
            K("inclusive", lambda x: fused.wrapped_cumsum(x), u(0.01, 0.05, 2, 9), ref=wrapped),
            K(
                "exclusive, axis 2",
                lambda x: fused.wrapped_cumsum(x, axis=2, exclusive=True),
                u(0.01, 0.05, 2, 3, 9),
                ref=lambda x: np.moveaxis(wrapped(np.moveaxis(x, 2, 1), True), 1, 2),
            ),
        ],
        "fused_sinusoid_bank": [
            K(
                "sample-rate",
                lambda f, a: fused.sinusoid_bank(f, a, ident, ident, 16000),
                u(100, 7000, 2, 7, 3),
                u(0, 1, 2, 7, 3),
            ),
            K(
                "frame-rate",
                lambda f, a: fused.sinusoid_bank(f, a, taps_f, taps_w, 16000),
                u(100, 7000, 2, 3, 4),
                u(0, 1, 2, 3, 4),
            ),
        ],
        "fused_spectral_loss": [
            K("L1 mag + logmag", spectral, r(2, 40), r(2, 40)),
            K("L2 mag + logmag", lambda t, a: spectral(t, a, l2=True), r(2, 40), r(2, 40)),
            K("1-D audio", spectral, r(37), r(37)),
        ],
    }


def _rnn_cases() -> dict[str, list[Case]]:
    """The fused GRU / LSTM sequence ops (every output read; subsets of inputs and outputs are
    checked in tests/autodiff/test_fused_rnn.py)."""
    from ddsp_ref.autodiff.fused.rnn import gru_sequence, lstm_sequence

    def flat(*outs):
        return ops.concatenate([ops.reshape(o, (o.shape[0], -1)) for o in outs], axis=1)

    def lstm(x, w, u, b, h0=None, c0=None):
        return flat(*lstm_sequence(x, w, u, b, None if h0 is None else (h0, c0)))

    b, t, n_in, h = 2, 3, 2, 3
    gru_weights = (r(b, t, n_in), 0.6 * r(n_in, 3 * h), 0.6 * r(h, 3 * h), 0.3 * r(2, 3 * h))
    lstm_weights = (r(b, t, n_in), 0.6 * r(n_in, 4 * h), 0.6 * r(h, 4 * h), 0.3 * r(4 * h))
    return {
        "fused_gru": [
            K("initial state", lambda *a: flat(*gru_sequence(*a)), *gru_weights, r(b, h)),
            K("zero initial state", lambda *a: flat(*gru_sequence(*a)), *gru_weights),
        ],
        "fused_lstm": [
            K("initial state", lstm, *lstm_weights, r(b, h), r(b, h)),
            K("zero initial state", lstm, *lstm_weights),
        ],
    }


def _conv_cases() -> dict[str, list[Case]]:
    """The im2col convolution op (forward against direct loops and every input subset in
    tests/training/test_conv.py)."""
    from ddsp_ref.autodiff.fused.conv import conv1d, conv1d_transpose

    return {
        "conv1d_transpose": [
            K(f"k={k} stride={s}", lambda x, w, b, s=s: conv1d_transpose(x, w, b, s),
              r(2, 4, 3), r(k, 2, 3), r(2))
            for k, s in [(4, 2), (6, 3), (1, 2), (3, 1)]
        ],
        "conv1d": [
            K(f"k={k} dilation={d} stride={s} {p}",
              lambda x, w, b, d=d, s=s, p=p: conv1d(x, w, b, d, s, p),
              r(2, 7, 3), r(k, 3, 2), r(2))
            for k, d, s, p in [(3, 1, 1, "same"), (4, 2, 1, "same"), (2, 1, 3, "same"),
                               (3, 2, 2, "valid")]
        ],
    }  # fmt: skip


def _np_fc(x, w, b, gamma, beta, alpha=0.2, eps=1e-3):
    """ddsp's Fc block in float64 numpy: Dense, keras LayerNormalization, leaky ReLU."""
    h = x @ w + b
    c = h - h.mean(-1, keepdims=True)
    z = c / np.sqrt((c * c).mean(-1, keepdims=True) + eps) * gamma + beta
    return np.where(z > 0, z, alpha * z)


def _dense_cases() -> dict[str, list[Case]]:
    """The fused Fc op (subsets of inputs in test_registry; kernels in tests/kernels)."""
    from ddsp_ref.autodiff.fused.dense import dense_layer_norm

    def fc(alpha):
        return lambda *a: dense_layer_norm(*a, alpha=alpha)

    w = (r(4, 5), 0.3 * r(5), 1.0 + 0.2 * r(5), 0.3 * r(5))
    return {
        "fused_dense_layer_norm": [
            K("leaky [2, 3, 4]", fc(0.2), r(2, 3, 4), *w, ref=_np_fc),
            K("relu [3, 4]", fc(0.0), r(3, 4), *w, ref=lambda *a: _np_fc(*a, alpha=0.0)),
            K("one channel in", fc(0.2), r(2, 3, 1), r(1, 5), *w[1:], ref=_np_fc),
        ],
    }


def build_cases() -> dict[str, list[Case]]:
    cases: dict[str, list[Case]] = {}
    for part in (_elementwise_cases(), _unary_cases(), _reduction_cases(), _shape_cases(),
                 _indexing_cases(), _linalg_cases(), _fft_cases(), _framing_cases(),
                 _fused_dsp_cases(), _rnn_cases(), _conv_cases(), _dense_cases()):  # fmt: skip
        for name, items in part.items():
            cases.setdefault(name, []).extend(items)
    return cases


CASES: dict[str, list[Case]] = build_cases()

# (op name, Case) pairs for pytest parametrisation, with readable ids.
ALL_CASES = [(name, case) for name in sorted(CASES) for case in CASES[name]]
CASE_IDS = [f"{name}[{case.label}]" for name, case in ALL_CASES]
