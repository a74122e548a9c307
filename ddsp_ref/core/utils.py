"""Utilities of ddsp.core: float casting, iterables, nested dicts, one-axis padding, diff."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..autodiff import ops
from ..autodiff.tensor import Tensor
from ..backend import array_namespace, float_dtype
from ..validation import check_real_dtype, finite_number

__all__ = [
    "to_float",
    "make_iterable",
    "to_dict",
    "nested_keys",
    "nested_lookup",
    "leaf_key",
    "pad_axis",
    "diff",
    "real_param",
]


def real_param(value: Any, name: str, where: str) -> Any:
    """A real parameter: a finite Python float, or an array / Tensor of real numbers (returned
    as is, so gradients still flow). Complex, string, NaN and infinite scalars raise."""
    if isinstance(value, Tensor) or (hasattr(value, "shape") and tuple(value.shape) != ()):
        check_real_dtype(value, name, where)
        return value
    return finite_number(value, name, where)


def _as_array(x: Any, name: str, where: str) -> Any:
    """Arrays and Tensors as they are (after a real-dtype check); lists and scalars as float32."""
    if hasattr(x, "shape") and hasattr(x, "dtype"):
        check_real_dtype(x, name, where)
        return x
    return to_float(x, name, where)


def to_float(x: Any, name: str = "input", where: str = "ddsp_ref") -> Any:
    """ddsp's ``tf_float32`` under ddsp_ref's dtype policy.

    float64 arrays stay float64 (so whole pipelines can be gradient-checked); everything else
    (float32, integers, booleans, lists, scalars) becomes float32. Differentiable for Tensors.

    Raises:
        TypeError: for complex, string or object input (``name`` and ``where`` go into the
            message): a complex array would lose its imaginary part silently.
    """
    if not hasattr(x, "dtype"):  # lists and Python scalars: float32, as ddsp
        try:
            x = np.asarray(x)
        except (ValueError, TypeError) as err:
            raise TypeError(f"{where}: {name} must be an array of numbers ({err})") from None
        check_real_dtype(x, name, where)
        return x.astype(np.float32)
    check_real_dtype(x, name, where)
    if isinstance(x, Tensor) or hasattr(x, "__array_namespace__") or isinstance(x, np.ndarray):
        dtype = float_dtype(x)
        return x if x.dtype == dtype else ops.astype(x, dtype)
    if hasattr(x, "dtype") and hasattr(x, "shape"):  # cupy arrays and numpy scalars
        xp = array_namespace(x)
        return xp.asarray(x, dtype=float_dtype(x))
    return np.asarray(x, dtype=np.float32)


def make_iterable(x: Any) -> list | Sequence:
    """None -> []; one array -> [array] (never iterate over a batch); scalars -> [x]."""
    if x is None:
        return []
    if isinstance(x, Tensor) or hasattr(x, "shape") and hasattr(x, "dtype"):
        return [x]
    if isinstance(x, (list, tuple)):
        return x
    if isinstance(x, (str, bytes)) or not hasattr(x, "__iter__"):
        return [x]
    return x


def to_dict(x: Any, keys: Sequence[str]) -> dict:
    """Pass a dict through; zip anything else (through make_iterable) with ``keys``."""
    if isinstance(x, dict):
        return x
    values = list(make_iterable(x))
    if len(values) != len(keys):
        raise ValueError(
            f"to_dict: keys {list(keys)} ({len(keys)}) must have as many entries as the "
            f"inputs ({len(values)})"
        )
    return dict(zip(keys, values))


def nested_keys(nested_dict: dict, delimiter: str = "/", prefix: str = "") -> list[str]:
    """Flat list of 'a/b/c' paths to every leaf of a nested dict."""
    if not isinstance(nested_dict, dict):
        raise TypeError(
            f"nested_keys: nested_dict must be a dict, got {type(nested_dict).__name__}"
        )
    keys = []
    for k, v in nested_dict.items():
        path = f"{prefix}{delimiter}{k}" if prefix else str(k)
        if isinstance(v, dict):
            keys.extend(nested_keys(v, delimiter, path))
        else:
            keys.append(path)
    return keys


def nested_lookup(nested_key: str, nested_dict: dict, delimiter: str = "/") -> Any:
    """Value at 'a/b/c'; a KeyError lists every available nested key."""
    if not isinstance(nested_key, str) or not isinstance(nested_dict, dict):
        raise TypeError(
            "nested_lookup: nested_key must be a str and nested_dict a dict, got "
            f"{type(nested_key).__name__} and {type(nested_dict).__name__}"
        )
    value = nested_dict
    for part in nested_key.split(delimiter):
        if not isinstance(value, dict) or part not in value:
            raise KeyError(
                f"Key '{nested_key}' as {nested_key.split(delimiter)} not found in nested dict. "
                f"Available keys: {nested_keys(nested_dict, delimiter)}"
            )
        value = value[part]
    return value


def leaf_key(nested_key: str, delimiter: str = "/") -> str:
    """The last component of a 'a/b/c' key."""
    if not isinstance(nested_key, str):
        raise TypeError(f"leaf_key: nested_key must be a str, got {type(nested_key).__name__}")
    return nested_key.split(delimiter)[-1]


def pad_axis(x: Any, padding: Sequence[int] = (0, 0), axis: int = 0, **pad_kwargs: Any) -> Any:
    """Pad only ``axis`` of ``x`` by ``padding = (before, after)``; other kwargs go to pad."""
    x = _as_array(x, "x", "pad_axis")
    ndim = len(x.shape)
    if ndim == 0:
        raise ValueError("pad_axis: x must have at least one axis, got a scalar")
    width = [(0, 0)] * ndim
    width[axis % ndim] = tuple(int(p) for p in padding)
    return ops.pad(x, width, **pad_kwargs)


def diff(x: Any, axis: int = -1) -> Any:
    """Forward difference ``x[1:] - x[:-1]`` along ``axis`` (one shorter).

    Raises:
        ValueError: if ``axis`` is not an axis of ``x`` (ddsp raises for axis >= rank).
    """
    x = _as_array(x, "x", "diff")
    ndim = len(x.shape)
    if axis >= ndim or axis < -ndim:
        raise ValueError(f"diff: invalid axis index {axis} for an input of rank {ndim}")
    axis = axis % ndim
    head = (slice(None),) * axis
    return ops.subtract(
        ops.getitem(x, head + (slice(1, None),)), ops.getitem(x, head + (slice(None, -1),))
    )
