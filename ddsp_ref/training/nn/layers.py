"""Dense, keras LayerNormalization, ddsp's normalize_op / Normalize, Fc, FcStack, split_to_dict,
Identity."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ...autodiff import ops
from ...autodiff.fused.dense import dense_layer_norm
from ...backend import array_namespace
from ...core.utils import to_float
from ...gin_support import register
from ...kernels.selection import use_fused
from ...module import Module
from ...validation import check_rank, nonnegative_int, one_of, positive_int, positive_number
from .activations import NONLINEARITIES, get_nonlinearity
from .base import Layer
from .initializers import child_seed, glorot_uniform, make_rng

__all__ = [
    "Dense",
    "LayerNormalization",
    "normalize_op",
    "Normalize",
    "Fc",
    "FcStack",
    "FcStackOut",
    "split_to_dict",
    "ensure_4d",
    "inv_ensure_4d",
    "Identity",
]

_ANY_RANK = (1, 2, 3, 4, 5)

# Nonlinearities the fused Fc op computes, as its slope below zero.
_FUSED_SLOPES = {NONLINEARITIES["leaky_relu"]: 0.2, NONLINEARITIES["relu"]: 0.0}


class Dense(Layer):
    """keras ``Dense``: ``activation(x @ kernel + bias)`` over the last axis.

    Args:
        units: output size.
        activation: a name for :func:`get_nonlinearity`, a callable, or None (linear).
        use_bias: add a bias (zeros at initialisation).
        seed: int, None or numpy Generator for the glorot-uniform kernel.
        input_size: build the ``[input_size, units]`` kernel now; None builds it at the first
            call from the input's last axis (keras' behaviour).

    Call: ``[..., input_size]`` -> ``[..., units]``.
    """

    def __init__(self, units: int, activation: str | Callable | None = None,
                 use_bias: bool = True, seed: Any = None, input_size: int | None = None,
                 name: str | None = None):  # fmt: skip
        super().__init__(seed=seed, name=name)
        self.units = positive_int(units, "units", "Dense")
        self.activation = get_nonlinearity(activation)
        self.use_bias = bool(use_bias)
        if input_size is not None:
            self.build(positive_int(input_size, "input_size", "Dense"))

    def _create(self, input_size: int, xp: Any) -> None:
        self._new("kernel", glorot_uniform(self._rng, (input_size, self.units)), xp)
        if self.use_bias:
            self._new("bias", np.zeros(self.units, np.float32), xp)

    def __call__(self, x: Any) -> Any:
        x = self._prepare(x, _ANY_RANK, "[..., input_size]")
        y = ops.matmul(x, self._param("kernel", x))
        if self.use_bias:
            y = y + self._param("bias", x)
        return self.activation(y)


class LayerNormalization(Layer):
    """keras ``LayerNormalization`` over the last axis (per time step):
    ``gamma * (x - mean) / sqrt(var + epsilon) + beta`` with the population variance.

    Args:
        epsilon: added to the variance (keras' default 1e-3).
        center: learn ``beta`` (zeros at initialisation).
        scale: learn ``gamma`` (ones at initialisation).
        input_size: build now; None builds at the first call.

    Call: ``[..., channels]`` -> same shape.
    """

    def __init__(self, epsilon: float = 1e-3, center: bool = True, scale: bool = True,
                 input_size: int | None = None, name: str | None = None):  # fmt: skip
        super().__init__(name=name)
        self.epsilon = positive_number(epsilon, "epsilon", "LayerNormalization")
        self.center, self.scale = bool(center), bool(scale)
        if input_size is not None:
            self.build(positive_int(input_size, "input_size", "LayerNormalization"))

    def _create(self, input_size: int, xp: Any) -> None:
        if self.scale:
            self._new("gamma", np.ones(input_size, np.float32), xp)
        if self.center:
            self._new("beta", np.zeros(input_size, np.float32), xp)

    def __call__(self, x: Any) -> Any:
        x = self._prepare(x, _ANY_RANK, "[..., channels]")
        y = ops.standardize(x, axis=-1, eps=self.epsilon)
        if self.scale:
            y = y * self._param("gamma", x)
        if self.center:
            y = y + self._param("beta", x)
        return y


def ensure_4d(x: Any) -> Any:
    """ddsp's ``ensure_4d``: ``[B, C]`` -> ``[B, 1, 1, C]``, ``[B, T, C]`` -> ``[B, T, 1, C]``;
    4-D input is returned as is."""
    check_rank(x, (2, 3, 4), "x", "ensure_4d", "[batch, channels], [batch, time, channels] or 4-D")
    if x.ndim == 2:
        return ops.reshape(x, (x.shape[0], 1, 1, x.shape[1]))
    if x.ndim == 3:
        return ops.expand_dims(x, 2)
    return x


def inv_ensure_4d(x: Any, n_dims: int) -> Any:
    """Undo :func:`ensure_4d` for an input that had ``n_dims`` axes (2, 3 or 4)."""
    if n_dims == 2:
        return ops.reshape(x, (x.shape[0], x.shape[-1]))
    if n_dims == 3:
        return ops.squeeze(x, 2)
    return x


_N_GROUPS = {"layer": lambda ch: 1, "instance": lambda ch: ch, "group": lambda ch: 32}


def normalize_op(x: Any, norm_type: str = "layer", eps: float = 1e-5) -> Any:
    """ddsp's ``normalize_op``: normalise groups of channels over time (non-causal).

    The channels are split into groups (1 for 'layer', one per channel for 'instance', 32 for
    'group'); each example's mean and population variance are taken over all time steps (and
    width) and the channels of a group jointly: 'layer' normalises each example over every
    time step and channel together, 'instance' each channel over time.

    Args:
        x: ``[batch, channels]``, ``[batch, time, channels]`` or ddsp's
            ``[batch, time, width, channels]``.
        norm_type: 'layer', 'instance', 'group', or None (no normalisation: ``x`` as a
            float array, as ddsp returns it).
        eps: added to the variance.

    Returns:
        ``(x - mean) / sqrt(var + eps)``, shape and dtype (float32 / float64) of ``x``.

    Raises:
        ValueError: unknown ``norm_type``, a bad rank, or 'group' with channels not a multiple
            of 32.
    """
    one_of(norm_type, (*_N_GROUPS, None), "norm_type", "normalize_op")
    eps = positive_number(eps, "eps", "normalize_op")
    x = to_float(x, "x", "normalize_op")
    if norm_type is None:
        check_rank(x, (2, 3, 4), "x", "normalize_op", "[batch, (time, (width,)) channels]")
        return x
    n_dims = len(x.shape)
    x4 = ensure_4d(x)
    mb, t, w, ch = x4.shape
    groups = _N_GROUPS[norm_type](ch)
    if ch % groups:
        raise ValueError(
            f"normalize_op: norm_type 'group' needs channels divisible by {groups}, got "
            f"{ch} channels (shape {tuple(x.shape)})"
        )
    grouped = ops.reshape(x4, (mb, t, w, groups, ch // groups))
    y = ops.standardize(grouped, axis=(1, 2, 4), eps=eps)
    return inv_ensure_4d(ops.reshape(y, (mb, t, w, ch)), n_dims)


class Normalize(Layer):
    """ddsp's ``Normalize``: :func:`normalize_op` (eps 1e-5; ``norm_type=None``: none), then a
    learned ``scale`` (ones) and ``shift`` (zeros) per channel. They have shape ``[channels]``
    (ddsp stores ``[1, 1, 1, channels]``; the broadcast is the same).

    Call: ``[batch, channels]``, ``[batch, time, channels]`` or 4-D -> same shape.
    """

    def __init__(self, norm_type: str = "layer", input_size: int | None = None,
                 name: str | None = None):  # fmt: skip
        super().__init__(name=name)
        self.norm_type = one_of(norm_type, (*_N_GROUPS, None), "norm_type", "Normalize")
        if input_size is not None:
            self.build(positive_int(input_size, "input_size", "Normalize"))

    def _create(self, input_size: int, xp: Any) -> None:
        self._new("scale", np.ones(input_size, np.float32), xp)
        self._new("shift", np.zeros(input_size, np.float32), xp)

    def __call__(self, x: Any) -> Any:
        x = self._prepare(x, (2, 3, 4), "[batch, (time, (width,)) channels]")
        y = normalize_op(x, self.norm_type)
        return y * self._param("scale", x) + self._param("shift", x)


class Fc(Module):
    """ddsp's ``Fc``: Dense(ch) -> keras LayerNormalization (eps 1e-3) -> nonlinearity.

    Children: ``dense``, ``layer_norm``. Call: ``[..., input_size]`` -> ``[..., ch]``.
    """

    def __init__(self, ch: int = 128, nonlinearity: str | Callable = "leaky_relu",
                 seed: Any = None, input_size: int | None = None,
                 name: str | None = None):  # fmt: skip
        super().__init__(name=name, trainable=True)
        self.dense = Dense(ch, seed=seed, input_size=input_size, name="dense")
        # Sized now only when the Dense is (input_size given): a lazy block builds both on the
        # first input's device (numpy or cupy).
        norm_size = None if input_size is None else self.dense.units
        self.layer_norm = LayerNormalization(input_size=norm_size, name="layer_norm")
        self.nonlinearity = get_nonlinearity(nonlinearity)

    def children(self) -> dict[str, Module]:
        return {"dense": self.dense, "layer_norm": self.layer_norm}

    def __call__(self, x: Any) -> Any:
        alpha = _FUSED_SLOPES.get(self.nonlinearity)
        if alpha is None or not use_fused() or not self._fusable():
            return self.nonlinearity(self.layer_norm(self.dense(x)))
        # One fused op (one GEMM, one normalisation kernel, one tape node): same numbers.
        dense, norm = self.dense, self.layer_norm
        x = dense._prepare(x, _ANY_RANK, "[..., input_size]")
        if not norm.built:
            norm.build(dense.units, array_namespace(x))
        params = [dense._param(n, x) for n in ("kernel", "bias")]
        params += [norm._param(n, x) for n in ("gamma", "beta")]
        return dense_layer_norm(x, *params, epsilon=norm.epsilon, alpha=alpha)

    def _fusable(self) -> bool:
        return self.dense.use_bias and self.layer_norm.scale and self.layer_norm.center


class FcStack(Module):
    """ddsp's ``FcStack``: ``layers`` :class:`Fc` blocks of width ``ch``, children ``fc_0``...

    The blocks' seeds are drawn from ``seed``, so one seed reproduces the whole stack.
    Call: ``[..., input_size]`` -> ``[..., ch]`` (with ``layers=0``, the identity).
    """

    def __init__(self, ch: int = 256, layers: int = 2, nonlinearity: str | Callable = "leaky_relu",
                 seed: Any = None, input_size: int | None = None,
                 name: str | None = None):  # fmt: skip
        super().__init__(name=name, trainable=True)
        # ddsp's tiny_instrument uses 0 layers: an empty keras Sequential, the identity.
        n = nonnegative_int(layers, "layers", "FcStack")
        rng = make_rng(seed)
        # Inner blocks are sized now only when the first is: otherwise all build on the first
        # input's device (numpy or cupy).
        inner = None if input_size is None else ch
        sizes = ([input_size] + [inner] * (n - 1)) if n else []
        self.layers = [
            Fc(ch, nonlinearity, seed=child_seed(rng), input_size=size, name=f"fc_{i}")
            for i, size in enumerate(sizes)
        ]

    def children(self) -> dict[str, Module]:
        return {layer.name: layer for layer in self.layers}

    def __call__(self, x: Any) -> Any:
        for layer in self.layers:
            x = layer(x)
        return x


class FcStackOut(Module):
    """ddsp's ``FcStackOut``: :class:`FcStack` (``ch``, ``layers``) then Dense(``n_out``).

    Children ``stack`` and ``dense_out``. Call: ``[..., input_size]`` -> ``[..., n_out]``.
    """

    def __init__(self, ch: int, layers: int, n_out: int, seed: Any = None,
                 input_size: int | None = None, name: str | None = None):  # fmt: skip
        super().__init__(name=name, trainable=True)
        rng = make_rng(seed)
        self.stack = FcStack(ch, layers, seed=child_seed(rng), input_size=input_size, name="stack")
        self.dense_out = Dense(n_out, seed=child_seed(rng),
                               input_size=None if input_size is None else ch, name="dense_out")

    def children(self) -> dict[str, Module]:
        return {"stack": self.stack, "dense_out": self.dense_out}

    def __call__(self, x: Any) -> Any:
        return self.dense_out(self.stack(x))


def split_to_dict(tensor: Any, splits: Sequence[tuple[str, int]]) -> dict[str, Any]:
    """ddsp's ``split_to_dict``: split the last axis, in order, into ``{key: [..., size]}``.

    Raises:
        ValueError: if the sizes do not add up to the last axis.
    """
    sizes = [positive_int(size, f"size of {key!r}", "split_to_dict") for key, size in splits]
    if sum(sizes) != tensor.shape[-1]:
        raise ValueError(
            f"split_to_dict: splits {list(splits)} add up to {sum(sizes)}, but the last axis "
            f"of the tensor has {tensor.shape[-1]} entries (shape {tuple(tensor.shape)})"
        )
    pieces = ops.split(tensor, list(np.cumsum(sizes)[:-1]), axis=-1)
    return {key: piece for (key, _), piece in zip(splits, pieces)}


class Identity(Module):
    """ddsp's ``Identity`` layer: returns its input unchanged (a placeholder ``net`` in gin)."""

    def __call__(self, x: Any) -> Any:
        return x


# ddsp's gin names (@nn.Fc(), ...; keras' Dense is registered in ddsp's nn module too).
for _obj in (Dense, Normalize, Fc, FcStack, FcStackOut, Identity, split_to_dict):
    register(_obj, module="ddsp_ref.training.nn")
del _obj
