"""ddsp's straight-through estimators: discrete values forward, surrogate gradients backward."""

from __future__ import annotations

from typing import Any

from ...autodiff import ops, stop_gradient
from ...backend import array_namespace, default_rng
from ...core.utils import to_float
from ...validation import check_rank

__all__ = [
    "softmax",
    "sample_one_hot",
    "straight_through_softmax",
    "straight_through_choice",
    "straight_through_int_quantization",
]


def softmax(logits: Any) -> Any:
    """``exp(logits) / sum(exp(logits))`` over the last axis (tf.nn.softmax), differentiable."""
    logits = to_float(logits, "logits", "softmax")
    return ops.exp(logits - ops.logsumexp(logits, axis=-1, keepdims=True))


def sample_one_hot(probs: Any, seed: Any = None) -> Any:
    """One draw per row of a categorical distribution, as a one-hot array (no gradient).

    Args:
        probs: ``[..., n_classes]`` probabilities (each row sums to 1).
        seed: int, None (fresh entropy) or a generator of the array's namespace.

    Returns:
        ``[..., n_classes]`` one-hot array in the dtype of ``probs``.
    """
    raw = stop_gradient(probs)
    xp = array_namespace(raw)
    rng = default_rng(seed, xp)
    u = xp.asarray(rng.random(raw.shape[:-1] + (1,)), dtype=raw.dtype)
    # Inverse CDF: the class is the number of cumulative probabilities below u (rounding can
    # leave the last cumulative value under 1, hence the clip).
    index = xp.sum(xp.cumsum(raw, axis=-1) <= u, axis=-1, keepdims=True)
    index = xp.minimum(index, raw.shape[-1] - 1)
    return (xp.arange(raw.shape[-1]) == index).astype(raw.dtype)


def straight_through_softmax(logits: Any, seed: Any = None) -> tuple[Any, Any]:
    """ddsp's ``straight_through_softmax``: a one-hot sample with the gradient of the probs.

    ``probs = softmax(logits)``; ``sample`` is a one-hot draw from ``probs``, returned as
    ``stop_gradient(sample - probs * sample) + probs * sample``: its value is the one-hot
    sample (up to float rounding, as in ddsp) and its gradient is that of ``probs * sample``
    (the chosen class's probability, zero elsewhere).

    Args:
        logits: ``[..., n_classes]`` unnormalised log-probabilities.
        seed: int, None or a generator for the draw (ddsp draws from TF's global generator).

    Returns:
        ``(sample, probs)``, both ``[..., n_classes]``.

    Raises:
        ValueError: ``logits`` without a class axis (a scalar).
    """
    logits = to_float(logits, "logits", "straight_through_softmax")
    check_rank(logits, tuple(range(1, 9)), "logits", "straight_through_softmax", "[..., n_classes]")
    probs = softmax(logits)
    return straight_through_one_hot(probs, sample_one_hot(probs, seed)), probs


def straight_through_one_hot(probs: Any, sample: Any) -> Any:
    """The straight-through combination of :func:`straight_through_softmax` for a given one-hot
    ``sample`` (an array, no gradient): ``stop_gradient(sample - p) + p`` with ``p = probs *
    sample``."""
    p_sample = probs * sample
    return stop_gradient(sample - p_sample) + p_sample


def straight_through_choice(logits: Any, values: Any, seed: Any = None) -> Any:
    """ddsp's ``straight_through_choice``: ``sum(straight_through_softmax(logits)[0] * values)``
    over the last axis (kept, size 1): the sampled class's value, differentiable in ``values``
    and, through the chosen probability, in ``logits``.

    Args:
        logits: ``[..., n_classes]``.
        values: ``[..., n_classes]`` (broadcast against ``logits``).
        seed: as :func:`straight_through_softmax`.

    Returns:
        ``[..., 1]``.
    """
    choice, _ = straight_through_softmax(logits, seed)
    values = to_float(values, "values", "straight_through_choice")
    return ops.sum(choice * values, axis=-1, keepdims=True)


def straight_through_int_quantization(x: Any) -> Any:
    """ddsp's ``straight_through_int_quantization``: ``x + stop_gradient(round(x) - x)``.

    Values are rounded to the nearest integer (halves to even, like ``tf.math.round``; no
    scaling, so ``[-1, 1]`` gives only -1, 0 or 1); the gradient is the identity.

    Args:
        x: any shape.

    Returns:
        Same shape and dtype (float32 / float64).
    """
    x = to_float(x, "x", "straight_through_int_quantization")
    raw = stop_gradient(x)
    return x + (array_namespace(raw).round(raw) - raw)
