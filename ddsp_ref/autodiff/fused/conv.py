"""1-D convolution over time (keras Conv2D with a ``(k, 1)`` kernel): one GEMM on an im2col copy.

``y[b, t, o] = bias[o] + sum_{j, c} xpad[b, t * stride + j * dilation, c] * kernel[j, c, o]``
where ``xpad`` is ``x`` zero-padded in time (TF's 'same' or 'valid' split). The forward
gathers the ``k`` taps of every output step into ``[batch * n_out, k * c_in]`` (a strided view,
copied once) and multiplies by the kernel as a ``[k * c_in, c_out]`` matrix. The VJP is two more
GEMMs: the kernel gradient ``cols^T g`` (the columns are gathered again from the saved padded
input instead of being kept) and the column gradient ``g kernel^T``, scattered back onto the
padded input with ``k`` strided adds (col2im) and cropped.
"""

from __future__ import annotations

from typing import Any

from ...backend import as_strided
from ...validation import positive_int
from ..tape import Primitive

__all__ = ["conv1d", "conv1d_transpose", "same_padding", "conv_output_length"]


def same_padding(length: int, kernel_size: int, dilation: int = 1, stride: int = 1) -> tuple:
    """TF's 'SAME' padding in time: ``(before, after)`` zeros for ``length`` input steps.

    The output has ``ceil(length / stride)`` steps; the total padding is
    ``max((n_out - 1) * stride + (kernel_size - 1) * dilation + 1 - length, 0)``, split with
    the smaller half first (``before = total // 2``), so an odd total puts the extra zero at
    the end.
    """
    n_out = -(-length // stride)
    span = (kernel_size - 1) * dilation + 1
    total = max((n_out - 1) * stride + span - length, 0)
    return total // 2, total - total // 2


def conv_output_length(length: int, kernel_size: int, dilation: int, stride: int,
                       pad_before: int, pad_after: int) -> int:  # fmt: skip
    """Output steps of a convolution over ``length`` steps padded by ``pad_before/after``."""
    span = (kernel_size - 1) * dilation + 1
    return (length + pad_before + pad_after - span) // stride + 1


def _columns(xp: Any, xpad: Any, k: int, dilation: int, stride: int, n_out: int) -> Any:
    """im2col: ``[batch * n_out, k * c_in]`` with row ``(b, t)`` holding
    ``xpad[b, t * stride + j * dilation, :]`` for ``j = 0 .. k - 1`` (a copy of a strided view)."""
    b, _, c = xpad.shape
    s_b, s_t, s_c = xpad.strides
    view = as_strided(xp, xpad, (b, n_out, k, c), (s_b, stride * s_t, dilation * s_t, s_c))
    return view.reshape(b * n_out, k * c)


def _conv_fwd(xp, x, kernel, bias, dilation, stride, pad_before, pad_after):
    b, t, c_in = x.shape
    k, _, c_out = kernel.shape
    xpad = xp.ascontiguousarray(xp.pad(x, ((0, 0), (pad_before, pad_after), (0, 0))))
    n_out = conv_output_length(t, k, dilation, stride, pad_before, pad_after)
    cols = _columns(xp, xpad, k, dilation, stride, n_out)
    y = cols @ kernel.reshape(k * c_in, c_out) + bias
    return y.reshape(b, n_out, c_out), (xpad, kernel, t)


def _col2im(xp, gcols: Any, padded_shape: tuple, dilation: int, stride: int) -> Any:
    """Adjoint of :func:`_columns`: ``gcols [batch, n_out, k, c]`` summed onto a zero
    ``[batch, padded_length, c]`` array (tap j of step t lands on ``t * stride + j * dilation``)."""
    _, n_out, k, _ = gcols.shape
    out = xp.zeros(padded_shape, dtype=gcols.dtype)
    last = stride * (n_out - 1) + 1
    for j in range(k):
        start = j * dilation
        out[:, start : start + last : stride] += gcols[:, :, j]
    return out


def _conv_vjp(xp, saved, g, dilation, stride, pad_before, pad_after, needs=(True, True, True)):
    xpad, kernel, t = saved
    k, c_in, c_out = kernel.shape
    b, n_out, _ = g.shape
    g2 = xp.ascontiguousarray(g).reshape(b * n_out, c_out)
    dx = dk = db = None
    if needs[0]:
        gcols = (g2 @ kernel.reshape(k * c_in, c_out).T).reshape(b, n_out, k, c_in)
        dx = _col2im(xp, gcols, xpad.shape, dilation, stride)[:, pad_before : pad_before + t]
    if needs[1]:
        cols = _columns(xp, xpad, k, dilation, stride, n_out)
        dk = (cols.T @ g2).reshape(k, c_in, c_out)
    if needs[2]:
        db = g2.sum(axis=0)
    return dx, dk, db


_conv1d = Primitive("conv1d", _conv_fwd, _conv_vjp)


# -- transposed convolution (keras Conv2DTranspose): the adjoint of a strided convolution -------
def _transpose_fwd(xp, x, kernel, bias, stride, pad_before, pad_after, length):
    """``x [b, n, c_in]``, ``kernel [k, c_out, c_in]`` -> ``[b, length, c_out]``: the input-VJP
    of the convolution of a ``length``-step signal with ``kernel`` (which maps c_out -> c_in)."""
    b, n, c_in = x.shape
    k, c_out, _ = kernel.shape
    x2 = xp.ascontiguousarray(x).reshape(b * n, c_in)
    gcols = (x2 @ kernel.reshape(k * c_out, c_in).T).reshape(b, n, k, c_out)
    ypad = _col2im(xp, gcols, (b, length + pad_before + pad_after, c_out), 1, stride)
    return ypad[:, pad_before : pad_before + length] + bias, (x, kernel)


def _transpose_vjp(xp, saved, g, stride, pad_before, pad_after, length, needs=(True,) * 3):
    x, kernel = saved
    b, n, c_in = x.shape
    k, c_out, _ = kernel.shape
    gpad = xp.ascontiguousarray(xp.pad(g, ((0, 0), (pad_before, pad_after), (0, 0))))
    cols = _columns(xp, gpad, k, 1, stride, n)  # [b * n, k * c_out]: the forward convolution
    dx = dk = db = None
    if needs[0]:
        dx = (cols @ kernel.reshape(k * c_out, c_in)).reshape(b, n, c_in)
    if needs[1]:
        dk = (cols.T @ xp.ascontiguousarray(x).reshape(b * n, c_in)).reshape(k, c_out, c_in)
    if needs[2]:
        db = g.sum(axis=(0, 1))
    return dx, dk, db


_conv1d_transpose = Primitive("conv1d_transpose", _transpose_fwd, _transpose_vjp)


def conv1d_transpose(x: Any, kernel: Any, bias: Any, stride: int = 1) -> Any:
    """keras ``Conv2DTranspose`` with a ``(k, 1)`` kernel, stride ``(stride, 1)``, 'same'
    padding, over time: ``[batch, n_steps, c_in]`` -> ``[batch, n_steps * stride, c_out]``.

    It is the adjoint (the input gradient, TF's ``conv2d_backprop_input``) of the 'same'
    convolution of an ``n_steps * stride``-step signal with stride ``stride``:
    ``y[b, t * stride + j - before, o] += x[b, t, c] * kernel[j, o, c]`` (plus ``bias[o]``),
    terms outside ``[0, n_steps * stride)`` dropped, ``before`` from :func:`same_padding`.

    Args:
        x: ``[batch, n_steps >= 1, c_in]``.
        kernel: ``[kernel_size, c_out, c_in]`` (keras' ``[k, 1, c_out, c_in]`` without width).
        bias: ``[c_out]``.
        stride: upsampling factor.
    """
    stride = positive_int(stride, "stride", "conv1d_transpose")
    k, c_out, c_in = _checked_kernel("conv1d_transpose", x, kernel, bias, "[k, c_out, c_in]")
    length = int(x.shape[1]) * stride
    before, after = same_padding(length, k, 1, stride)
    return _conv1d_transpose(x, kernel, bias, stride=stride, pad_before=before,
                             pad_after=after, length=length)  # fmt: skip


def _checked_kernel(where: str, x: Any, kernel: Any, bias: Any, layout: str) -> tuple:
    """The kernel's ``(k, a, b)`` after checking ranks and channels: ``layout`` names its axes,
    ``[k, c_in, c_out]`` (convolution) or ``[k, c_out, c_in]`` (transpose)."""
    if len(x.shape) != 3 or len(kernel.shape) != 3 or len(bias.shape) != 1 or not x.shape[1]:
        raise ValueError(
            f"{where}: expected x [batch, n_steps >= 1, c_in], kernel {layout} and bias "
            f"[c_out], got {tuple(x.shape)}, {tuple(kernel.shape)}, {tuple(bias.shape)}"
        )
    k, a, b = kernel.shape
    c_in, c_out = (a, b) if layout == "[k, c_in, c_out]" else (b, a)
    if x.shape[2] != c_in or bias.shape[0] != c_out:
        raise ValueError(
            f"{where}: channels disagree: x {tuple(x.shape)}, kernel {tuple(kernel.shape)}, "
            f"bias {tuple(bias.shape)}"
        )
    return k, a, b


def conv1d(x: Any, kernel: Any, bias: Any, dilation: int = 1, stride: int = 1,
           padding: str = "same") -> Any:  # fmt: skip
    """Convolution over time of ``[batch, n_steps, c_in]`` (cross-correlation, as TF's conv).

    Args:
        x: ``[batch, n_steps, c_in]``.
        kernel: ``[kernel_size, c_in, c_out]`` (keras' Conv2D kernel ``[k, 1, c_in, c_out]``
            without its width axis).
        bias: ``[c_out]``.
        dilation: spacing of the taps in steps.
        stride: output step in input steps.
        padding: 'same' (TF's split, see :func:`same_padding`: ``ceil(n_steps / stride)``
            outputs) or 'valid' (no padding).

    Returns:
        ``[batch, n_out, c_out]`` in the dtype of the inputs (they must agree).

    Raises:
        ValueError: bad ranks, mismatched channels, an unknown padding, or 'valid' padding of
            an input shorter than the dilated kernel.
    """
    dilation = positive_int(dilation, "dilation", "conv1d")
    stride = positive_int(stride, "stride", "conv1d")
    k, c_in, c_out = _checked_kernel("conv1d", x, kernel, bias, "[k, c_in, c_out]")
    if padding == "same":
        before, after = same_padding(x.shape[1], k, dilation, stride)
    elif padding == "valid":
        before = after = 0
    else:
        raise ValueError(f"conv1d: padding must be 'same' or 'valid', got {padding!r}")
    if conv_output_length(x.shape[1], k, dilation, stride, before, after) < 1:
        raise ValueError(
            f"conv1d: {x.shape[1]} steps are shorter than the dilated kernel "
            f"({(k - 1) * dilation + 1} steps) with padding 'valid'"
        )
    return _conv1d(x, kernel, bias, dilation=dilation, stride=stride, pad_before=before,
                   pad_after=after)  # fmt: skip
