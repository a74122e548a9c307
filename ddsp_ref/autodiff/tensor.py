"""Tensor: a numpy or cupy array that records the differentiable ops applied to it.

Its operators and methods, and the NumPy functions and ufuncs called on it, go to the ops of
``ddsp_ref.autodiff.ops`` by name through :data:`OPS`, which that namespace fills when it is
defined (the ops import this module, so this module imports none of them). A NumPy function
without a differentiable op raises a TypeError that names the fix; nothing silently drops the
gradient.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from ..backend import to_numpy

# Every public op function by name (``add``, ``sum``, ``getitem``...), declared by
# ``autodiff/ops.py`` through :func:`register_ops`.
OPS: dict[str, Callable] = {}

# Set by the tape while a value_and_grad call records (see tape.recording).
TRACING = threading.local()


def register_ops(functions: dict[str, Callable]) -> None:
    """Declare the functions that Tensor operators, methods and NumPy dispatch call."""
    OPS.update(functions)


def _op(name: str) -> Callable:
    return OPS[name]


def _tracing() -> bool:
    return getattr(TRACING, "active", False)


class Tensor:
    """A traced array. Created by ``value_and_grad`` for the arguments it differentiates.

    Attributes:
        data: the wrapped numpy or cupy array.
    """

    __slots__ = ("data", "_id")
    _is_ddsp_tensor = True
    # cupy arrays defer to our reflected operators when our priority is higher.
    __array_priority__ = 1000.0

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
        """A numpy copy of the value (from the GPU if needed); refused while tracing, where
        it would cut the gradient (use ``ddsp_ref.stop_gradient(x)`` for the value)."""
        self._refuse_constant("x.numpy()")
        return to_numpy(self.data)

    def __array__(self, dtype=None, copy=None):
        self._refuse_constant("numpy.asarray(x)")
        out = to_numpy(self.data)
        return out if dtype is None else out.astype(dtype)

    def __repr__(self) -> str:
        return f"Tensor({self.data!r})"

    def __float__(self) -> float:
        self._refuse_constant("float(x)")
        return float(self.data)

    def _describe(self) -> str:
        return f"a traced Tensor of shape {self.shape} and dtype {self.dtype}"

    def _refuse_constant(self, what: str) -> None:
        if _tracing():
            raise TypeError(
                f"{what} on {self._describe()} inside value_and_grad would give it a zero "
                "gradient. Use ddsp_ref.stop_gradient(x) if you want its value as a constant, "
                "or compute with ddsp_ref.autodiff.ops (NumPy ufuncs such as np.sin also work)."
            )

    # -- NumPy protocols (NEP 13 / NEP 18) -----------------------------------------------------
    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        return _call_ufunc(ufunc, method, inputs, kwargs)

    def __array_function__(self, func, types, args, kwargs):
        return _call_function(func, args, kwargs)

    def __bool__(self) -> bool:
        return bool(self.data)

    # -- arithmetic (differentiated; the binary operators are set from _BINARY below) --------
    def __neg__(self):
        return _op("negative")(self)

    def __pos__(self):
        return self

    def __abs__(self):
        return _op("abs")(self)

    def __floordiv__(self, other):
        return _op("floor")(_op("divide")(self, other))

    # -- indexing and methods --------------------------------------------------------------
    def __getitem__(self, index):
        return _op("getitem")(self, index)

    def sum(self, axis=None, keepdims=False):
        return _op("sum")(self, axis=axis, keepdims=keepdims)

    def mean(self, axis=None, keepdims=False):
        return _op("mean")(self, axis=axis, keepdims=keepdims)

    def max(self, axis=None, keepdims=False):
        return _op("max")(self, axis=axis, keepdims=keepdims)

    def min(self, axis=None, keepdims=False):
        return _op("min")(self, axis=axis, keepdims=keepdims)

    def reshape(self, *shape):
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
        return _op("reshape")(self, shape)

    def transpose(self, *axes):
        if len(axes) == 1 and isinstance(axes[0], (tuple, list)):
            axes = tuple(axes[0])
        return _op("transpose")(self, axes or None)

    @property
    def T(self):
        return _op("transpose")(self, None)

    def astype(self, dtype):
        return _op("astype")(self, dtype)

    @property
    def real(self):
        return _op("real")(self)

    @property
    def imag(self):
        return _op("imag")(self)

    def conj(self):
        return _op("conj")(self)


def _raw(x: Any) -> Any:
    return x.data if isinstance(x, Tensor) else x


# Binary operators: dunder stem -> op (both ``a + t`` and ``t + a`` record the op).
_BINARY = {"add": "add", "sub": "subtract", "mul": "multiply", "truediv": "divide",
           "pow": "power", "matmul": "matmul", "mod": "mod"}  # fmt: skip
# Comparisons are not differentiated: plain boolean arrays of the values.
_COMPARE = {"lt": "__lt__", "le": "__le__", "gt": "__gt__", "ge": "__ge__", "eq": "__eq__",
            "ne": "__ne__"}  # fmt: skip


def _forward(op: str) -> Callable:
    return lambda self, other: _op(op)(self, other)


def _reflected(op: str) -> Callable:
    return lambda self, other: _op(op)(other, self)


def _compare(method: str) -> Callable:
    return lambda self, other: getattr(self.data, method)(_raw(other))


for _stem, _name in _BINARY.items():
    setattr(Tensor, f"__{_stem}__", _forward(_name))
    setattr(Tensor, f"__r{_stem}__", _reflected(_name))
for _stem, _method in _COMPARE.items():
    setattr(Tensor, f"__{_stem}__", _compare(_method))
Tensor.__hash__ = object.__hash__  # defining __eq__ would otherwise unset it


# -- NumPy dispatch -------------------------------------------------------------------------------
# ufuncs with a differentiable op (numpy name -> op name).
_UFUNC_OPS = {
    "add": "add", "subtract": "subtract", "multiply": "multiply", "true_divide": "divide",
    "divide": "divide", "power": "power", "float_power": "power", "negative": "negative",
    "positive": "positive", "absolute": "abs", "exp": "exp", "log": "log", "log1p": "log1p",
    "sqrt": "sqrt", "sin": "sin", "cos": "cos", "tan": "tan", "tanh": "tanh", "square": "square",
    "maximum": "maximum", "minimum": "minimum", "remainder": "mod", "floor": "floor",
    "sign": "sign", "rint": "round", "matmul": "matmul", "conjugate": "conj",
    "floor_divide": "floor_divide",
}  # fmt: skip
# ufuncs whose result carries no gradient (comparisons, tests): computed on the values.
_VALUE_UFUNCS = {
    "less", "less_equal", "greater", "greater_equal", "equal", "not_equal", "isfinite", "isnan",
    "isinf", "signbit", "logical_and", "logical_or", "logical_not", "logical_xor",
}  # fmt: skip
# numpy functions with a differentiable op of the same meaning (numpy name -> op name).
_FUNCTION_OPS = {
    "sum": "sum", "mean": "mean", "max": "max", "amax": "max", "min": "min", "amin": "min",
    "prod": "prod", "cumsum": "cumsum", "reshape": "reshape", "transpose": "transpose",
    "moveaxis": "moveaxis", "expand_dims": "expand_dims", "squeeze": "squeeze",
    "broadcast_to": "broadcast_to", "concatenate": "concatenate", "stack": "stack",
    "split": "split", "pad": "pad", "flip": "flip", "repeat": "repeat", "tile": "tile",
    "where": "where", "clip": "clip", "take": "take", "take_along_axis": "take_along_axis",
    "einsum": "einsum", "real": "real", "imag": "imag", "angle": "angle", "dot": "matmul",
    "fft": "fft", "ifft": "ifft", "rfft": "rfft", "irfft": "irfft",
}  # fmt: skip
# numpy functions that only read shapes, dtypes or values and return no differentiable array.
_VALUE_FUNCTIONS = {
    "shape", "ndim", "size", "iscomplexobj", "isrealobj", "result_type", "all", "any", "argmax",
    "argmin", "argsort", "count_nonzero", "isclose", "allclose", "array_equal", "nonzero",
    "flatnonzero", "searchsorted", "unique",
}  # fmt: skip


def _raw_tree(x: Any) -> Any:
    if isinstance(x, Tensor):
        return x.data
    if isinstance(x, (list, tuple)):
        return type(x)(_raw_tree(v) for v in x)
    return x


def _no_gradient(what: str, args: Any) -> TypeError:
    traced = next((a for a in _flat(args) if isinstance(a, Tensor)), None)
    described = traced._describe() if traced is not None else "a traced Tensor"
    return TypeError(
        f"{what} has no differentiable version in ddsp_ref and was called on {described}. "
        "Use an op of ddsp_ref.autodiff.ops, or ddsp_ref.stop_gradient(x) to use the value as a "
        "constant (no gradient flows through it)."
    )


def _flat(args: Any):
    for a in args:
        if isinstance(a, (list, tuple)):
            yield from _flat(a)
        else:
            yield a


def _call_ufunc(ufunc, method: str, inputs: tuple, kwargs: dict) -> Any:
    name = ufunc.__name__
    if name in _VALUE_UFUNCS and method == "__call__" and "out" not in kwargs:
        return getattr(ufunc, method)(*_raw_tree(inputs), **kwargs)
    if method != "__call__" or "out" in kwargs or name not in _UFUNC_OPS or kwargs:
        detail = f"numpy.{name}" + ("" if method == "__call__" else f".{method}")
        if "out" in kwargs:
            detail += " with out= (a traced Tensor cannot be written into an array)"
        raise _no_gradient(detail, inputs)
    op = _UFUNC_OPS[name]
    if op == "positive":
        return inputs[0]
    if op == "floor_divide":
        return OPS["floor"](OPS["divide"](*inputs))
    return OPS[op](*inputs)


def _call_function(func, args: tuple, kwargs: dict) -> Any:
    name = func.__name__
    if name in _VALUE_FUNCTIONS:
        return func(*_raw_tree(args), **{k: _raw_tree(v) for k, v in kwargs.items()})
    module = getattr(func, "__module__", "") or ""
    if name in _FUNCTION_OPS and module in ("numpy", "numpy.fft", "numpy.linalg"):
        if name in ("fft", "ifft", "rfft", "irfft") and module != "numpy.fft":
            raise _no_gradient(f"{module}.{name}", args)
        if kwargs.get("out") is not None or kwargs.get("dtype") is not None:
            raise _no_gradient(f"numpy.{name} with out= or dtype=", args)
        kwargs = {k: v for k, v in kwargs.items() if k not in ("out", "dtype")}
        return OPS[_FUNCTION_OPS[name]](*args, **kwargs)
    raise _no_gradient(f"{module or 'numpy'}.{name}", args)
