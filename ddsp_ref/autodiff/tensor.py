"""Tensor: a numpy or cupy array that records the differentiable ops applied to it."""

from __future__ import annotations

from typing import Any

from ..backend import to_numpy

# Filled in by ddsp_ref.autodiff.__init__ once the ops exist (ops import Tensor, so this
# module cannot import them at load time).
_ops: Any = None


class Tensor:
    """A traced array. Created by ``value_and_grad`` for the arguments it differentiates.

    Attributes:
        data: the wrapped numpy or cupy array.
    """

    __slots__ = ("data", "_id")
    _is_ddsp_tensor = True
    # Make numpy defer to our reflected operators (np_array + tensor -> Tensor.__radd__).
    __array_ufunc__ = None

    def __init__(self, data: Any, _id: int = -1):
        self.data = data
        self._id = _id

    # -- array protocol ------------------------------------------------------------------
    @property
    def shape(self) -> tuple:
        return tuple(self.data.shape)

    @property
    def dtype(self):
        return self.data.dtype

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def size(self) -> int:
        return self.data.size

    def __len__(self) -> int:
        return len(self.data)

    def numpy(self):
        """A numpy copy of the value (from the GPU if needed)."""
        return to_numpy(self.data)

    def __array__(self, dtype=None, copy=None):
        out = to_numpy(self.data)
        return out if dtype is None else out.astype(dtype)

    def __repr__(self) -> str:
        return f"Tensor({self.data!r})"

    def __float__(self) -> float:
        return float(self.data)

    def __bool__(self) -> bool:
        return bool(self.data)

    # -- arithmetic (differentiated) -----------------------------------------------------
    def __add__(self, other):
        return _ops.add(self, other)

    def __radd__(self, other):
        return _ops.add(other, self)

    def __sub__(self, other):
        return _ops.subtract(self, other)

    def __rsub__(self, other):
        return _ops.subtract(other, self)

    def __mul__(self, other):
        return _ops.multiply(self, other)

    def __rmul__(self, other):
        return _ops.multiply(other, self)

    def __truediv__(self, other):
        return _ops.divide(self, other)

    def __rtruediv__(self, other):
        return _ops.divide(other, self)

    def __pow__(self, other):
        return _ops.power(self, other)

    def __rpow__(self, other):
        return _ops.power(other, self)

    def __matmul__(self, other):
        return _ops.matmul(self, other)

    def __rmatmul__(self, other):
        return _ops.matmul(other, self)

    def __neg__(self):
        return _ops.negative(self)

    def __pos__(self):
        return self

    def __abs__(self):
        return _ops.abs(self)

    def __mod__(self, other):
        return _ops.mod(self, other)

    def __floordiv__(self, other):
        return _ops.floor(_ops.divide(self, other))

    # -- comparisons (not differentiated: plain boolean arrays) ---------------------------
    def __lt__(self, other):
        return self.data < _raw(other)

    def __le__(self, other):
        return self.data <= _raw(other)

    def __gt__(self, other):
        return self.data > _raw(other)

    def __ge__(self, other):
        return self.data >= _raw(other)

    def __eq__(self, other):  # type: ignore[override]
        return self.data == _raw(other)

    def __ne__(self, other):  # type: ignore[override]
        return self.data != _raw(other)

    __hash__ = object.__hash__

    # -- indexing and methods --------------------------------------------------------------
    def __getitem__(self, index):
        return _ops.getitem(self, index)

    def sum(self, axis=None, keepdims=False):
        return _ops.sum(self, axis=axis, keepdims=keepdims)

    def mean(self, axis=None, keepdims=False):
        return _ops.mean(self, axis=axis, keepdims=keepdims)

    def max(self, axis=None, keepdims=False):
        return _ops.max(self, axis=axis, keepdims=keepdims)

    def min(self, axis=None, keepdims=False):
        return _ops.min(self, axis=axis, keepdims=keepdims)

    def reshape(self, *shape):
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
        return _ops.reshape(self, shape)

    def transpose(self, *axes):
        if len(axes) == 1 and isinstance(axes[0], (tuple, list)):
            axes = tuple(axes[0])
        return _ops.transpose(self, axes or None)

    @property
    def T(self):
        return _ops.transpose(self, None)

    def astype(self, dtype):
        return _ops.astype(self, dtype)

    @property
    def real(self):
        return _ops.real(self)

    @property
    def imag(self):
        return _ops.imag(self)

    def conj(self):
        return _ops.conj(self)


def _raw(x: Any) -> Any:
    return x.data if isinstance(x, Tensor) else x
