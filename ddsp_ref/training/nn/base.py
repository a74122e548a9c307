"""Layer: a Module that builds its parameters from the first input (keras' lazy build)."""

from __future__ import annotations

from typing import Any

from ...autodiff import ops
from ...backend import array_namespace
from ...core.utils import to_float
from ...module import Module
from ...validation import check_rank
from .initializers import make_rng

__all__ = ["Layer", "cast_like"]


def cast_like(value: Any, like: Any) -> Any:
    """``value`` in the dtype of ``like`` (a differentiable cast; no-op when they agree)."""
    return value if value.dtype == like.dtype else ops.astype(value, like.dtype)


class Layer(Module):
    """Base of the nn layers.

    Parameters are created by :meth:`build` from the size of the input's last axis, either at
    construction (when the input size is given) or at the first call, like keras. Until then
    :meth:`parameters` is empty. Parameters are float32 numpy arrays, or arrays of the first
    input's array module (cupy for cupy input); each call casts them to the input's dtype
    (float64 stays float64, everything else runs in float32).
    """

    def __init__(self, seed: Any = None, name: str | None = None):
        super().__init__(name=name, trainable=True)
        self._rng = make_rng(seed)
        self.input_size: int | None = None

    @property
    def built(self) -> bool:
        return self.input_size is not None

    def build(self, input_size: int, xp: Any = None) -> None:
        """Create the parameters for inputs whose last axis has ``input_size`` entries."""
        self.input_size = int(input_size)
        self._create(self.input_size, xp)

    def _create(self, input_size: int, xp: Any) -> None:  # overridden by each layer
        raise TypeError(f"{type(self).__name__} must define _create() (its parameters)")

    def _new(self, name: str, value: Any, xp: Any) -> None:
        self.add_parameter(name, value if xp is None else xp.asarray(value))

    def _prepare(self, x: Any, ranks: tuple[int, ...], layout: str) -> Any:
        """``x`` as float32 / float64 with a checked rank; builds the layer on first use and
        checks the last axis against the built size."""
        where = type(self).__name__
        x = to_float(x, "inputs", where)
        check_rank(x, ranks, "inputs", where, layout)
        if not self.built:
            self.build(x.shape[-1], array_namespace(x))
        elif x.shape[-1] != self.input_size:
            raise ValueError(
                f"{where}: inputs must have {self.input_size} entries on the last axis (the "
                f"size the layer was built for), got shape {tuple(x.shape)}"
            )
        return x

    def _param(self, name: str, like: Any) -> Any:
        """The parameter ``name`` in the dtype of ``like`` (differentiable cast)."""
        return cast_like(self.parameter(name), like)
