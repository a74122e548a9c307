"""ddsp's polyphase resampling: trade time steps for channels (space-to-depth along time)."""

from __future__ import annotations

from typing import Any

from ...autodiff import ops
from ...core.utils import to_float
from ...gin_support import register
from ...module import Module
from ...validation import check_rank, one_of, positive_int

__all__ = ["polyphase_resample", "PolyphaseResample"]


def polyphase_resample(x: Any, stride: int = 2, resample_type: str = "down",
                       trim_or_pad: str = "pad") -> Any:  # fmt: skip
    """ddsp's ``polyphase_resample``: a reshape between time and channels.

    'down': ``[batch, time, ch] -> [batch, time / stride, ch * stride]``, each output step the
    ``stride`` consecutive input steps side by side (channels of step ``t * stride`` first).
    'up': ``[batch, time, ch] -> [batch, time * stride, ch / stride]``, the inverse. When time
    ('down') or channels ('up') are not a multiple of ``stride`` they are zero-padded at the
    end ('pad') or the remainder is dropped ('trim'). Named after polyphase filters: each
    phase gets its own channels. Differentiable (a reshape, a pad or a slice).

    Args:
        x: ``[batch, time, ch]`` or ddsp's ``[batch, time, 1, ch]`` (the layout is kept).
        stride: resampling factor.
        resample_type: 'up' or 'down'.
        trim_or_pad: 'trim' or 'pad'.

    Returns:
        The resampled array (same rank and dtype as ``x``).

    Raises:
        ValueError: a bad rank, a width other than 1, an unknown ``resample_type`` or
            ``trim_or_pad`` (ddsp treats any value but 'pad' as 'trim'), or nothing left after
            trimming (ddsp would build an empty or invalid reshape).
    """
    where = "polyphase_resample"
    stride = positive_int(stride, "stride", where)
    one_of(resample_type, ("up", "down"), "resample_type", where)
    one_of(trim_or_pad, ("trim", "pad"), "trim_or_pad", where)
    x = to_float(x, "x", where)
    check_rank(x, (3, 4), "x", where, "[batch, time, ch] or [batch, time, 1, ch]")
    is_4d = len(x.shape) == 4
    if is_4d:
        if x.shape[2] != 1:
            raise ValueError(f"{where}: a 4-D x must have width 1, got shape {tuple(x.shape)}")
        x = ops.squeeze(x, 2)
    axis = 1 if resample_type == "down" else 2
    x = _fit(x, axis, stride, trim_or_pad, where)
    batch, n_time, n_ch = (int(n) for n in x.shape)
    if resample_type == "down":
        y = ops.reshape(x, (batch, n_time // stride, n_ch * stride))
    else:
        y = ops.reshape(x, (batch, n_time * stride, n_ch // stride))
    return ops.expand_dims(y, 2) if is_4d else y


def _fit(x: Any, axis: int, stride: int, trim_or_pad: str, where: str) -> Any:
    """``x`` with ``axis`` padded with zeros up to, or trimmed down to, a multiple of stride."""
    n = int(x.shape[axis])
    if trim_or_pad == "pad":
        extra = (stride - n % stride) % stride
        if extra:
            width = [(0, 0)] * 3
            width[axis] = (0, extra)
            x = ops.pad(x, width)
        return x
    keep = n - n % stride
    if keep == 0:
        label = "time steps" if axis == 1 else "channels"
        raise ValueError(
            f"{where}: trimming {n} {label} to a multiple of stride {stride} leaves nothing"
        )
    index = (slice(None),) * axis + (slice(0, keep),)
    return x if keep == n else ops.getitem(x, index)


class PolyphaseResample(Module):
    """ddsp's ``PolyphaseResample`` layer: :func:`polyphase_resample` with fixed arguments (no
    parameters). Call: ``[batch, time, ch]`` (or ``[batch, time, 1, ch]``)."""

    def __init__(self, stride: int = 2, resample_type: str = "down", trim_or_pad: str = "pad",
                 name: str | None = None):  # fmt: skip
        super().__init__(name=name, trainable=True)
        where = "PolyphaseResample"
        self.stride = positive_int(stride, "stride", where)
        self.resample_type = one_of(resample_type, ("up", "down"), "resample_type", where)
        self.trim_or_pad = one_of(trim_or_pad, ("trim", "pad"), "trim_or_pad", where)

    def __call__(self, x: Any) -> Any:
        return polyphase_resample(x, self.stride, self.resample_type, self.trim_or_pad)


# ddsp's gin name: @nn.PolyphaseResample().
register(PolyphaseResample, module="ddsp_ref.training.nn")
