"""check_grads: compare reverse-mode gradients with float64 central differences."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..backend import array_namespace, to_numpy
from .api import stop_gradient, value_and_grad
from .pytree import tree_flatten, tree_map
from .tape import is_float_dtype


class GradientCheckError(AssertionError):
    """Raised when an analytic gradient disagrees with finite differences."""


def _has_float_leaves(tree: Any) -> bool:
    leaves, _ = tree_flatten(tree)
    return bool(leaves) and all(hasattr(x, "dtype") and is_float_dtype(x.dtype) for x in leaves)


def _to_float64(xp, x):
    if hasattr(x, "dtype") and is_float_dtype(x.dtype):
        return x.astype(xp.complex128 if xp.iscomplexobj(x) else xp.float64)
    return x


def _real_projection(xp, out, cotangent):
    """<out, cotangent> as a real scalar (real and imaginary parts both count)."""
    if xp.iscomplexobj(out):
        return xp.sum(xp.real(out) * xp.real(cotangent) + xp.imag(out) * xp.imag(cotangent))
    return xp.sum(out * cotangent)


def _projection_magnitude(xp, out, cotangent) -> float:
    """sum |out_i * cot_i|: the size of the terms whose float64 rounding the finite
    differences see (the projection itself can be small by cancellation)."""
    out = xp.asarray(stop_gradient(out))
    terms = xp.abs(xp.real(out) * xp.real(cotangent)) + xp.abs(xp.imag(out) * xp.imag(cotangent))
    return float(to_numpy(xp.sum(terms)))


def _random_like(rng, xp, x):
    sample = rng.standard_normal(np.shape(x))
    if xp.iscomplexobj(x):
        sample = sample + 1j * rng.standard_normal(np.shape(x))
    return xp.asarray(sample)


def check_grads(
    fun: Callable,
    *args: Any,
    argnums: int | Sequence[int] | None = None,
    eps: float = 1e-6,
    rtol: float = 1e-5,
    atol: float | None = None,
    n_directions: int = 3,
    seed: int = 0,
) -> None:
    """Check the VJP of ``fun`` against float64 central differences along random directions.

    ``fun`` may return any array (or a Tensor); it is projected onto a random cotangent so the
    check covers the whole Jacobian. For each random direction ``v`` the directional
    derivative ``(f(x + eps v) - f(x - eps v)) / (2 eps)`` must match ``<grad f(x), v>``.
    Gradient shapes and dtypes must equal the arguments'.

    Args:
        fun: the function to check.
        *args: its arguments; floating arrays are promoted to float64 / complex128 copies.
        argnums: arguments to differentiate (default: every floating-array argument).
        eps: finite-difference step.
        rtol: relative tolerance: ``|numeric - analytic| <= atol + rtol * max(|numeric|,
            |analytic|)``. Relative to the derivative itself, so a VJP wrong by a factor of 2
            fails however small the gradient is.
        atol: absolute floor; by default the finite-difference rounding noise,
            ``64 * eps_float64 * sum|f_i * cot_i| / eps`` (float64 rounding of the projected
            output, divided by the step): a gradient is only excused where the finite
            differences cannot resolve it.
        n_directions: number of random directions.
        seed: seed for the cotangent and the directions.

    Raises:
        GradientCheckError: with the op, direction and both numbers on a mismatch.
    """
    xp = array_namespace(*[leaf for a in args for leaf in tree_flatten(a)[0]])
    args = [tree_map(lambda x: _to_float64(xp, x), a) for a in args]
    if argnums is None:  # every argument that is (or is a pytree of) floating arrays
        argnums = tuple(i for i, a in enumerate(args) if _has_float_leaves(a))
    nums = (argnums,) if isinstance(argnums, int) else tuple(argnums)
    if not nums:
        raise ValueError("check_grads: no floating-array argument to differentiate")
    rng = np.random.default_rng(seed)
    base_out = fun(*args)
    base_out = stop_gradient(base_out)  # not getattr(.., "data"): cupy arrays have a .data too
    cotangent = _random_like(rng, xp, xp.asarray(base_out))
    if atol is None:
        magnitude = _projection_magnitude(xp, base_out, cotangent)
        atol = 64.0 * np.finfo(np.float64).eps * max(magnitude, np.finfo(np.float64).tiny) / eps

    def scalar_fun(*a):
        return _real_projection(xp, fun(*a), cotangent)

    def projected(*a):  # traced version: Tensor arithmetic records the projection too
        from . import ops

        out = fun(*a)
        if xp.iscomplexobj(stop_gradient(out)):
            return ops.sum(ops.real(out) * xp.real(cotangent) + ops.imag(out) * xp.imag(cotangent))
        return ops.sum(out * cotangent)

    _, grads = value_and_grad(projected, argnums=nums)(*args)
    for k, a in enumerate(nums):
        g_leaves, _ = tree_flatten(grads[k])
        x_leaves, _ = tree_flatten(args[a])
        for i, (g, x) in enumerate(zip(g_leaves, x_leaves)):
            if tuple(g.shape) != tuple(x.shape) or g.dtype != x.dtype:
                raise GradientCheckError(
                    f"gradient of argument {a} leaf {i} has shape {tuple(g.shape)} dtype "
                    f"{g.dtype}; the argument has shape {tuple(x.shape)} dtype {x.dtype}"
                )

    for d in range(n_directions):
        shifted_plus, shifted_minus = list(args), list(args)
        analytic = 0.0
        for k, a in enumerate(nums):
            x_leaves, rebuild = tree_flatten(args[a])
            g_leaves, _ = tree_flatten(grads[k])
            v_leaves = [_random_like(rng, xp, x) for x in x_leaves]
            shifted_plus[a] = rebuild([x + eps * v for x, v in zip(x_leaves, v_leaves)])
            shifted_minus[a] = rebuild([x - eps * v for x, v in zip(x_leaves, v_leaves)])
            for g, v in zip(g_leaves, v_leaves):
                analytic += float(to_numpy(xp.real(xp.sum(xp.conj(g) * v))))
        numeric = float(to_numpy(scalar_fun(*shifted_plus) - scalar_fun(*shifted_minus))) / (
            2 * eps
        )
        scale = max(abs(numeric), abs(analytic))
        if not np.isfinite(analytic) or abs(numeric - analytic) > atol + rtol * scale:
            name = getattr(fun, "__name__", repr(fun))
            raise GradientCheckError(
                f"check_grads({name}): direction {d}: finite differences give {numeric:.10g}, "
                f"the VJP gives {analytic:.10g} (difference {abs(numeric - analytic):.3g}, "
                f"tolerance {atol + rtol * scale:.3g})"
            )
