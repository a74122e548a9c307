"""Reductions over axes (sum, mean, max, min, prod, logsumexp), standardisation over axes and
cumulative sums."""

from __future__ import annotations

import builtins

from .tape import Primitive


def normalize_axes(axis, ndim: int) -> tuple:
    """``axis`` (None, int or tuple, negatives allowed) as a sorted tuple of non-negative ints."""
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    out = []
    for a in axes:
        if not -ndim <= a < builtins.max(ndim, 1):
            raise ValueError(f"axis {a} is out of range for an array of rank {ndim}")
        out.append(a % builtins.max(ndim, 1))
    return tuple(sorted(out))


def _restore(xp, g, shape, axis, keepdims):
    """Broadcast a reduced cotangent back to the input's ``shape``."""
    if not keepdims:
        axes = normalize_axes(axis, len(shape))
        g = xp.reshape(g, tuple(1 if i in axes else n for i, n in enumerate(shape)))
    return xp.broadcast_to(g, shape)


def _sum_fwd(xp, x, axis=None, keepdims=False):
    x = xp.asarray(x)
    return xp.sum(x, axis=axis, keepdims=keepdims), x.shape


def _sum_vjp(xp, shape, g, axis=None, keepdims=False):
    return (_restore(xp, g, shape, axis, keepdims),)


sum = Primitive("sum", _sum_fwd, _sum_vjp)  # noqa: A001 - mirrors numpy's name


def _mean_fwd(xp, x, axis=None, keepdims=False):
    x = xp.asarray(x)
    return xp.mean(x, axis=axis, keepdims=keepdims), x.shape


def _mean_vjp(xp, shape, g, axis=None, keepdims=False):
    count = 1
    for a in normalize_axes(axis, len(shape)):
        count *= shape[a]
    return (_restore(xp, g, shape, axis, keepdims) / count,)


mean = Primitive("mean", _mean_fwd, _mean_vjp)


def _make_extremum(name, reduce):
    def forward(xp, x, axis=None, keepdims=False):
        x = xp.asarray(x)
        out = reduce(xp, x, axis=axis, keepdims=keepdims)
        return out, (x, out)

    def vjp(xp, saved, g, axis=None, keepdims=False):
        x, out = saved
        hit = x == _restore(xp, out, x.shape, axis, keepdims)
        # Ties share the gradient equally, like TF's reduce_max.
        count = xp.sum(hit, axis=axis, keepdims=True)
        share = _restore(xp, g, x.shape, axis, keepdims) / xp.broadcast_to(count, x.shape)
        return (xp.where(hit, share, 0),)

    return Primitive(name, forward, vjp)


max = _make_extremum("max", lambda xp, x, **kw: xp.max(x, **kw))  # noqa: A001
min = _make_extremum("min", lambda xp, x, **kw: xp.min(x, **kw))  # noqa: A001


def _prod_fwd(xp, x, axis=None, keepdims=False):
    x = xp.asarray(x)
    return xp.prod(x, axis=axis, keepdims=keepdims), x


def _prod_vjp(xp, x, g, axis=None, keepdims=False):
    # d prod / d x_i = product of all other elements: exclusive cumulative products from both
    # sides, which stays exact when some x_j are zero.
    axes = normalize_axes(axis, x.ndim)
    rest = [i for i in range(x.ndim) if i not in axes]
    moved = xp.transpose(x, rest + list(axes))
    flat = moved.reshape(moved.shape[: len(rest)] + (-1,))
    ones = xp.ones(flat.shape[:-1] + (1,), dtype=flat.dtype)
    left = xp.cumprod(xp.concatenate([ones, flat[..., :-1]], axis=-1), axis=-1)
    right = xp.flip(
        xp.cumprod(xp.concatenate([ones, xp.flip(flat, -1)[..., :-1]], axis=-1), axis=-1), -1
    )
    others = (left * right).reshape(moved.shape)
    inverse = list(range(x.ndim))
    for dst, src in enumerate(rest + list(axes)):
        inverse[src] = dst
    others = xp.transpose(others, inverse)
    return (_restore(xp, g, x.shape, axis, keepdims) * others,)


