"""ddsp's ResNet on spectrogram-like ``[batch, time, freq, ch]`` input: Conv2D, MaxPool (1, 3),
NormReluConv, ResidualLayer (pre-activation bottleneck), ResidualStack, ResNet."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ...autodiff import ops, stop_gradient
from ...autodiff.fused.conv import conv1d, same_padding
from ...backend import array_namespace
from ...gin_support import register
from ...module import Module
from ...validation import one_of, positive_int
from .activations import get_nonlinearity
from .base import Layer
from .conv import ConditionalNorm
from .initializers import child_seed, make_rng
from .layers import Normalize

__all__ = ["Conv2D", "max_pool_freq", "NormReluConv", "ResidualLayer", "ResidualStack", "ResNet"]

_LAYOUT = "[batch, n_frames, n_freq, channels]"
_SIZES = {"small": (32, (2, 3, 4)), "medium": (32, (3, 4, 6)), "large": (64, (3, 4, 6))}


class Conv2D(Layer):
    """keras ``Conv2D(filters, (k, k), strides=(1, stride), padding='same')``: time is kept,
    frequency is strided.

    Parameters: ``kernel [k, k, c_in, filters]`` (glorot-uniform with ``fan_in = k*k*c_in``,
    ``fan_out = k*k*filters``), ``bias [filters]`` (zeros). Computed as ``k`` fused 1-D
    convolutions along frequency (one per time tap, on the rows of the time-padded input)
    summed: the same cross-correlation as TF, with TF's 'same' split of the padding.

    Call: ``[batch, n_frames, n_freq, c_in]`` -> ``[batch, n_frames, ceil(n_freq / stride),
    filters]``.
    """

    def __init__(self, filters: int, kernel_size: int, stride: int = 1, seed: Any = None,
                 name: str | None = None):  # fmt: skip
        super().__init__(seed=seed, name=name)
        self.filters = positive_int(filters, "filters", "Conv2D")
        self.kernel_size = positive_int(kernel_size, "kernel_size", "Conv2D")
        self.stride = positive_int(stride, "stride", "Conv2D")

    def _create(self, input_size: int, xp: Any) -> None:
        k = self.kernel_size
        limit = math.sqrt(6.0 / (k * k * input_size + k * k * self.filters))
        kernel = self._rng.uniform(-limit, limit, (k, k, input_size, self.filters))
        self._new("kernel", kernel.astype(np.float32), xp)
        self._new("bias", np.zeros(self.filters, np.float32), xp)

    def __call__(self, x: Any) -> Any:
        x = self._prepare(x, (4,), _LAYOUT)
        kernel, bias = self._param("kernel", x), self._param("bias", x)
        batch, n_t, n_f, c_in = (int(n) for n in x.shape)
        k = self.kernel_size
        before, after = same_padding(n_t, k)
        padded = ops.pad(x, [(0, 0), (before, after), (0, 0), (0, 0)]) if before + after else x
        zero = array_namespace(stop_gradient(x)).zeros(self.filters, x.dtype)  # bias added once
        total = None
        for i in range(k):  # time tap i: a convolution along frequency of every frame
            rows = ops.reshape(padded[:, i : i + n_t], (batch * n_t, n_f, c_in))
            y = conv1d(rows, kernel[i], zero, 1, self.stride, "same")
            total = y if total is None else total + y
        n_out = int(total.shape[1])
        return ops.reshape(total + bias, (batch, n_t, n_out, self.filters))


def max_pool_freq(x: Any, pool_size: int = 3, stride: int = 2) -> Any:
    """keras ``MaxPool2D((1, pool_size), (1, stride), padding='same')``: the maximum over
    ``pool_size`` neighbouring frequency bins (TF's 'same' split; padding never wins).

    ``[batch, n_frames, n_freq, ch]`` -> ``[batch, n_frames, ceil(n_freq / stride), ch]``.
    """
    n_f = int(x.shape[2])
    n_out = -(-n_f // stride)
    before, after = same_padding(n_f, pool_size, 1, stride)
    x = ops.pad(x, [(0, 0), (0, 0), (before, after), (0, 0)], constant_values=-np.inf)
    span = (n_out - 1) * stride + 1
    windows = [x[:, :, j : j + span : stride] for j in range(pool_size)]
    return ops.max(ops.stack(windows, axis=0), axis=0)


class NormReluConv(Module):
    """ddsp's ``NormReluConv``: Normalize(norm_type) -> ReLU -> Conv2D(ch, (k, k), (1, s)).
    Children ``norm``, ``conv``."""

    def __init__(self, ch: int, k: int, s: int, norm_type: str, seed: Any = None,
                 name: str | None = None):  # fmt: skip
        super().__init__(name=name, trainable=True)
        self.norm = Normalize(norm_type, name="norm")
        self.conv = Conv2D(ch, k, s, seed=seed, name="conv")

    def children(self) -> dict[str, Module]:
        return {"norm": self.norm, "conv": self.conv}

    def __call__(self, x: Any) -> Any:
        return self.conv(ops.relu(self.norm(x)))


class ResidualLayer(Module):
    """ddsp's ``ResidualLayer``: a pre-activation bottleneck block, ``4 * ch`` channels out.

    ``h = relu(norm_input(x))`` (a ConditionalNorm of ``(x, z)`` when ``conditional``);
    ``bottleneck = conv_in`` (1x1, ch) -> ``norm_relu_conv_0`` (3x3, ch, frequency stride)
    -> ``norm_relu_conv_1`` (1x1, 4 ch); output ``bottleneck(h) + r`` with ``r = conv_proj(h)``
    (1x1, 4 ch, stride) when ``shortcut``, else ``r = x``.

    Call: ``x [batch, n_frames, n_freq, c]`` (or ``(x, z)`` when conditional, ``z [batch,
    c_z]`` or ``[batch, n_frames, c_z]``) -> ``[batch, n_frames, n_freq / stride, 4 ch]``.
    """

    def __init__(self, ch: int, stride: int, shortcut: bool, norm_type: str,
                 conditional: bool, shift_only: bool, seed: Any = None,
                 name: str | None = None):  # fmt: skip
        super().__init__(name=name, trainable=True)
        rng = make_rng(seed)
        self.shortcut, self.conditional = bool(shortcut), bool(conditional)
        if self.conditional:
            self.norm_input = ConditionalNorm(norm_type, shift_only, seed=child_seed(rng),
                                              name="norm_input")  # fmt: skip
        else:
            self.norm_input = Normalize(norm_type, name="norm_input")
        proj_seed = child_seed(rng)
        self.conv_proj = (
            Conv2D(4 * ch, 1, stride, seed=proj_seed, name="conv_proj") if shortcut else None
        )
        self.conv_in = Conv2D(ch, 1, 1, seed=child_seed(rng), name="conv_in")
        self.norm_relu_conv_0 = NormReluConv(ch, 3, stride, norm_type, seed=child_seed(rng),
                                             name="norm_relu_conv_0")  # fmt: skip
        self.norm_relu_conv_1 = NormReluConv(4 * ch, 1, 1, norm_type, seed=child_seed(rng),
                                             name="norm_relu_conv_1")  # fmt: skip

    def children(self) -> dict[str, Module]:
        out = {"norm_input": self.norm_input}
        if self.shortcut:
            out["conv_proj"] = self.conv_proj
        out.update(conv_in=self.conv_in, norm_relu_conv_0=self.norm_relu_conv_0,
                   norm_relu_conv_1=self.norm_relu_conv_1)  # fmt: skip
        return out

    def __call__(self, inputs: Any) -> Any:
        x, z = _split(inputs, self.conditional, "ResidualLayer")
        h = ops.relu(self.norm_input((x, z)) if self.conditional else self.norm_input(x))
        r = self.conv_proj(h) if self.shortcut else x
        return self.norm_relu_conv_1(self.norm_relu_conv_0(self.conv_in(h))) + r


def _split(inputs: Any, conditional: bool, where: str) -> tuple[Any, Any]:
    if not conditional:
        return inputs, None
    if not isinstance(inputs, (list, tuple)) or len(inputs) != 2:
        raise ValueError(f"{where}: a conditional layer takes a pair (x, z), got {type(inputs)}")
    return inputs[0], inputs[1]


class ResidualStack(Module):
    """ddsp's ``ResidualStack``: per ``(ch, n, stride)`` of ``zip(filters, block_sizes,
    strides)`` one ResidualLayer with a projection shortcut and the stride, then ``n - 1``
    without; then Normalize(norm_type) and the nonlinearity. Children ``layer_0`` ... and
    ``norm``. Call: ``x`` or ``(x, z)`` when conditional."""

    def __init__(self, filters: Sequence[int], block_sizes: Sequence[int],
                 strides: Sequence[int], norm_type: str, conditional: bool = False,
                 shift_only: bool = False, nonlinearity: str | Callable = "relu",
                 seed: Any = None, name: str | None = None):  # fmt: skip
        super().__init__(name=name, trainable=True)
        rng = make_rng(seed)
        self.conditional = bool(conditional)
        self.layers = []
        for ch, n_layers, stride in zip(filters, block_sizes, strides):
            positive_int(n_layers, "block size", "ResidualStack")
            for j in range(n_layers):
                self.layers.append(ResidualLayer(
                    ch, stride if j == 0 else 1, j == 0, norm_type, conditional, shift_only,
                    seed=child_seed(rng), name=f"layer_{len(self.layers)}"))  # fmt: skip
        self.norm = Normalize(norm_type, name="norm")
        self.nonlinearity = get_nonlinearity(nonlinearity)

    def children(self) -> dict[str, Module]:
        return {**{layer.name: layer for layer in self.layers}, "norm": self.norm}

    def __call__(self, inputs: Any) -> Any:
        x, z = _split(inputs, self.conditional, "ResidualStack")
        for layer in self.layers:
            x = layer((x, z) if self.conditional else x)
        return self.nonlinearity(self.norm(x))


class ResNet(Module):
    """ddsp's ``ResNet``: Conv2D(64, 7x7, frequency stride 2) -> MaxPool (1, 3) stride (1, 2)
    -> ResidualStack(``[ch, 2ch, 4ch]``, blocks, ``[1, 2, 2]``) -> ResidualStack(``[8ch]``,
    ``[3]``, ``[2]``), with ``(ch, blocks)`` = small (32, [2, 3, 4]), medium (32, [3, 4, 6]),
    large (64, [3, 4, 6]). Time is kept; frequency is downsampled 32 times; the output has
    ``32 * ch`` channels.

    Children ``conv_in``, ``stack_0``, ``stack_1``. Call: ``x [batch, n_frames, n_freq, c]``
    (or ``(x, z)`` when conditional) -> ``[batch, n_frames, n_freq / 32, 32 ch]``.

    Raises:
        ValueError: an unknown size (ddsp's ResnetSinusoidalEncoder default 'tiny' is one).
    """

    def __init__(self, size: str = "large", norm_type: str = "layer", conditional: bool = False,
                 shift_only: bool = False, seed: Any = None, name: str | None = None):  # fmt: skip
        super().__init__(name=name, trainable=True)
        ch, blocks = _SIZES[one_of(size, tuple(_SIZES), "size", "ResNet")]
        rng = make_rng(seed)
        self.conditional = bool(conditional)
        self.conv_in = Conv2D(64, 7, 2, seed=child_seed(rng), name="conv_in")
        self.stack_0 = ResidualStack([ch, 2 * ch, 4 * ch], blocks, [1, 2, 2], norm_type,
                                     conditional, shift_only, seed=child_seed(rng),
                                     name="stack_0")  # fmt: skip
        self.stack_1 = ResidualStack([8 * ch], [3], [2], norm_type, conditional, shift_only,
                                     seed=child_seed(rng), name="stack_1")  # fmt: skip

    def children(self) -> dict[str, Module]:
        return {"conv_in": self.conv_in, "stack_0": self.stack_0, "stack_1": self.stack_1}

    def __call__(self, inputs: Any) -> Any:
        x, z = _split(inputs, self.conditional, "ResNet")
        x = max_pool_freq(self.conv_in(x))
        for stack in (self.stack_0, self.stack_1):
            x = stack((x, z) if self.conditional else x)
        return x


# ddsp's gin names: @nn.ResNet() ...
for _cls in (NormReluConv, ResidualLayer, ResidualStack, ResNet):
    register(_cls, module="ddsp_ref.training.nn")
del _cls
