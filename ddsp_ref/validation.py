"""Argument checks shared by every public function: one wording for every bad-input error.

Each check returns the cleaned value (a Python int or float, an array) or raises a
``ValueError`` / ``TypeError`` that names the function, the argument, what was expected and
what was received. Public entry points validate once; internal helpers trust their inputs.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = [
    "positive_int",
    "nonnegative_int",
    "positive_number",
    "finite_number",
    "one_of",
    "check_real_dtype",
    "check_rank",
    "check_same_batch",
]


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _scalar(value: Any) -> Any:
    """0-d arrays (numpy or cupy) count as the scalar they hold."""
    if hasattr(value, "shape") and hasattr(value, "dtype") and tuple(value.shape) == ():
        if np.issubdtype(np.dtype(value.dtype), np.number) and not np.issubdtype(
            np.dtype(value.dtype), np.complexfloating
        ):
            return value.item()
    return value


def positive_int(value: Any, name: str, where: str) -> int:
    """``value`` as an int >= 1 (integral floats such as 64.0 are accepted)."""
    value = _scalar(value)
    if not _is_number(value) or not math.isfinite(value) or int(value) != value or value < 1:
        raise ValueError(f"{where}: {name} must be a positive integer, got {value!r}")
    return int(value)


def nonnegative_int(value: Any, name: str, where: str) -> int:
    """``value`` as an int >= 0."""
    value = _scalar(value)
    if not _is_number(value) or not math.isfinite(value) or int(value) != value or value < 0:
        raise ValueError(f"{where}: {name} must be a non-negative integer, got {value!r}")
    return int(value)


def positive_number(value: Any, name: str, where: str) -> float:
    """``value`` as a finite float > 0 (sample rates, frame rates, durations)."""
    value = _scalar(value)
    if not _is_number(value) or not math.isfinite(value) or value <= 0:
        raise ValueError(f"{where}: {name} must be a positive finite number, got {value!r}")
    return float(value)


def finite_number(value: Any, name: str, where: str) -> float:
    """``value`` as a finite float (gains, thresholds, offsets)."""
    value = _scalar(value)
    if not _is_number(value) or not math.isfinite(value):
        raise ValueError(f"{where}: {name} must be a finite number, got {value!r}")
    return float(value)


def one_of(value: Any, options: Sequence[Any], name: str, where: str) -> Any:
    """``value`` if it is one of ``options`` (method names, padding modes)."""
    if not isinstance(value, (str, int, float, type(None))) or value not in options:
        raise ValueError(f"{where}: {name} must be one of {list(options)}, got {value!r}")
    return value


def check_real_dtype(x: Any, name: str, where: str) -> None:
    """Reject arrays that are not real numbers: complex (the imaginary part would be dropped
    silently), strings, objects."""
    dtype = getattr(x, "dtype", None)
    if dtype is None:
        return
    dtype = np.dtype(dtype)
    if np.issubdtype(dtype, np.complexfloating):
        raise TypeError(
            f"{where}: {name} must be real, got a complex array ({dtype}); pass its .real or "
            "abs() explicitly"
        )
    if not (np.issubdtype(dtype, np.number) or np.issubdtype(dtype, np.bool_)):
        raise TypeError(f"{where}: {name} must be a numeric array, got dtype {dtype}")


def check_rank(x: Any, ranks: int | Sequence[int], name: str, where: str, layout: str) -> None:
    """Require ``x.ndim`` in ``ranks``; ``layout`` describes the expected axes in the message
    (``'[batch, n_frames, n_harmonics]'``)."""
    ranks = (ranks,) if isinstance(ranks, int) else tuple(ranks)
    if len(x.shape) not in ranks:
        raise ValueError(f"{where}: {name} must have shape {layout}, got shape {tuple(x.shape)}")


def check_same_batch(where: str, **arrays: Any) -> int:
    """Require every array to have the same (or a broadcastable size-1) batch axis; returns it."""
    sizes = {k: int(v.shape[0]) for k, v in arrays.items() if v is not None and len(v.shape)}
    batch = max(sizes.values(), default=1)
    bad = {k: s for k, s in sizes.items() if s not in (1, batch)}
    if bad:
        listed = ", ".join(f"{k} {s}" for k, s in sizes.items())
        raise ValueError(f"{where}: batch sizes disagree ({listed})")
    return batch
