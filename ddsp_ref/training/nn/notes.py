"""ddsp's note masks and note pooling: regions of constant (quantised) pitch, their moments."""

from __future__ import annotations

from typing import Any

from ...autodiff import ops, stop_gradient
from ...backend import array_namespace
from ...core.math import safe_divide
from ...core.utils import to_float
from ...validation import check_rank, positive_int

__all__ = [
    "get_note_mask",
    "get_note_mask_from_onset",
    "get_note_lengths",
    "get_note_moments",
    "pool_over_notes",
    "get_short_note_loss_mask",
]


def _frames(x: Any, name: str, where: str) -> Any:
    """``[batch, n_frames]`` or ``[batch, n_frames, 1]`` -> raw ``[batch, n_frames]`` values."""
    x = stop_gradient(to_float(x, name, where))
    check_rank(x, (2, 3), name, where, "[batch, n_frames] or [batch, n_frames, 1]")
    if x.ndim == 3:
        if x.shape[2] != 1:
            raise ValueError(
                f"{where}: {name} must have one channel ([batch, n_frames, 1]), got shape "
                f"{tuple(x.shape)}"
            )
        x = x[:, :, 0]
    if x.shape[1] == 0:
        raise ValueError(f"{where}: {name} has no frames (shape {tuple(x.shape)})")
    return x


def _region_mask(starts: Any, max_regions: int, dtype: Any) -> Any:
    """One-hot masks ``[batch, n_frames, max_regions]`` of the region each frame belongs to;
    ``starts [batch, n_frames]`` (ints) counts the regions that begin at each frame."""
    xp = array_namespace(starts)
    region = xp.cumsum(starts, axis=1) - 1  # the first frame opens region 0
    return (region[..., None] == xp.arange(max_regions)).astype(dtype)


def get_note_mask(q_pitch: Any, max_regions: int = 100, note_on_only: bool = True) -> Any:
    """ddsp's ``get_note_mask``: a mask per region of constant ``q_pitch`` (monophonic notes).

    Each change of value starts a new region (a note-on and the following silence are two
    regions); regions past ``max_regions`` are dropped. As in ddsp, a change at the **last**
    frame is ignored (that frame stays in the previous region, which it then also counts
    towards for the region's mean). With ``note_on_only`` only the regions whose mean
    ``q_pitch`` is above 0 are kept. No gradient (a mask).

    Deviation: ddsp returns two frames for a one-frame input (its edge padding assumes two);
    here a one-frame input gives a one-frame mask.

    Args:
        q_pitch: ``[batch, n_frames]`` or ``[batch, n_frames, 1]`` quantised values (pitch,
            velocity).
        max_regions: number of regions kept, the output's last axis.
        note_on_only: zero the regions whose mean value is not above 0.

    Returns:
        ``[batch, n_frames, max_regions]`` of 0 / 1 (float32, float64 for float64 input).

    Raises:
        ValueError: a bad rank, several channels, no frames, or ``max_regions`` below 1.
    """
    where = "get_note_mask"
    max_regions = positive_int(max_regions, "max_regions", where)
    q = _frames(q_pitch, "q_pitch", where)
    xp = array_namespace(q)
    starts = xp.zeros(q.shape, xp.int32)
    starts[:, 0] = 1
    # ddsp drops the last difference: a change at the last frame opens no region.
    starts[:, 1:-1] = q[:, 1:-1] != q[:, :-2]
    mask = _region_mask(starts, max_regions, q.dtype)
    if note_on_only:
        note_pitches = get_note_moments(q, mask, return_std=False)  # [batch, regions]
        mask = mask * (note_pitches > 0.0).astype(q.dtype)[:, None, :]
    return mask


