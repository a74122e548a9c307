"""Shape ops: reshape, transpose, moveaxis, (un)squeeze, broadcast, join, split, pad, flip,
repeat, tile, astype."""

from __future__ import annotations

from .indexing import getitem, take
from .tape import Primitive


def _reshape_fwd(xp, x, shape):
    x = xp.asarray(x)
    return xp.reshape(x, shape), x.shape


_reshape = Primitive("reshape", _reshape_fwd, lambda xp, shape_in, g, shape: (g.reshape(shape_in),))


def reshape(x, shape):
    return _reshape(x, shape=(shape,) if isinstance(shape, int) else tuple(shape))


def _transpose_fwd(xp, x, axes=None):
    x = xp.asarray(x)
    perm = tuple(reversed(range(x.ndim))) if axes is None else tuple(a % x.ndim for a in axes)
    return xp.transpose(x, perm), perm


def _transpose_vjp(xp, perm, g, axes=None):
    inverse = [0] * len(perm)
    for i, p in enumerate(perm):
        inverse[p] = i
    return (xp.transpose(g, inverse),)


_transpose = Primitive("transpose", _transpose_fwd, _transpose_vjp)


def transpose(x, axes=None):
    return _transpose(x, axes=None if axes is None else tuple(axes))


def _moveaxis_fwd(xp, x, source, destination):
    return xp.moveaxis(xp.asarray(x), source, destination), None


def _moveaxis_vjp(xp, saved, g, source, destination):
    return (xp.moveaxis(g, destination, source),)


_moveaxis = Primitive("moveaxis", _moveaxis_fwd, _moveaxis_vjp)


def moveaxis(x, source, destination):
    return _moveaxis(x, source=source, destination=destination)


def _expand_fwd(xp, x, axis):
    x = xp.asarray(x)
    return xp.expand_dims(x, axis), x.shape


_expand_dims = Primitive("expand_dims", _expand_fwd, lambda xp, shape, g, axis: (g.reshape(shape),))


def expand_dims(x, axis):
    return _expand_dims(x, axis=axis)


def _squeeze_fwd(xp, x, axis=None):
    x = xp.asarray(x)
    return xp.squeeze(x, axis=axis), x.shape


_squeeze = Primitive("squeeze", _squeeze_fwd, lambda xp, shape, g, axis=None: (g.reshape(shape),))


def squeeze(x, axis=None):
    return _squeeze(x, axis=axis)


def _broadcast_fwd(xp, x, shape):
    return xp.broadcast_to(xp.asarray(x), shape), None


# The walker sums the cotangent back down to the input's shape.
_broadcast_to = Primitive("broadcast_to", _broadcast_fwd, lambda xp, s, g, shape: (g,))


def broadcast_to(x, shape):
    return _broadcast_to(x, shape=tuple(shape))


def _concat_fwd(xp, *xs, axis=0):
    xs = [xp.asarray(x) for x in xs]
    return xp.concatenate(xs, axis=axis), [x.shape[axis] for x in xs]


def _concat_vjp(xp, sizes, g, axis=0):
    out, start = [], 0
    for n in sizes:
        index = [slice(None)] * g.ndim
        index[axis] = slice(start, start + n)
        out.append(g[tuple(index)])
        start += n
    return tuple(out)


_concatenate = Primitive("concatenate", _concat_fwd, _concat_vjp)


def concatenate(xs, axis: int = 0):
    """Join a sequence of arrays along an existing axis."""
    return _concatenate(*xs, axis=axis)


def _stack_fwd(xp, *xs, axis=0):
    return xp.stack([xp.asarray(x) for x in xs], axis=axis), len(xs)


def _stack_vjp(xp, n, g, axis=0):
    return tuple(xp.take(g, i, axis=axis) for i in range(n))


_stack = Primitive("stack", _stack_fwd, _stack_vjp)


def stack(xs, axis: int = 0):
    """Join a sequence of same-shaped arrays along a new axis."""
    return _stack(*xs, axis=axis)


