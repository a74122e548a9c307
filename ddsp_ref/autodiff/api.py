"""value_and_grad / grad (JAX-style, over pytrees of arrays) and stop_gradient."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..backend import array_namespace
from .pytree import tree_flatten
from .tape import backward, is_float_dtype, new_tensor, recording
from .tensor import Tensor

__all__ = ["value_and_grad", "grad", "stop_gradient"]


def stop_gradient(x: Any) -> Any:
    """The value of ``x`` as a constant: no gradient flows through it."""
    return x.data if isinstance(x, Tensor) else x


def _as_leaf_array(x: Any, where: str) -> Any:
    if isinstance(x, Tensor):
        x = x.data
    if isinstance(x, (float, complex)) and not isinstance(x, bool):
        x = np.asarray(x)
    if not hasattr(x, "dtype") or not hasattr(x, "shape"):
        raise TypeError(f"value_and_grad: {where} is a {type(x).__name__}, not an array")
    if not is_float_dtype(x.dtype):
        raise TypeError(
            f"value_and_grad: {where} has dtype {x.dtype}; only floating or complex arrays can "
            "be differentiated (cast integers with .astype(float))"
        )
    return x


def _normalize_argnums(argnums: int | Sequence[int], n_args: int) -> tuple[int, ...]:
    nums = (argnums,) if isinstance(argnums, int) else tuple(argnums)
    for a in nums:
        if not -n_args <= a < n_args:
            raise ValueError(f"argnums {argnums} is out of range for a call with {n_args} args")
    return tuple(a % n_args for a in nums)


def value_and_grad(
    fun: Callable, argnums: int | Sequence[int] = 0, has_aux: bool = False
) -> Callable:
    """Return a function computing ``fun(*args)`` and its gradient with respect to ``argnums``.

    Args:
        fun: function of arrays (numpy or cupy) returning a scalar (shape ``()`` or one
            element); with ``has_aux`` it returns ``(scalar, aux)``.
        argnums: the argument index, or a tuple of them (then the gradient is a tuple).
            Each differentiated argument may be a pytree (nested dict / list / tuple) of
            floating arrays; its gradient has the same structure, shapes, dtypes and device.
        has_aux: whether ``fun`` returns auxiliary data next to the scalar.

    Returns:
        A function returning ``(value, grads)`` or ``((value, aux), grads)``.

    Raises:
        TypeError: an argument that is not a floating array, or a non-scalar output.
    """
    multiple = not isinstance(argnums, int)

    def wrapped(*args: Any, **kwargs: Any):
        nums = _normalize_argnums(argnums, len(args))
        args = list(args)
        flat: dict[int, tuple[list, Callable]] = {}
        for a in nums:
            leaves, rebuild = tree_flatten(args[a])
            arrays = [_as_leaf_array(x, f"argument {a} leaf {i}") for i, x in enumerate(leaves)]
            tensors = [new_tensor(x) for x in arrays]
            flat[a] = (tensors, rebuild)
            args[a] = rebuild(tensors)
        with recording() as tape:
            result = fun(*args, **kwargs)
        value, aux = result if has_aux else (result, None)
        value_array = value.data if isinstance(value, Tensor) else value
        if not hasattr(value_array, "shape"):
            value_array = np.asarray(value_array)
        if value_array.size != 1:
            raise TypeError(
                f"value_and_grad: fun must return a scalar to differentiate, got shape "
                f"{tuple(value_array.shape)} (reduce it, e.g. with .sum())"
            )
        if isinstance(value, Tensor):
            xp = array_namespace(value_array)
            seed = xp.ones(value_array.shape, dtype=value_array.dtype)
            cots = backward(tape, value, seed)
        else:  # the output does not depend on the differentiated arguments
            cots = {}
        grads = []
        for a in nums:
            tensors, rebuild = flat[a]
            leaf_grads = []
            for t in tensors:
                g = cots.get(t._id)
                if g is None:
                    g = array_namespace(t.data).zeros_like(t.data)
                leaf_grads.append(g)
            grads.append(rebuild(leaf_grads))
        value_out = array_namespace(value_array).asarray(value_array).reshape(())
        out_value = (value_out, _strip(aux)) if has_aux else value_out
        return out_value, (tuple(grads) if multiple else grads[0])

    wrapped.__name__ = f"value_and_grad({getattr(fun, '__name__', 'fun')})"
    wrapped.__doc__ = fun.__doc__
    return wrapped


def _strip(tree: Any) -> Any:
    """Replace Tensors in auxiliary outputs by their plain arrays."""
    from .pytree import tree_map

    return tree_map(stop_gradient, tree)


def grad(fun: Callable, argnums: int | Sequence[int] = 0, has_aux: bool = False) -> Callable:
    """Like :func:`value_and_grad` but returns only the gradient (and aux with ``has_aux``)."""
    vg = value_and_grad(fun, argnums, has_aux)

    def wrapped(*args: Any, **kwargs: Any):
        value, grads = vg(*args, **kwargs)
        return (grads, value[1]) if has_aux else grads

    wrapped.__name__ = f"grad({getattr(fun, '__name__', 'fun')})"
    return wrapped