def get_note_mask_from_onset(q_pitch: Any, onset: Any, max_regions: int = 100,
                             note_on_only: bool = True) -> Any:  # fmt: skip
    """ddsp's ``get_note_mask_from_onset``: a new region at each onset.

    The first frame always opens region 0; at a later frame, ``onset`` cast to an integer
    (truncated toward zero, like ``tf.cast``: 0.5 counts as no onset, 2 skips a region) is
    added to the region index. With ``note_on_only`` the frames whose ``q_pitch`` is not above
    0 are zeroed (per frame, unlike :func:`get_note_mask`'s per-region mean). No gradient.

    Args:
        q_pitch: ``[batch, n_frames]`` or ``[batch, n_frames, 1]``.
        onset: same layout; 1 marks an onset.
        max_regions: number of regions kept (last axis of the output).
        note_on_only: zero the frames where ``q_pitch <= 0``.

    Returns:
        ``[batch, n_frames, max_regions]`` of 0 / 1.

    Raises:
        ValueError: bad ranks, mismatched shapes, no frames or ``max_regions`` below 1.
    """
    where = "get_note_mask_from_onset"
    max_regions = positive_int(max_regions, "max_regions", where)
    q = _frames(q_pitch, "q_pitch", where)
    on = _frames(onset, "onset", where)
    if on.shape != q.shape:
        raise ValueError(
            f"{where}: onset {tuple(on.shape)} and q_pitch {tuple(q.shape)} must have the same "
            "batch and frames"
        )
    starts = on.astype(array_namespace(on).int32)  # truncation toward zero, as tf.cast
    starts[:, 0] = 1
    mask = _region_mask(starts, max_regions, q.dtype)
    if note_on_only:
        mask = mask * (q > 0.0).astype(q.dtype)[:, :, None]
    return mask


def get_note_lengths(note_mask: Any) -> Any:
    """Frames per note: ``[batch, n_frames, n_notes]`` -> ``[batch, n_notes]`` (sum over time;
    differentiable)."""
    note_mask = _note_mask(note_mask, "get_note_lengths")
    return ops.sum(note_mask, axis=1)


def _note_mask(note_mask: Any, where: str) -> Any:
    note_mask = to_float(note_mask, "note_mask", where)
    check_rank(note_mask, 3, "note_mask", where, "[batch, n_frames, n_notes]")
    return note_mask


def _safe_sqrt(v: Any) -> Any:
    """``sqrt(v)`` with gradient 0 where ``v == 0`` (TF's ``v ** 0.5`` gives NaN there)."""
    positive = stop_gradient(v) > 0
    return ops.where(positive, ops.sqrt(ops.where(positive, v, 1.0)), 0.0)


def get_note_moments(x: Any, note_mask: Any, return_std: bool = True) -> Any:
    """ddsp's ``get_note_moments``: mean (and population std) of ``x`` over each note.

    ``mean = sum_t(x * mask) / length`` and ``std = sqrt(sum_t(((x - mean) * mask)^2) /
    length)``, with ``core.safe_divide`` (a note of length 0 gives 0). Differentiable in ``x``
    and ``note_mask``.

    Deviation: where a note's variance is 0 (a constant note, or an empty region) ddsp's
    ``variance ** 0.5`` has an infinite derivative, which turns the whole gradient of ``x``
    into NaN as soon as the std is used; here the derivative of the square root is taken as 0
    there (the std's subgradient), so gradients stay finite. Values are the same.

    Args:
        x: ``[batch, n_frames, dims]`` or ``[batch, n_frames]``.
        note_mask: ``[batch, n_frames, n_notes]``.
        return_std: also return the standard deviation.

    Returns:
        ``mean`` or ``(mean, std)``, each ``[batch, n_notes, dims]`` (``[batch, n_notes]`` for
        2-D ``x``).

    Raises:
        ValueError: bad ranks or mismatched batch / frames.
    """
    x, note_mask, is_2d = _pair(x, note_mask, "get_note_moments")
    mask_d = ops.expand_dims(note_mask, -1)  # [b, t, n, 1]
    lengths = ops.sum(mask_d, axis=1)  # [b, n, 1]
    x_t = ops.expand_dims(x, 2)  # [b, t, 1, d]
    mean = safe_divide(ops.sum(x_t * mask_d, axis=1), lengths)  # [b, n, d]
    if return_std:
        deviation = (x_t - ops.expand_dims(mean, 1)) * mask_d
        std = _safe_sqrt(safe_divide(ops.sum(ops.square(deviation), axis=1), lengths))
    if is_2d:
        mean = ops.squeeze(mean, -1)
        std = ops.squeeze(std, -1) if return_std else None
    return (mean, std) if return_std else mean


