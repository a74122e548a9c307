"""Gathers: indexing/slicing, take, take_along_axis; their adjoints are scatter-adds."""

from __future__ import annotations

from ..backend import scatter_add, scatter_add_along_axis
from .tape import Primitive
from .tensor import Tensor


def _unwrap_index(index):
    if isinstance(index, Tensor):
        return index.data
    if isinstance(index, tuple):
        return tuple(i.data if isinstance(i, Tensor) else i for i in index)
    return index


def _has_integer_array(xp, index) -> bool:
    parts = index if isinstance(index, tuple) else (index,)
    for part in parts:
        if isinstance(part, list):
            part = xp.asarray(part)
        if hasattr(part, "dtype") and part.dtype.kind in "iu":
            return True
    return False


def _getitem_fwd(xp, x, index):
    x = xp.asarray(x)
    return x[index], (x.shape, x.dtype)


def _getitem_vjp(xp, saved, g, index):
    shape, dtype = saved
    out = xp.zeros(shape, dtype=g.dtype)
    if _has_integer_array(xp, index):
        scatter_add(xp, out, index, g)  # repeated indices accumulate
    else:
        out[index] = g
    return (out,)


_getitem = Primitive("getitem", _getitem_fwd, _getitem_vjp)


def getitem(x, index):
    """``x[index]`` for basic slicing, integer arrays and boolean masks."""
    return _getitem(x, index=_unwrap_index(index))


def _take_fwd(xp, x, indices, axis=None):
    x = xp.asarray(x)
    return xp.take(x, indices, axis=axis), x.shape


def _take_vjp(xp, shape, g, indices, axis=None):
    if axis is not None and getattr(indices, "ndim", 0) == 1:
        return (scatter_add_along_axis(xp, shape, indices, g, axis % len(shape)),)
    out = xp.zeros(shape, dtype=g.dtype)
    if axis is None:
        flat = out.reshape(-1)
        scatter_add(xp, flat, xp.asarray(indices), g)
        return (flat.reshape(shape),)
    axis = axis % len(shape)
    scatter_add(xp, out, (slice(None),) * axis + (xp.asarray(indices),), g)
    return (out,)


_take = Primitive("take", _take_fwd, _take_vjp)


def take(x, indices, axis=None):
    """numpy.take: gather ``indices`` along ``axis`` (flattened when None)."""
    xp_indices = indices.data if isinstance(indices, Tensor) else indices
    if not isinstance(xp_indices, int):
        from ..backend import array_namespace

        xp_indices = array_namespace(x, xp_indices).asarray(xp_indices)
    return _take(x, indices=xp_indices, axis=axis)


def _full_index(xp, indices, axis, out_shape, in_shape):
    """Index tuple addressing every element that take_along_axis picked (broadcasting aware)."""
    indices = xp.broadcast_to(indices, out_shape)
    index = []
    for d, n in enumerate(out_shape):
        if d == axis:
            index.append(indices)
            continue
        shape = [1] * len(out_shape)
        shape[d] = n
        # An input axis of length 1 was broadcast: every output position reads element 0.
        positions = xp.arange(n) if in_shape[d] != 1 else xp.zeros(n, dtype=xp.int64)
        index.append(positions.reshape(shape))
    return tuple(xp.broadcast_arrays(*index))


def _tala_fwd(xp, x, indices, axis):
    x = xp.asarray(x)
    return xp.take_along_axis(x, indices, axis=axis), x.shape


def _tala_vjp(xp, shape, g, indices, axis):
    out = xp.zeros(shape, dtype=g.dtype)
    scatter_add(xp, out, _full_index(xp, indices, axis % len(shape), g.shape, shape), g)
    return (out,)


_take_along_axis = Primitive("take_along_axis", _tala_fwd, _tala_vjp)


def take_along_axis(x, indices, axis: int):
    """numpy.take_along_axis (``indices`` must have the rank of ``x``)."""
    from ..backend import array_namespace

    raw = indices.data if isinstance(indices, Tensor) else indices
    raw = array_namespace(x, raw).asarray(raw)
    return _take_along_axis(x, indices=raw, axis=axis)


__all__ = ["getitem", "take", "take_along_axis"]