prod = Primitive("prod", _prod_fwd, _prod_vjp)


def _lse_fwd(xp, x, axis=None, keepdims=False):
    x = xp.asarray(x)
    peak = xp.max(x, axis=axis, keepdims=True)
    peak = xp.where(xp.isfinite(peak), peak, 0)
    out = xp.log(xp.sum(xp.exp(x - peak), axis=axis, keepdims=True)) + peak
    saved = (x, out)
    if not keepdims:
        out = xp.squeeze(out, axis=normalize_axes(axis, x.ndim))
    return out, saved


def _lse_vjp(xp, saved, g, axis=None, keepdims=False):
    x, out = saved
    return (_restore(xp, g, x.shape, axis, keepdims) * xp.exp(x - out),)


logsumexp = Primitive("logsumexp", _lse_fwd, _lse_vjp)


def _standardize_fwd(xp, x, axis=-1, eps=0.0):
    x = xp.asarray(x)
    xhat = x - xp.mean(x, axis=axis, keepdims=True)
    rstd = 1 / xp.sqrt(xp.mean(xhat * xhat, axis=axis, keepdims=True) + xhat.dtype.type(eps))
    xhat *= rstd  # a fresh array: normalised in place, then shared by output and backward
    return xhat, (xhat, rstd)


def _standardize_vjp(xp, saved, g, axis=-1, eps=0.0):
    xhat, rstd = saved
    mean_g = xp.mean(g, axis=axis, keepdims=True)
    mean_gx = xp.mean(g * xhat, axis=axis, keepdims=True)
    return (rstd * (g - mean_g - xhat * mean_gx),)


# One node where the composed ops (mean, subtract, square, mean, add, sqrt, divide) take seven,
# each keeping an array for the backward: keras' LayerNormalization and ddsp's normalize_op.
_standardize = Primitive("standardize", _standardize_fwd, _standardize_vjp)


def standardize(x, axis=-1, eps: float = 0.0):
    """``(x - mean) / sqrt(var + eps)`` with the mean and population variance over ``axis``
    (an int or a tuple of ints); same shape as ``x`` (real floating). Differentiable in ``x``."""
    axis = tuple(axis) if isinstance(axis, (list, tuple)) else int(axis)
    return _standardize(x, axis=axis, eps=float(eps))


def _cumsum_raw(xp, x, axis, exclusive, reverse):
    if reverse:
        x = xp.flip(x, axis)
    out = xp.cumsum(x, axis=axis)
    if exclusive:  # shift by one (exact, unlike subtracting x again)
        out = xp.moveaxis(out, axis, -1)
        out = xp.concatenate([xp.zeros_like(out[..., :1]), out[..., :-1]], axis=-1)
        out = xp.moveaxis(out, -1, axis)
    return xp.flip(out, axis) if reverse else out


def _cumsum_fwd(xp, x, axis=-1, exclusive=False, reverse=False):
    return _cumsum_raw(xp, xp.asarray(x), axis, exclusive, reverse), None


def _cumsum_vjp(xp, saved, g, axis=-1, exclusive=False, reverse=False):
    # The adjoint of a forward running sum is the backward running sum.
    return (_cumsum_raw(xp, g, axis, exclusive, not reverse),)


_cumsum = Primitive("cumsum", _cumsum_fwd, _cumsum_vjp)


def cumsum(x, axis: int = -1, exclusive: bool = False, reverse: bool = False):
    """Running sum along ``axis`` (tf.cumsum semantics for ``exclusive`` and ``reverse``)."""
    return _cumsum(x, axis=axis, exclusive=exclusive, reverse=reverse)


__all__ = ["sum", "mean", "max", "min", "prod", "logsumexp", "standardize", "cumsum",
           "normalize_axes"]  # fmt: skip