def split(x, indices_or_sections, axis: int = 0) -> list:
    """numpy.split, differentiable: each piece is a slice of ``x``."""
    n = x.shape[axis]
    if isinstance(indices_or_sections, int):
        if n % indices_or_sections:
            raise ValueError(
                f"split: axis {axis} of length {n} does not divide into "
                f"{indices_or_sections} equal sections"
            )
        step = n // indices_or_sections
        bounds = list(range(0, n + 1, step))
    else:
        bounds = [0] + [int(i) for i in indices_or_sections] + [n]
    axis = axis % len(x.shape)
    pieces = []
    for start, stop in zip(bounds[:-1], bounds[1:]):
        pieces.append(getitem(x, (slice(None),) * axis + (slice(start, stop),)))
    return pieces


def _pad_fwd(xp, x, pad_width, constant_values=0):
    x = xp.asarray(x)
    return xp.pad(x, pad_width, mode="constant", constant_values=constant_values), x.shape


def _pad_vjp(xp, shape, g, pad_width, constant_values=0):
    index = tuple(slice(before, before + n) for (before, _), n in zip(pad_width, shape))
    return (g[index],)


_pad_constant = Primitive("pad", _pad_fwd, _pad_vjp)


def _normalize_pad_width(pad_width, ndim: int) -> tuple:
    import numpy as np

    width = np.broadcast_to(np.asarray(pad_width, dtype=np.int64), (ndim, 2))
    if (width < 0).any():
        raise ValueError(f"pad: pad_width must be non-negative, got {pad_width}")
    return tuple((int(a), int(b)) for a, b in width)


def pad(x, pad_width, mode: str = "constant", constant_values=0):
    """numpy.pad with gradients for 'constant', 'reflect', 'symmetric', 'edge' and 'wrap'.

    Non-constant modes are gathers of the input, so their gradient is a scatter-add.
    """
    import numpy as np

    width = _normalize_pad_width(pad_width, len(x.shape))
    if mode == "constant":
        return _pad_constant(x, pad_width=width, constant_values=constant_values)
    if mode not in ("reflect", "symmetric", "edge", "wrap"):
        raise ValueError(
            f"pad: mode must be one of 'constant', 'reflect', 'symmetric', 'edge', 'wrap'; "
            f"got {mode!r}"
        )
    out = x
    for axis, (before, after) in enumerate(width):
        if before or after:
            source = np.pad(np.arange(x.shape[axis]), (before, after), mode=mode)
            out = take(out, source, axis=axis)
    return out


def _flip_fwd(xp, x, axis=None):
    return xp.flip(xp.asarray(x), axis=axis), None


_flip = Primitive("flip", _flip_fwd, lambda xp, s, g, axis=None: (xp.flip(g, axis=axis),))


def flip(x, axis=None):
    return _flip(x, axis=axis)


def repeat(x, repeats, axis=None):
    """numpy.repeat, as a gather (its gradient sums the copies)."""
    import numpy as np

    if axis is None:
        x = reshape(x, (-1,))
        axis = 0
    n = x.shape[axis]
    return take(x, np.repeat(np.arange(n), repeats), axis=axis)


def _tile_fwd(xp, x, reps):
    x = xp.asarray(x)
    return xp.tile(x, reps), x.shape


def _tile_vjp(xp, shape, g, reps):
    reps = (reps,) if isinstance(reps, int) else tuple(reps)
    ndim = max(len(shape), len(reps))
    shape_full = (1,) * (ndim - len(shape)) + tuple(shape)
    reps_full = (1,) * (ndim - len(reps)) + reps
    split_shape = []
    for r, s in zip(reps_full, shape_full):
        split_shape += [r, s]
    summed = g.reshape(split_shape).sum(axis=tuple(range(0, 2 * ndim, 2)))
    return (summed.reshape(shape),)


_tile = Primitive("tile", _tile_fwd, _tile_vjp)


def tile(x, reps):
    return _tile(x, reps=reps if isinstance(reps, int) else tuple(reps))


def _astype_fwd(xp, x, dtype):
    return xp.asarray(x).astype(dtype), None


# The walker casts the cotangent back to the input's dtype (complex -> real keeps d/dx).
_astype = Primitive("astype", _astype_fwd, lambda xp, s, g, dtype: (g,))


def astype(x, dtype):
    return _astype(x, dtype=dtype)


__all__ = [
    "reshape", "transpose", "moveaxis", "expand_dims", "squeeze", "broadcast_to", "concatenate",
    "stack", "split", "pad", "flip", "repeat", "tile", "astype",
]  # fmt: skip
