"""The recording tape, the Primitive op wrapper, and the reverse-mode walker.

A Primitive's forward is ``forward(xp, *arrays, **kwargs) -> (out, saved)``; its VJP is
``vjp(xp, saved, g, **kwargs) -> tuple`` with one cotangent (or None) per positional input.
A multi-output Primitive (``n_outputs > 1``: a fused GRU's sequence and final state, an
oscillator's audio and final phase) returns a tuple ``out`` and receives a tuple ``g`` with one
cotangent per output; an output that nothing downstream used gets zeros.
Outside ``value_and_grad`` (or on arrays that carry no Tensor) a Primitive is a plain array
function: it records nothing and returns a plain array.
"""

from __future__ import annotations

import inspect
import itertools
import threading
from collections.abc import Callable
from typing import Any

import numpy as np

from ..backend import array_namespace
from .tensor import TRACING, Tensor

__all__ = ["Primitive", "REGISTRY", "recording", "backward"]

# Every differentiable op, by name: the gradient-check registry test walks this.
REGISTRY: dict[str, Primitive] = {}

_state = threading.local()
_ids = itertools.count()


class _Node:
    """One recorded op application: enough to run its VJP later."""

    __slots__ = ("prim", "parents", "saved", "kwargs", "out_ids", "out_like")

    def __init__(self, prim, parents, saved, kwargs, out_ids, out_like):
        self.prim = prim
        self.parents = parents
        self.saved = saved
        self.kwargs = kwargs
        self.out_ids = out_ids  # one Tensor id per output
        # (shape, dtype) of each output of a multi-output op: zeros for the unused ones
        self.out_like = out_like


def _active_tape() -> list | None:
    return getattr(_state, "tape", None)


class recording:
    """Context manager that installs a fresh tape (first order only: no nesting)."""

    def __enter__(self) -> list:
        if _active_tape() is not None:
            raise RuntimeError(
                "value_and_grad/grad cannot be nested: ddsp_ref.autodiff is first order only"
            )
        self.tape: list = []
        _state.tape = self.tape
        TRACING.active = True
        return self.tape

    def __exit__(self, *exc) -> None:
        _state.tape = None
        TRACING.active = False


def new_tensor(data: Any) -> Tensor:
    return Tensor(data, next(_ids))


class Primitive:
    """A differentiable array op: a forward and its vector-Jacobian product, declared once."""

    def __init__(self, name: str, forward: Callable, vjp: Callable, n_outputs: int = 1):
        if name in REGISTRY:
            raise ValueError(f"autodiff op {name!r} is registered twice")
        if int(n_outputs) != n_outputs or n_outputs < 1:
            raise ValueError(f"n_outputs must be a positive integer, got {n_outputs!r}")
        self.name = name
        self.forward = forward
        self.vjp = vjp
        self.n_outputs = int(n_outputs)
        # A VJP that declares a `needs` parameter is told which inputs are traced, so it can
        # skip cotangents nobody reads (e.g. `tensor * constant_array`).
        self.wants_needs = "needs" in inspect.signature(vjp).parameters
        # Likewise a forward with `needs` learns which inputs are traced (all False outside
        # value_and_grad), so a fused kernel computes its gradients only when they will be used.
        self.forward_wants_needs = "needs" in inspect.signature(forward).parameters
        REGISTRY[name] = self

    def __repr__(self) -> str:
        return f"<autodiff op {self.name}>"

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raw = [a.data if isinstance(a, Tensor) else a for a in args]
        xp = array_namespace(*raw)
        tape = _active_tape()
        traced = tape is not None and any(isinstance(a, Tensor) for a in args)
        if self.forward_wants_needs:
            needs = tuple(traced and isinstance(a, Tensor) for a in args)
            out, saved = self.forward(xp, *raw, needs=needs, **kwargs)
        else:
            out, saved = self.forward(xp, *raw, **kwargs)
        if self.n_outputs > 1 and (not isinstance(out, tuple) or len(out) != self.n_outputs):
            raise RuntimeError(f"forward of {self.name} must return {self.n_outputs} outputs")
        if not traced:
            return out
        parents = [a if isinstance(a, Tensor) else None for a in args]
        if self.n_outputs == 1:
            result = new_tensor(out)
            tape.append(_Node(self, parents, saved, kwargs, (result._id,), None))
            return result
        results = tuple(new_tensor(o) for o in out)
        like = tuple((tuple(o.shape), o.dtype) for o in out)
        tape.append(_Node(self, parents, saved, kwargs, tuple(r._id for r in results), like))
        return results


