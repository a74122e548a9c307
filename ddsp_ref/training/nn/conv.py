"""ddsp's convolutional blocks: Conv1D (keras Conv2D with a (k, 1) kernel), FiLM conditioning
(ConditionalScaleAndShift, ConditionalNorm) and the WaveNet-style DilatedConvStack."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ...autodiff import ops
from ...autodiff.fused.conv import conv1d, conv1d_transpose
from ...core.utils import to_float
from ...gin_support import register
from ...module import Module, training_phase
from ...validation import check_rank, nonnegative_int, one_of, positive_int
from .base import Layer
from .initializers import child_seed, make_rng, orthogonal
from .layers import Dense, Normalize, ensure_4d, inv_ensure_4d, normalize_op
from .spectral_norm import SpectralNorm

__all__ = [
    "Conv1D",
    "Conv1DTranspose",
    "conv_kernel_initializer",
    "ConditionalScaleAndShift",
    "ConditionalNorm",
    "DilatedConvStack",
    "dilation_rates",
]

_INITIALIZERS = ("glorot_uniform", "orthogonal")
_NORM_TYPES = (None, "layer", "instance", "group")


def conv_kernel_initializer(rng: np.random.Generator, shape: tuple[int, int, int],
                            initializer: str = "glorot_uniform") -> np.ndarray:  # fmt: skip
    """keras' initialisers for a Conv2D kernel ``(k, 1, a, b)`` (Conv2D: ``a = c_in, b =
    c_out``; Conv2DTranspose: ``a = c_out, b = c_in``), returned as ``[k, a, b]`` float32.

    'glorot_uniform': U(-l, l) with ``l = sqrt(6 / (fan_in + fan_out))``, where keras counts
    the receptive field in both fans: ``fan_in = k * a``, ``fan_out = k * b``.
    'orthogonal': keras Orthogonal on the kernel flattened to ``[k * a, b]``.
    """
    k, c_in, c_out = shape
    one_of(initializer, _INITIALIZERS, "kernel_initializer", "Conv1D")
    if initializer == "orthogonal":
        return orthogonal(rng, (k * c_in, c_out)).reshape(k, c_in, c_out)
    limit = math.sqrt(6.0 / (k * c_in + k * c_out))
    return rng.uniform(-limit, limit, size=(k, c_in, c_out)).astype(np.float32)


class Conv1D(SpectralNorm, Layer):
    """keras ``Conv2D(filters, (kernel_size, 1), (stride, 1), dilation_rate=(dilation, 1),
    padding)`` on ``[batch, n_steps, channels]`` (ddsp's ``[batch, n_steps, 1, channels]``
    without the width axis).

    Parameters: ``kernel [kernel_size, c_in, filters]`` (keras' ``[k, 1, c_in, filters]``),
    ``bias [filters]`` (zeros). With ``spectral_norm`` (ddsp's ``SpectralNormalization``
    around the Conv2D) also the non-trainable ``sn_u [1, filters]``, and every training call
    first normalises the kernel (``nn.spectral_norm``). 'same' padding is TF's (the extra
    zero of an odd total goes at the end); the forward is one GEMM over an im2col copy
    (``ddsp_ref.autodiff.fused.conv``).

    Call: ``[batch, n_steps, c_in]`` -> ``[batch, ceil(n_steps / stride), filters]`` ('same').
    """

    def __init__(self, filters: int, kernel_size: int, stride: int = 1, dilation: int = 1,
                 padding: str = "same", kernel_initializer: str = "glorot_uniform",
                 seed: Any = None, input_size: int | None = None, spectral_norm: bool = False,
                 name: str | None = None):  # fmt: skip
        super().__init__(seed=seed, name=name)
        self.spectral_norm = bool(spectral_norm)
        self.filters = positive_int(filters, "filters", "Conv1D")
        self.kernel_size = positive_int(kernel_size, "kernel_size", "Conv1D")
        self.stride = positive_int(stride, "stride", "Conv1D")
        self.dilation = positive_int(dilation, "dilation", "Conv1D")
        self.padding = one_of(padding, ("same", "valid"), "padding", "Conv1D")
        self.kernel_initializer = one_of(
            kernel_initializer, _INITIALIZERS, "kernel_initializer", "Conv1D"
        )
        if input_size is not None:
            self.build(positive_int(input_size, "input_size", "Conv1D"))

    def _create(self, input_size: int, xp: Any) -> None:
        shape = (self.kernel_size, input_size, self.filters)
        self._new("kernel", conv_kernel_initializer(self._rng, shape, self.kernel_initializer), xp)
        self._new("bias", np.zeros(self.filters, np.float32), xp)
        self._create_sn_u(self.filters, xp)

    def __call__(self, x: Any) -> Any:
        x = self._prepare(x, (3,), "[batch, n_steps, channels]")
        self._normalize_if_training()
        kernel, bias = self._param("kernel", x), self._param("bias", x)
        return conv1d(x, kernel, bias, self.dilation, self.stride, self.padding)


class Conv1DTranspose(SpectralNorm, Layer):
    """keras ``Conv2DTranspose(filters, (kernel_size, 1), (stride, 1), padding='same')`` on
    ``[batch, n_steps, channels]``: upsampling by ``stride``.

    Parameters: ``kernel [kernel_size, filters, c_in]`` (keras' ``[k, 1, filters, c_in]``;
    glorot-uniform with receptive field ``k`` in both fans, or orthogonal on the kernel
    flattened to ``[k * filters, c_in]``), ``bias [filters]`` (zeros). With ``spectral_norm``
    also ``sn_u [1, c_in]`` (the kernel's last axis is the input channels, as in keras), see
    :class:`Conv1D`.

    Call: ``[batch, n_steps, c_in]`` -> ``[batch, n_steps * stride, filters]``.
    """

    def __init__(self, filters: int, kernel_size: int, stride: int = 1,
                 kernel_initializer: str = "glorot_uniform", seed: Any = None,
                 input_size: int | None = None, spectral_norm: bool = False,
                 name: str | None = None):  # fmt: skip
        super().__init__(seed=seed, name=name)
        self.spectral_norm = bool(spectral_norm)
        where = "Conv1DTranspose"
        self.filters = positive_int(filters, "filters", where)
        self.kernel_size = positive_int(kernel_size, "kernel_size", where)
        self.stride = positive_int(stride, "stride", where)
        self.kernel_initializer = one_of(kernel_initializer, _INITIALIZERS,
                                         "kernel_initializer", where)  # fmt: skip
        if input_size is not None:
            self.build(positive_int(input_size, "input_size", where))

    def _create(self, input_size: int, xp: Any) -> None:
        shape = (self.kernel_size, self.filters, input_size)
        self._new("kernel", conv_kernel_initializer(self._rng, shape, self.kernel_initializer), xp)
        self._new("bias", np.zeros(self.filters, np.float32), xp)
        self._create_sn_u(input_size, xp)

    def __call__(self, x: Any) -> Any:
        x = self._prepare(x, (3,), "[batch, n_steps, channels]")
        self._normalize_if_training()
        kernel, bias = self._param("kernel", x), self._param("bias", x)
        return conv1d_transpose(x, kernel, bias, self.stride)


class ConditionalScaleAndShift(Module):
    """ddsp's ``ConditionalScaleAndShift`` (FiLM): ``x * scale + shift`` with ``[scale, shift]
    = Dense(2 * channels)(z)`` (``shift = Dense(channels)(z)`` and no scale when
    ``shift_only``). The scale is used as it comes out of the Dense layer, not offset by 1.

    Child ``dense`` (created when the channel count is known: ``channels`` here, else at the
    first call). ``z`` is broadcast like ddsp's ``ensure_4d``: ``[batch, c_z]`` applies to
    every step, ``[batch, n_steps, c_z]`` step by step.

    Call: ``(x, z)`` with ``x [batch, (n_steps, (width,)) channels]`` -> shape of ``x``.
    """

    def __init__(self, shift_only: bool = False, channels: int | None = None, seed: Any = None,
                 name: str | None = None):  # fmt: skip
        super().__init__(name=name, trainable=True)
        self.shift_only = bool(shift_only)
        self._rng = make_rng(seed)
        self.channels = None
        self.dense = None
        if channels is not None:
            self._build(positive_int(channels, "channels", "ConditionalScaleAndShift"))

    def _build(self, channels: int) -> None:
        self.channels = channels
        units = channels if self.shift_only else 2 * channels
        self.dense = Dense(units, seed=child_seed(self._rng), name="dense")

    def children(self) -> dict[str, Module]:
        return {} if self.dense is None else {"dense": self.dense}

    def __call__(self, inputs: Any) -> Any:
        x, z = _pair(inputs, "ConditionalScaleAndShift")
        n_dims = len(x.shape)
        x4, z4 = ensure_4d(x), ensure_4d(z)
        if self.dense is None:
            self._build(int(x4.shape[-1]))
        elif x4.shape[-1] != self.channels:
            raise ValueError(
                f"ConditionalScaleAndShift: x must have {self.channels} channels (the size it "
                f"was built for), got shape {tuple(x.shape)}"
            )
        # Dense on the rows of a 2-D view: the kernel gradient is then one BLAS GEMM (numpy's
        # batched matmul of transposed [B, T, C] views is ~100x slower at these sizes).
        rows = ops.reshape(z4, (-1, z4.shape[-1]))
        film = ops.reshape(self.dense(rows), tuple(z4.shape[:-1]) + (self.dense.units,))
        if self.shift_only:
            return inv_ensure_4d(x4 + film, n_dims)
        scale, shift = film[..., : self.channels], film[..., self.channels :]
        return inv_ensure_4d(x4 * scale + shift, n_dims)


def _pair(inputs: Any, where: str) -> tuple[Any, Any]:
    """``(x, z)`` as floats from a pair, with a clear error for anything else."""
    if not isinstance(inputs, (list, tuple)) or len(inputs) != 2:
        raise ValueError(f"{where}: expected a pair (x, z), got {type(inputs).__name__}")
    x, z = inputs
    x, z = to_float(x, "x", where), to_float(z, "z", where)
    check_rank(x, (2, 3, 4), "x", where, "[batch, (n_steps, (width,)) channels]")
    check_rank(z, (2, 3, 4), "z", where, "[batch, (n_steps, (width,)) c_z]")
    return x, z


class ConditionalNorm(Module):
    """ddsp's ``ConditionalNorm``: :func:`normalize_op` (``norm_type``; None skips it), then
    :class:`ConditionalScaleAndShift`. Child ``conditional_scale_and_shift``.

    Call: ``(x, z)`` -> shape of ``x``.
    """

    def __init__(self, norm_type: str | None = "instance", shift_only: bool = False,
                 channels: int | None = None, seed: Any = None,
                 name: str | None = None):  # fmt: skip
        super().__init__(name=name, trainable=True)
        self.norm_type = one_of(norm_type, _NORM_TYPES, "norm_type", "ConditionalNorm")
        self.conditional_scale_and_shift = ConditionalScaleAndShift(
            shift_only, channels, seed=seed, name="conditional_scale_and_shift"
        )

    def children(self) -> dict[str, Module]:
        return {"conditional_scale_and_shift": self.conditional_scale_and_shift}

    def __call__(self, inputs: Any) -> Any:
        x, z = _pair(inputs, "ConditionalNorm")
        x = normalize_op(x, self.norm_type)
        return self.conditional_scale_and_shift((x, z))


def dilation_rates(dilation: int, layers_per_stack: int) -> list[int]:
    """Dilation of each layer of a stack: ``dilation ** j`` for layer ``j``; a negative
    ``dilation`` decreases with depth instead: ``(-dilation) ** (layers_per_stack - j - 1)``."""
    if dilation > 0:
        return [int(dilation**j) for j in range(layers_per_stack)]
    return [int((-dilation) ** (layers_per_stack - j - 1)) for j in range(layers_per_stack)]


class DilatedConvStack(Module):
    """ddsp's ``DilatedConvStack``: WaveNet-style residual stacks of dilated convolutions.

    ``x = Conv(ch, kernel_size)(x)``, then for each of the ``stacks * layers_per_stack``
    layers ``x += Norm(Conv_dilated(relu(x)))`` with dilation ``dilation ** j`` for layer ``j``
    of its stack (see :func:`dilation_rates`), every convolution 'same' (non-causal, TF's
    padding split). ``Norm`` is ddsp's ``Normalize(norm_type)`` (None: only the learned scale
    and shift), or with ``conditional`` the FiLM :class:`ConditionalNorm` on ``z``.

    Resampling (``resample_type`` 'downsample': Conv(ch, resample_stride, stride
    resample_stride); 'upsample': keras Conv2DTranspose(ch, 2 * resample_stride, stride
    resample_stride), both 'same'): one resampling layer every ``stacks_per_resample`` stacks,
    after those stacks (``resample_after_convolve``) or before them. ``resample_stride`` and
    ``stacks_per_resample`` are only read with a ``resample_type``, as in ddsp. A FiLM ``z``
    with frames must match the frames of the layer it conditions (ddsp broadcasts the same way).

    Children: ``conv_in``, ``dilated_conv_<i>`` and ``norm_<i>`` for layer ``i`` (counted over
    all stacks), ``resample_<r>``. Kernels are keras' glorot-uniform (``ortho_init``:
    orthogonal), biases zero.

    ``spectral_norm``: every convolution (``conv_in``, the dilated ones, the resampling ones)
    gets a non-trainable ``sn_u`` and its kernel is divided by a one-step power-iteration
    estimate of its spectral norm at the start of every *training* call, the result replacing
    the stored kernel (ddsp's ``SpectralNormalization``, see ``nn.spectral_norm``). The
    Trainer does it through ``before_training_forward``; a direct call with ``training=True``
    (or inside ``module.training_phase()``) updates the stored kernels and ``sn_u`` in place;
    ``training=False`` changes nothing.

    Args:
        ch: channels of every convolution (and of the output).
        layers_per_stack: dilated layers per stack.
        stacks: number of stacks.
        kernel_size: taps of every convolution.
        dilation: base of the dilation within a stack (non-zero integer).
        norm_type: None, 'layer', 'instance' or 'group' (see ``normalize_op``).
        resample_type: None, 'upsample' or 'downsample'.
        resample_stride: resampling factor of each resampling layer.
        stacks_per_resample: stacks per resampling layer.
        resample_after_convolve: resample after (True) or before each group of stacks.
        spectral_norm: spectral normalisation of every convolution kernel (see above).
        ortho_init: orthogonal kernels instead of glorot-uniform.
        shift_only: FiLM with a shift only (conditional mode).
        conditional: call with ``(x, z)`` and modulate every layer by ``z``.
        seed: int, None or numpy Generator for every initialiser.
        input_size: channels of ``x``; None builds at the first call.

    Call: ``x [batch, n_steps, c_in]`` (or ``(x, z)`` with ``z [batch, c_z]`` or
    ``[batch, n_steps, c_z]`` when conditional), optional ``training`` (None: the phase of
    the enclosing call) -> ``[batch, n_out, ch]``: ``n_out = n_steps``
    without resampling, else multiplied (upsample) or divided (downsample, rounding up) by
    ``resample_stride`` once per resampling layer.
    """

    def __init__(self, ch: int = 256, layers_per_stack: int = 5, stacks: int = 2,
                 kernel_size: int = 3, dilation: int = 2, norm_type: str | None = None,
                 resample_type: str | None = None, resample_stride: int = 1,
                 stacks_per_resample: int = 1, resample_after_convolve: bool = True,
                 spectral_norm: bool = False, ortho_init: bool = False,
                 shift_only: bool = False, conditional: bool = False, seed: Any = None,
                 input_size: int | None = None, name: str | None = None):  # fmt: skip
        super().__init__(name=name, trainable=True)
        where = "DilatedConvStack"
        self.ch = positive_int(ch, "ch", where)
        layers_per_stack = nonnegative_int(layers_per_stack, "layers_per_stack", where)
        stacks = nonnegative_int(stacks, "stacks", where)
        kernel_size = positive_int(kernel_size, "kernel_size", where)
        if isinstance(dilation, bool) or int(dilation) != dilation or dilation == 0:
            raise ValueError(f"{where}: dilation must be a non-zero integer, got {dilation!r}")
        self.norm_type = one_of(norm_type, _NORM_TYPES, "norm_type", where)
        self.resample_type = one_of(resample_type, (None, "upsample", "downsample"),
                                    "resample_type", where)  # fmt: skip
        self.spectral_norm = bool(spectral_norm)
        self.conditional = bool(conditional)
        self.resample_after_convolve = bool(resample_after_convolve)
        self.dilations = dilation_rates(int(dilation), layers_per_stack) * stacks
        init = "orthogonal" if ortho_init else "glorot_uniform"
        rng = make_rng(seed)
        sn = self.spectral_norm
        self.conv_in = Conv1D(
            self.ch, kernel_size, kernel_initializer=init, seed=child_seed(rng),
            input_size=input_size, spectral_norm=sn, name="conv_in",
        )  # fmt: skip
        self.convs, self.norms = [], []
        # Inner layers are sized now only when the input layer is (input_size given); otherwise
        # they build on the first input, on its device (numpy or cupy).
        inner = None if input_size is None else self.ch
        for i, rate in enumerate(self.dilations):
            self.convs.append(Conv1D(self.ch, kernel_size, dilation=rate, kernel_initializer=init,
                                     seed=child_seed(rng), input_size=inner,
                                     spectral_norm=sn, name=f"dilated_conv_{i}"))  # fmt: skip
            if self.conditional:
                norm = ConditionalNorm(self.norm_type, shift_only, channels=self.ch,
                                       seed=child_seed(rng), name=f"norm_{i}")  # fmt: skip
            else:
                norm = Normalize(self.norm_type, input_size=inner, name=f"norm_{i}")
            self.norms.append(norm)
        self.resamples = self._resample_layers(stacks, stacks_per_resample, resample_stride,
                                               init, rng, inner)  # fmt: skip
        n_layers, n_resample = len(self.convs), len(self.resamples)
        self.layers_per_resample = n_layers // n_resample if n_resample else 0

    def _resample_layers(self, stacks: int, per: int, stride: int, init: str, rng,
                         inner: int | None) -> list:  # fmt: skip
        """ddsp's resampling layers in order: one every ``per`` stacks (before or after)."""
        if self.resample_type is None:
            return []
        where = "DilatedConvStack"
        per = positive_int(per, "stacks_per_resample", where)
        stride = positive_int(stride, "resample_stride", where)
        layers = []
        for i in range(stacks):
            due = (i % per == 0) if not self.resample_after_convolve else ((i + 1) % per == 0)
            if not due:
                continue
            name, seed = f"resample_{len(layers)}", child_seed(rng)
            if self.resample_type == "downsample":
                layers.append(Conv1D(self.ch, stride, stride=stride, kernel_initializer=init,
                                     seed=seed, input_size=inner,
                                     spectral_norm=self.spectral_norm, name=name))  # fmt: skip
            else:
                layers.append(Conv1DTranspose(self.ch, 2 * stride, stride=stride,
                                              kernel_initializer=init, seed=seed,
                                              input_size=inner,
                                              spectral_norm=self.spectral_norm,
                                              name=name))  # fmt: skip
        return layers

    def children(self) -> dict[str, Module]:
        # keras' tracking order (conv_in, layers, norms, resample_layers): the order of ddsp's
        # trainable_variables, which tf_checkpoint.tf_adam_state_for follows.
        layers = [self.conv_in, *self.convs, *self.norms, *self.resamples]
        return {layer.name: layer for layer in layers}

    def __call__(self, inputs: Any, training: bool | None = None) -> Any:
        if training is None:
            return self._forward(inputs)
        with training_phase(training):
            return self._forward(inputs)

    def _forward(self, inputs: Any) -> Any:
        where = "DilatedConvStack"
        if self.conditional:
            x, z = _pair(inputs, where)
        else:
            x, z = to_float(inputs, "inputs", where), None
            check_rank(x, (2, 3, 4), "inputs", where, "[batch, (n_steps, (width,)) channels]")
        x = _as_3d(x, where)
        x = self.conv_in(x)
        per, after = self.layers_per_resample, self.resample_after_convolve
        for i, (conv, norm) in enumerate(zip(self.convs, self.norms)):
            if self.resamples and not after and i % per == 0:
                x = self.resamples[i // per](x)
            y = conv(ops.relu(x))
            x = x + (norm((y, z)) if self.conditional else norm(y))
            if self.resamples and after and (i + 1) % per == 0:
                x = self.resamples[i // per](x)
        return x


def _as_3d(x: Any, where: str) -> Any:
    """``[batch, n_steps, channels]`` from ddsp's 2-D / 3-D / 4-D (width 1) layouts."""
    x4 = ensure_4d(x)
    if x4.shape[2] != 1:
        raise ValueError(
            f"{where}: a 4-D input must have width 1 ([batch, n_steps, 1, channels]), got "
            f"shape {tuple(x.shape)}"
        )
    return ops.squeeze(x4, 2)


# ddsp's gin names: @nn.DilatedConvStack(), @nn.ConditionalNorm().
for _cls in (DilatedConvStack, ConditionalNorm):
    register(_cls, module="ddsp_ref.training.nn")
del _cls
