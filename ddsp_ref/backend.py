"""Array backends: pick numpy or cupy from the inputs, move arrays between devices, seedable RNG.

cupy is detected through ``sys.modules`` only, so importing ddsp_ref never imports cupy; a cupy
array can only exist if the user already imported cupy.
"""

from __future__ import annotations

import sys
from types import ModuleType
from typing import Any

import numpy as np

__all__ = [
    "array_namespace",
    "is_cupy_array",
    "to_numpy",
    "to_device",
    "synchronize",
    "default_rng",
    "as_strided",
    "scatter_add",
    "scatter_add_along_axis",
    "float_dtype",
    "fft_module",
    "cupy_available",
]


def _cupy_module() -> ModuleType | None:
    """Return cupy if the user has imported it already, else None (never imports it)."""
    return sys.modules.get("cupy")


def is_cupy_array(x: Any) -> bool:
    cp = _cupy_module()
    return cp is not None and isinstance(x, cp.ndarray)


def _raw(x: Any) -> Any:
    # Tensors (autodiff) expose their array as `.data`; avoid importing autodiff here (layering).
    return x.data if getattr(x, "_is_ddsp_tensor", False) else x


def array_namespace(*xs: Any) -> ModuleType:
    """Return the array module (numpy or cupy) shared by all array arguments.

    Python scalars, None, lists and numpy scalars are skipped; Tensors are unwrapped.

    Raises:
        TypeError: if numpy and cupy arrays are mixed, naming both kinds.
    """
    found_numpy = found_cupy = False
    for x in xs:
        x = _raw(x)
        if x is None or isinstance(x, (int, float, complex, bool, np.generic, list, tuple, str)):
            continue
        if isinstance(x, np.ndarray):
            found_numpy = True
        elif is_cupy_array(x):
            found_cupy = True
    if found_numpy and found_cupy:
        raise TypeError(
            "array_namespace: got both numpy.ndarray and cupy.ndarray inputs; move them to one "
            "device first (ddsp_ref.backend.to_device)."
        )
    if found_cupy:
        return _cupy_module()  # type: ignore[return-value]
    return np


def cupy_available() -> bool:
    """True if cupy can be imported and sees a GPU (this *does* import cupy; tests only)."""
    try:
        import cupy  # noqa: F401

        return cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:
        return False


def to_numpy(x: Any) -> np.ndarray:
    """Copy any array (numpy, cupy, Tensor, scalar, list) to a numpy array on the host."""
    x = _raw(x)
    if is_cupy_array(x):
        return x.get()
    return np.asarray(x)


def to_device(x: Any, device: str) -> Any:
    """Move an array to ``'cpu'`` (numpy) or ``'gpu'`` (cupy, imported on demand).

    Raises:
        ValueError: for an unknown device name.
        ImportError: for 'gpu' without cupy installed (install the ``gpu`` extra).
    """
    x = _raw(x)
    if device == "cpu":
        return to_numpy(x)
    if device == "gpu":
        try:
            import cupy
        except ImportError as err:  # pragma: no cover - depends on the machine
            raise ImportError(
                "to_device(x, 'gpu') needs cupy: pip install 'ddsp_ref[gpu]'"
            ) from err
        return cupy.asarray(x)
    raise ValueError(f"to_device: device must be 'cpu' or 'gpu', got {device!r}")


def synchronize(xp: ModuleType) -> None:
    """Wait for queued device work (no-op for numpy). Needed before timing GPU code."""
    if xp is not np:
        xp.cuda.Stream.null.synchronize()


def default_rng(seed: Any = None, xp: ModuleType = np) -> Any:
    """A seedable random generator for the namespace ``xp``.

    numpy gets ``numpy.random.Generator``; cupy gets ``cupy.random.Generator`` (or its legacy
    RandomState where Generator is missing). A generator passed in is returned unchanged.
    """
    if seed is not None and not isinstance(seed, (int, np.integer)) and hasattr(seed, "random"):
        return seed
    if xp is np:
        return np.random.default_rng(seed)
    if hasattr(xp.random, "default_rng"):
        return xp.random.default_rng(seed)
    return xp.random.RandomState(seed)  # pragma: no cover


def as_strided(xp: ModuleType, x: Any, shape: tuple, strides: tuple) -> Any:
    """Read-only strided view (numpy) or view (cupy) of ``x``."""
    if xp is np:
        return np.lib.stride_tricks.as_strided(x, shape=shape, strides=strides, writeable=False)
    return xp.lib.stride_tricks.as_strided(x, shape=shape, strides=strides)


def scatter_add(xp: ModuleType, target: Any, index: Any, values: Any) -> None:
    """``target[index] += values`` with repeated indices accumulated (in place)."""
    if xp is np:
        np.add.at(target, index, values)
    else:
        xp.add.at(target, index, values)


def scatter_add_along_axis(
    xp: ModuleType, shape: tuple, indices: Any, values: Any, axis: int
) -> Any:
    """Adjoint of ``take(x, indices, axis)`` for 1-D ``indices``: a new array of ``shape``.

    numpy's ``add.at`` is slow on large arrays, so on numpy the values are sorted by index
    and summed in segments with ``add.reduceat``; cupy's ``add.at`` (atomics) is fast.
    """
    out = xp.zeros(shape, dtype=values.dtype)
    if xp is not np or indices.size == 0:
        scatter_add(xp, out, (slice(None),) * axis + (indices,), values)
        return out
    moved = np.moveaxis(values, axis, 0)
    if indices.size > 1 and np.any(indices[1:] < indices[:-1]):
        order = np.argsort(indices, kind="stable")
        indices, moved = indices[order], moved[order]
    starts = np.flatnonzero(np.r_[True, indices[1:] != indices[:-1]])
    np.moveaxis(out, axis, 0)[indices[starts]] = np.add.reduceat(moved, starts, axis=0)
    return out


class _ScipyFFT:
    """numpy arrays: scipy.fft (native float32, several threads) behind numpy.fft's names.

    scipy.fft keeps float32 as complex64 and uses every core; numpy.fft is 3-4x slower here.
    """

    def __init__(self):
        import scipy.fft

        self._fft = scipy.fft

    def rfft(self, x, n=None, axis=-1):
        return self._fft.rfft(x, n=n, axis=axis, workers=-1)

    def irfft(self, x, n=None, axis=-1):
        return self._fft.irfft(x, n=n, axis=axis, workers=-1)

    def fft(self, x, n=None, axis=-1):
        return self._fft.fft(x, n=n, axis=axis, workers=-1)

    def ifft(self, x, n=None, axis=-1):
        return self._fft.ifft(x, n=n, axis=axis, workers=-1)


_scipy_fft: _ScipyFFT | None = None


def fft_module(xp: ModuleType) -> Any:
    """The FFT functions (rfft, irfft, fft, ifft with numpy's signatures) for ``xp``."""
    global _scipy_fft
    if xp is not np:
        return xp.fft
    if _scipy_fft is None:  # scipy loads on the first FFT, not at import
        _scipy_fft = _ScipyFFT()
    return _scipy_fft


def float_dtype(x: Any) -> np.dtype:
    """The dtype policy of ddsp_ref: float64 stays float64, everything else becomes float32."""
    dtype = getattr(_raw(x), "dtype", None)
    if dtype is not None and dtype == np.float64:
        return np.dtype(np.float64)
    return np.dtype(np.float32)