def _unbroadcast(xp, cot: Any, shape: tuple) -> Any:
    """Sum a cotangent down to ``shape`` (undoes numpy broadcasting in one place)."""
    if cot.shape == shape:
        return cot
    extra = cot.ndim - len(shape)
    if extra > 0:
        cot = cot.sum(axis=tuple(range(extra)))
    axes = tuple(i for i, (c, s) in enumerate(zip(cot.shape, shape)) if s == 1 and c != 1)
    if axes:
        cot = cot.sum(axis=axes, keepdims=True)
    if cot.shape != shape:  # a scalar cotangent for a shaped input
        cot = xp.broadcast_to(cot, shape)
    return cot


def fit_cotangent(xp, cot: Any, like: Any) -> Any:
    """Bring a cotangent to the shape and dtype of the array it belongs to."""
    cot = xp.asarray(cot)
    cot = _unbroadcast(xp, cot, tuple(like.shape))
    if xp.iscomplexobj(cot) and not xp.iscomplexobj(like):
        cot = cot.real  # real input of a complex op: d/dx only (see fft.py for the convention)
    if cot.dtype != like.dtype:
        cot = cot.astype(like.dtype)
    return cot


def backward(tape: list, out: Tensor, seed: Any) -> dict[int, Any]:
    """Walk the tape backwards from ``out`` with cotangent ``seed``.

    Recording order is already topological, so one reverse pass suffices. Returns the
    accumulated cotangents keyed by Tensor id; saved arrays are released as the walk goes.
    """
    grads: dict[int, Any] = {out._id: seed}
    for i in range(len(tape) - 1, -1, -1):
        node = tape[i]
        tape[i] = None  # frees this node's saved arrays as soon as its VJP has run
        g = _node_cotangent(node, grads)
        if g is None:
            continue
        xp = array_namespace(*g) if node.out_like else array_namespace(g)
        if node.prim.wants_needs:
            needs = tuple(p is not None for p in node.parents)
            cots = node.prim.vjp(xp, node.saved, g, needs=needs, **node.kwargs)
        else:
            cots = node.prim.vjp(xp, node.saved, g, **node.kwargs)
        if len(cots) != len(node.parents):
            raise RuntimeError(
                f"VJP of {node.prim.name} returned {len(cots)} cotangents for "
                f"{len(node.parents)} inputs"
            )
        for parent, cot in zip(node.parents, cots):
            if parent is None or cot is None:
                continue
            cot = fit_cotangent(xp, cot, parent.data)
            prev = grads.get(parent._id)
            grads[parent._id] = cot if prev is None else prev + cot
    return grads


def _node_cotangent(node: _Node, grads: dict[int, Any]) -> Any:
    """The cotangent of a node's output (a tuple for a multi-output op, with zeros for the
    outputs nothing used), or None when no output of the node reached the loss."""
    if node.out_like is None:
        return grads.pop(node.out_ids[0], None)
    gs = [grads.pop(i, None) for i in node.out_ids]
    present = [g for g in gs if g is not None]
    if not present:
        return None
    xp = array_namespace(*present)
    return tuple(
        xp.zeros(shape, dtype=dtype) if g is None else g
        for g, (shape, dtype) in zip(gs, node.out_like)
    )


def zeros_like_array(x: Any) -> Any:
    xp = array_namespace(x)
    return xp.zeros_like(x)


def is_float_dtype(dtype: Any) -> bool:
    return np.issubdtype(dtype, np.floating) or np.issubdtype(dtype, np.complexfloating)
