"""Base of ddsp.losses: Loss, LossGroup, mean_difference and ParamLoss.

Every loss is a :class:`Loss` (a :class:`~ddsp_ref.module.Module`): calling it returns a scalar,
``get_losses_dict`` returns ``{name: scalar}``, and :class:`LossGroup` runs a DAG of losses over a
model's outputs dict. All are differentiable with ``value_and_grad``.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..autodiff import ops, stop_gradient
from ..backend import array_namespace
from ..core.utils import to_float
from ..dags import DAGLayer
from ..gin_support import register
from ..module import Module
from ..validation import finite_number, positive_int, positive_number

__all__ = ["LOSS_TYPES", "Loss", "LossGroup", "mean_difference", "ParamLoss"]


def loss_weight(value: Any, name: str, where: str) -> float:
    """A finite loss weight as a float (ddsp skips a term whose weight is <= 0)."""
    return finite_number(value, name, where)


def set_checked(obj: Any, where: str, weights=None, positives=None, counts=None) -> None:
    """Set ``obj.<name>`` for each argument dict after its check: ``weights`` finite numbers,
    ``positives`` positive numbers (scales, rates), ``counts`` positive integers."""
    checks = ((weights, loss_weight), (positives, positive_number), (counts, positive_int))
    for values, check in checks:
        for name, value in (values or {}).items():
            setattr(obj, name, check(value, name, where))


LOSS_TYPES = ("L1", "L2", "COSINE")


def check_loss_type(loss_type: Any) -> str:
    upper = loss_type.upper() if isinstance(loss_type, str) else None
    if upper not in LOSS_TYPES:
        raise ValueError(f'Loss type ({loss_type!r}), must be "L1", "L2", or "COSINE"')
    return upper


def broadcast_shape(where: str, **arrays: Any) -> tuple:
    shapes = {k: tuple(v.shape) for k, v in arrays.items() if hasattr(v, "shape")}
    try:
        return tuple(np.broadcast_shapes(*shapes.values()))
    except ValueError:
        described = ", ".join(f"{k} {s}" for k, s in shapes.items())
        raise ValueError(f"{where}: shapes do not broadcast together: {described}") from None


# -- base classes ------------------------------------------------------------------------------
class Loss(Module):
    """Base class of the losses: ``loss(*args)`` returns a scalar (``call``).

    Duck typing: anything with ``get_losses_dict`` is a loss for :class:`LossGroup` and the
    DAG runner. Keras' ``training`` / ``mask`` keyword arguments are dropped unless ``call``
    takes them, as a keras layer would.
    """

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        accepted = inspect.signature(self.call).parameters
        for key in ("training", "mask"):
            if key in kwargs and key not in accepted:
                del kwargs[key]
        return self.call(*args, **kwargs)

    def call(self, *args: Any, **kwargs: Any) -> Any:
        raise TypeError(f"{type(self).__name__} must define call")

    def get_losses_dict(self, *args: Any, **kwargs: Any) -> dict:
        """``{self.name: self(*args, **kwargs)}``."""
        return {self.name: self(*args, **kwargs)}


class LossGroup(DAGLayer):
    """A DAG of losses run over a dict of model outputs; returns one flat dict of losses.

    Args:
        dag: nodes ``(loss, ['input/key', ...])``; a loss may be an instance or the name of a
            loss passed by keyword.
        name: name of the group.
        **kwarg_losses: losses referenced by name in the dag.
    """

    def __init__(self, dag: Sequence, name: str = "loss_group", **kwarg_losses: Any):
        super().__init__(dag, name=name, **kwarg_losses)

    @property
    def loss_names(self) -> list[str]:
        return self.module_names

    @property
    def losses(self) -> list[Any]:
        return self.modules

    def __call__(self, outputs: dict, **kwargs: Any) -> dict:
        """Run every loss on its inputs from ``outputs``: ``{loss_key: scalar}``."""
        dag_outputs = self.run_dag(outputs, **kwargs)
        losses: dict = {}
        for name in self.loss_names:
            losses.update(dag_outputs[name])
        return losses

    def get_losses_dict(self, outputs: dict, **kwargs: Any) -> dict:
        """Alias of calling the group."""
        return self(outputs, **kwargs)


# -- mean_difference ---------------------------------------------------------------------------
def mean_difference(target: Any, value: Any, loss_type: str = "L1", weights: Any = None) -> Any:
    """Mean of the (weighted) element-wise difference ``target - value``.

    Args:
        target: target array [any shape].
        value: compared array, broadcastable with ``target``.
        loss_type: 'L1' (``mean |(t - v) w|``), 'L2' (``mean (t - v)^2 w``) or 'COSINE' (TF1's
            ``cosine_distance(target, value, weights, axis=-1)``: ``1 - sum(t v)`` over the
            last axis, inputs assumed unit-normalised, averaged over the entries with non-zero
            weight). Case-insensitive.
        weights: optional weights broadcastable with the difference (for COSINE, with
            ``[..., 1]``).

    Returns:
        Scalar loss; means run over **all** elements of the broadcast shape.

    Raises:
        TypeError: complex or non-numeric arrays.
        ValueError: unknown ``loss_type``; shapes that do not broadcast (COSINE: that differ);
            no element to average (ddsp returns NaN there).
    """
    where = "mean_difference"
    loss_type = check_loss_type(loss_type)
    target, value = to_float(target, "target", where), to_float(value, "value", where)
    arrays = {"target": target, "value": value}
    if weights is not None:
        weights = to_float(weights, "weights", where)
        arrays["weights"] = weights
    shape = broadcast_shape(where, **arrays)
    if not all(shape):
        described = ", ".join(f"{k} {tuple(v.shape)}" for k, v in arrays.items())
        raise ValueError(f"{where}: no element to average ({described}); the mean would be NaN")
    if loss_type == "COSINE":
        return _cosine_distance(target, value, weights)
    difference = target - value
    if loss_type == "L1":
        return ops.mean(ops.abs(difference if weights is None else difference * weights))
    squared = ops.square(difference)
    return ops.mean(squared if weights is None else squared * weights)


def _cosine_distance(target: Any, value: Any, weights: Any) -> Any:
    """tf.compat.v1.losses.cosine_distance(target, value, weights, axis=-1), SUM_BY_NONZERO."""
    if tuple(target.shape) != tuple(value.shape):
        raise ValueError(
            f"mean_difference (COSINE): target {tuple(target.shape)} and value "
            f"{tuple(value.shape)} must have the same shape"
        )
    losses = 1.0 - ops.sum(target * value, axis=-1, keepdims=True)
    if weights is None:
        return ops.mean(losses)
    shape = tuple(losses.shape)
    if broadcast_shape("mean_difference (COSINE)", weights=weights, losses=losses) != shape:
        raise ValueError(
            f"mean_difference (COSINE): weights {tuple(weights.shape)} must broadcast to the "
            f"per-vector losses {shape} (the last axis is reduced)"
        )
    raw = stop_gradient(weights)
    xp = array_namespace(raw, stop_gradient(losses))
    present = int(xp.count_nonzero(xp.broadcast_to(xp.asarray(raw) != 0, shape)))
    total = ops.sum(losses * weights)
    return total / present if present else total * 0.0


class ParamLoss(Loss):
    """``weight * mean_difference(pred, target, loss_type, weights)`` for any two arrays."""

    def __init__(self, weight: float = 1.0, loss_type: str = "L1", name: str | None = None):
        super().__init__(name=name)
        check_loss_type(loss_type)
        self.weight = loss_weight(weight, "weight", "ParamLoss")
        self.loss_type = loss_type

    def call(self, pred: Any, target: Any, weights: Any = None) -> Any:
        return self.weight * mean_difference(pred, target, self.loss_type, weights)


for _cls in (LossGroup, ParamLoss):
    register(_cls, module="ddsp_ref.losses")
del _cls