def _pair(x: Any, note_mask: Any, where: str) -> tuple[Any, Any, bool]:
    """Checked ``(x [b, t, d], note_mask [b, t, n], x_was_2d)``."""
    x = to_float(x, "x", where)
    check_rank(x, (2, 3), "x", where, "[batch, n_frames, dims] or [batch, n_frames]")
    note_mask = _note_mask(note_mask, where)
    if tuple(x.shape[:2]) != tuple(note_mask.shape[:2]):
        raise ValueError(
            f"{where}: x {tuple(x.shape)} and note_mask {tuple(note_mask.shape)} must have the "
            "same batch and frames"
        )
    if note_mask.dtype != x.dtype:  # float64 wins, as the dtype policy wants
        x, note_mask = (ops.astype(v, "float64") for v in (x, note_mask))
    is_2d = len(x.shape) == 2
    return (ops.expand_dims(x, -1) if is_2d else x), note_mask, is_2d


def pool_over_notes(x: Any, note_mask: Any, return_std: bool = True) -> Any:
    """ddsp's ``pool_over_notes``: every frame gets its note's mean (and std) of ``x``.

    ``pooled[b, t] = sum_n mask[b, t, n] * moment[b, n]`` (frames outside every note get 0).
    ddsp always computes the std internally (its ``return_std`` only selects the outputs);
    here it is computed only when returned — same values, and no NaN gradient can leak in.

    Deviation: a 2-D ``x`` (``[batch, n_frames]``) gives ``[batch, n_frames]`` here; ddsp
    broadcasts it into a meaningless ``[batch, n_frames, n_notes]``.

    Args:
        x: ``[batch, n_frames, dims]`` (or ``[batch, n_frames]``).
        note_mask: ``[batch, n_frames, n_notes]``.
        return_std: also return the pooled standard deviation.

    Returns:
        ``pooled_mean`` or ``(pooled_mean, pooled_std)`` in the layout of ``x``.
    """
    x, note_mask, is_2d = _pair(x, note_mask, "pool_over_notes")
    moments = get_note_moments(x, note_mask, return_std=return_std)
    moments = moments if return_std else (moments,)
    pooled = []
    for m in moments:  # [b, n, d] -> [b, t, d]
        p = ops.einsum("btn,bnd->btd", note_mask, m)
        pooled.append(ops.squeeze(p, -1) if is_2d else p)
    return tuple(pooled) if return_std else pooled[0]


def get_short_note_loss_mask(note_mask: Any, note_lengths: Any, note_pitches: Any,
                             min_length: float = 40) -> Any:  # fmt: skip
    """ddsp's ``get_short_note_loss_mask``: frames that belong to a short sounding note.

    A note counts when ``note_lengths < min_length`` and ``note_pitches > 0``; the result is
    ``sum_n note_mask[b, t, n] * counts[b, n]`` (differentiable in ``note_mask``).

    Args:
        note_mask: ``[batch, n_frames, n_notes]``.
        note_lengths: ``[batch, n_notes]`` frames per note.
        note_pitches: ``[batch, n_notes]``.
        min_length: notes shorter than this many frames count.

    Returns:
        ``[batch, n_frames]``.
    """
    where = "get_short_note_loss_mask"
    note_mask = _note_mask(note_mask, where)
    lengths = stop_gradient(to_float(note_lengths, "note_lengths", where))
    pitches = stop_gradient(to_float(note_pitches, "note_pitches", where))
    for name, v in (("note_lengths", lengths), ("note_pitches", pitches)):
        if tuple(v.shape) != (note_mask.shape[0], note_mask.shape[2]):
            raise ValueError(
                f"{where}: {name} must have shape [batch, n_notes] = "
                f"{(note_mask.shape[0], note_mask.shape[2])}, got {tuple(v.shape)}"
            )
    short = ((lengths < min_length) & (pitches > 0.0)).astype(note_mask.dtype)
    return ops.sum(note_mask * short[:, None, :], axis=-1)
