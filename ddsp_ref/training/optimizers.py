"""ddsp's optimisation (``trainers.Trainer``): Adam on an exponentially decaying learning rate,
gradients clipped by their global norm.

Everything is functional over parameter pytrees (nested dicts of numpy or cupy arrays): the
optimiser state is a plain dict ``{'step': int, 'm': tree, 'v': tree}`` that
:func:`ddsp_ref.training.checkpoints.save_checkpoint` stores as it is, and ``update`` returns new
parameters and a new state without modifying its arguments. ddsp's defaults::

    opt = Adam(ExponentialDecay(3e-4, decay_steps=10000, decay_rate=0.98))
    state = opt.init(params)
    loss, grads = value_and_grad(loss_fn)(params)
    grads, global_norm = clip_by_global_norm(grads, 3.0)
    params, state = opt.update(params, grads, state)
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from ..autodiff import tree_flatten, tree_map
from ..autodiff.pytree import tree_structure
from ..backend import array_namespace
from ..validation import check_real_dtype, finite_number, positive_number

__all__ = ["ExponentialDecay", "clip_by_global_norm", "global_norm", "Adam"]


class ExponentialDecay:
    """keras' ``ExponentialDecay``: ``lr(step) = initial_learning_rate * decay_rate **
    (step / decay_steps)``, with the exponent floored when ``staircase``.

    ddsp's Trainer uses it continuous (``staircase=False``) with 10000 steps and rate 0.98.
    Calling it with a step (int, the number of updates already applied) returns a Python float.
    """

    def __init__(self, initial_learning_rate: float, decay_steps: float = 10000,
                 decay_rate: float = 0.98, staircase: bool = False):  # fmt: skip
        where = "ExponentialDecay"
        self.initial_learning_rate = finite_number(
            initial_learning_rate, "initial_learning_rate", where
        )
        self.decay_steps = positive_number(decay_steps, "decay_steps", where)
        self.decay_rate = positive_number(decay_rate, "decay_rate", where)
        self.staircase = bool(staircase)

    def __call__(self, step: Any) -> float:
        step = finite_number(step, "step", "ExponentialDecay")
        exponent = step / self.decay_steps
        if self.staircase:
            exponent = math.floor(exponent)
        return self.initial_learning_rate * self.decay_rate**exponent

    def __repr__(self) -> str:
        return (
            f"ExponentialDecay({self.initial_learning_rate!r}, decay_steps={self.decay_steps!r}, "
            f"decay_rate={self.decay_rate!r}, staircase={self.staircase!r})"
        )


def _array_leaves(tree: Any) -> list:
    """The leaves of a gradient tree that hold values (None marks 'no gradient')."""
    return [leaf for leaf in tree_flatten(tree)[0] if leaf is not None]


def global_norm(tree: Any) -> Any:
    """``sqrt(sum of squares of every leaf)``: a 0-d array on the leaves' device (no host
    synchronisation), in the widest of their dtypes; 0.0 for a tree without arrays."""
    leaves = _array_leaves(tree)
    if not leaves:
        return 0.0
    xp = array_namespace(*leaves)
    total = sum(xp.sum(xp.square(leaf)) for leaf in leaves)
    return xp.sqrt(total)


def clip_by_global_norm(grads: Any, clip_norm: float) -> tuple[Any, Any]:
    """TensorFlow's ``tf.clip_by_global_norm`` over a pytree.

    Every leaf is multiplied by ``clip_norm / max(global_norm, clip_norm)``: trees whose global
    norm is at most ``clip_norm`` come back unchanged (zero gradients included), larger ones are
    scaled to norm ``clip_norm``. As in TF, a non-finite global norm makes every entry NaN.

    Args:
        grads: pytree of arrays (None leaves pass through).
        clip_norm: the largest global norm kept, > 0.

    Returns:
        ``(clipped, global_norm)``: a tree shaped like ``grads`` (each leaf in its own dtype),
        and the norm before clipping as a 0-d array.
    """
    clip_norm = positive_number(clip_norm, "clip_norm", "clip_by_global_norm")
    for leaf in _array_leaves(grads):
        check_real_dtype(leaf, "grads", "clip_by_global_norm")
    norm = global_norm(grads)
    if not _array_leaves(grads):
        return grads, norm
    xp = array_namespace(norm)
    # (norm - norm) is NaN for an infinite norm, so inf gradients are flagged, not zeroed.
    with np.errstate(invalid="ignore"):
        scale = clip_norm / xp.maximum(norm, clip_norm) + (norm - norm)

    def clip(g: Any) -> Any:
        return None if g is None else g * scale.astype(g.dtype)

    return tree_map(clip, grads), norm


class Adam:
    """keras' Adam (the optimiser of ddsp's Trainer), functional over pytrees.

    With ``t = step + 1`` and ``lr = learning_rate(step)`` (or the constant):
    ``m += (1 - beta_1) (g - m)``, ``v += (1 - beta_2) (g**2 - v)``,
    ``param -= lr sqrt(1 - beta_2**t) / (1 - beta_1**t) * m / (sqrt(v) + epsilon)``
    (bias correction folded into the step size; ``epsilon`` is added to the uncorrected
    ``sqrt(v)``, as keras does). The moments have the parameters' shapes and dtypes, so float32
    parameters keep float32 state; the arithmetic runs in the arrays' own namespace (numpy or
    cupy). amsgrad is not provided.

    Args:
        learning_rate: a number, or a schedule called with the step (e.g. ExponentialDecay).
        beta_1, beta_2: moment decay rates in [0, 1).
        epsilon: added to ``sqrt(v)``, > 0.
    """

    def __init__(self, learning_rate: float | Callable[[int], float] = 0.001, beta_1: float = 0.9,
                 beta_2: float = 0.999, epsilon: float = 1e-7):  # fmt: skip
        where = "Adam"
        if not callable(learning_rate):
            learning_rate = positive_number(learning_rate, "learning_rate", where)
        self.learning_rate = learning_rate
        for name, beta in (("beta_1", beta_1), ("beta_2", beta_2)):
            if not 0.0 <= finite_number(beta, name, where) < 1.0:
                raise ValueError(f"{where}: {name} must be in [0, 1), got {beta!r}")
        self.beta_1, self.beta_2 = float(beta_1), float(beta_2)
        self.epsilon = positive_number(epsilon, "epsilon", where)

    def learning_rate_at(self, step: int) -> float:
        """The learning rate of update number ``step`` (0 for the first)."""
        lr = self.learning_rate
        return float(lr(step)) if callable(lr) else lr

    def init(self, params: Any) -> dict:
        """The state before the first update: step 0, zero moments shaped like ``params``."""

        def zeros(p: Any) -> Any:
            check_real_dtype(p, "params", "Adam.init")
            return array_namespace(p).zeros_like(p)

        return {"step": 0, "m": tree_map(zeros, params), "v": tree_map(zeros, params)}

    def update(self, params: Any, grads: Any, state: dict) -> tuple[Any, dict]:
        """One Adam step: ``(new_params, new_state)``; nothing passed in is modified.

        Args:
            params: pytree of float arrays.
            grads: pytree of the same structure (a None leaf leaves its parameter and moments
                unchanged); cast to each parameter's dtype.
            state: from :meth:`init` or a previous update (or a loaded checkpoint).
        """
        step = int(state["step"])
        t = step + 1
        # Python floats are weak scalars, so float32 arrays stay float32 below.
        alpha = self.learning_rate_at(step) * math.sqrt(1.0 - self.beta_2**t)
        alpha /= 1.0 - self.beta_1**t
        b1, b2, eps = self.beta_1, self.beta_2, self.epsilon

        def leaf(p: Any, g: Any, m: Any, v: Any) -> tuple:
            if g is None:
                return p, m, v
            xp = array_namespace(p)
            g = xp.asarray(g).astype(p.dtype, copy=False)
            # TF's ApplyAdam kernel form, m += (g - m)(1 - b1), in place on fresh arrays only
            # (fewer temporaries; the arguments are never written).
            m_new = g - m
            m_new *= 1.0 - b1
            m_new += m
            v_new = xp.square(g)
            v_new -= v
            v_new *= 1.0 - b2
            v_new += v
            step = xp.sqrt(v_new)
            step += eps
            step = m_new / step  # not out=: 0-d inputs give numpy scalars
            step *= alpha
            return p - step, m_new, v_new

        flat, rebuild = tree_flatten(params)
        others = [
            _leaves_like(params, tree, name)
            for tree, name in (
                (grads, "grads"),
                (state["m"], "state['m']"),
                (state["v"], "state['v']"),
            )
        ]
        new = [leaf(*parts) for parts in zip(flat, *others)]
        new_params, new_m, new_v = (rebuild([n[i] for n in new]) for i in range(3))
        return new_params, {"step": t, "m": new_m, "v": new_v}

    def __repr__(self) -> str:
        return (
            f"Adam(learning_rate={self.learning_rate!r}, beta_1={self.beta_1!r}, "
            f"beta_2={self.beta_2!r}, epsilon={self.epsilon!r})"
        )


def _leaves_like(reference: Any, tree: Any, name: str) -> list:
    """The leaves of ``tree``, which must have the structure of ``reference``."""
    if tree_structure(tree) != tree_structure(reference):
        raise ValueError(f"Adam.update: {name} has another tree structure than params")
    return tree_flatten(tree)[0]
