"""Plans of the fused oscillator kernels: per-piece index tables, work groups, long signals.

A signal is rendered in *pieces* of ``PIECE`` samples (a frame may be split between two
pieces: its phase carries over, and the launcher adds the cross term of its gradient); each
piece builds its index tables (O(piece) memory: 10 minutes at 48 kHz never holds per-sample
tables of the whole signal). Inside a piece, work is split into *groups* of
whole frames (boundaries of both taps again), so backward tasks own their rows of the
frame-rate gradients. Single-piece plans are cached by the identity of their :class:`Taps`.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any, NamedTuple

import numpy as np

from .oscillator_reference import Taps

__all__ = [
    "Plan",
    "Piece",
    "Block",
    "make_plan",
    "pieces",
    "check_steps",
    "freq_tables",
    "amp_tables",
]

PIECE = 1 << 18  # samples per piece of a long signal
_GROUP_SAMPLES, _MIN_GROUP_SAMPLES = 2048, 256  # CPU work groups (samples)


class Plan(NamedTuple):
    """Index tables of one piece, shared by every batch row (local frame indices).

    ``*_f``: frequency taps ``lo``, ``w_lo``, ``w_hi`` [n], segment-local inclusive cumulative
    weights ``cw_*`` [n] and per-frame sums ``sw_*`` [frames]; ``*_a``: amplitude taps and
    frame starts ``seg_a`` [frames + 1]; ``groups`` [G + 1]: sample starts of the work groups
    (and n); ``gseg_f`` [G + 1]: their first frequency frame (and the frame count);
    ``identity``: both taps are sample-rate controls (``w_lo = 1``, ``w_hi = 0``), which lets
    kernels skip the ``w_hi`` halves of their gradients.
    """

    lo_f: Any
    w_lo_f: Any
    w_hi_f: Any
    cw_lo_f: Any
    cw_hi_f: Any
    sw_lo_f: Any
    sw_hi_f: Any
    lo_a: Any
    w_lo_a: Any
    w_hi_a: Any
    seg_a: Any
    groups: Any
    gseg_f: Any
    identity: bool = False


class Block(NamedTuple):
    """What a compiled kernel renders: one piece of a bank (the kernels' parameter record).

    ``freqs``: float64 frame-rate frequencies [Hz] of the piece, ``[B, Ff]`` (harmonic: the
    fundamental) or ``[B, Ff, K]``; ``amps``: float64 amplitudes ``[B, Fa, K]``; ``plan``: its
    :class:`Plan`; ``starts``: float64 phase [rad] before every work group, ``[B, G]``
    (harmonic) or ``[B, G, K]``; ``scale``: ``2 pi / sample_rate`` (rad per sample per Hz);
    ``nyquist``: silence oscillators at or above this frequency [Hz] (``inf``: no mask).
    """

    freqs: Any
    amps: Any
    plan: Plan
    starts: Any
    scale: float
    nyquist: float


def freq_tables(plan: Plan) -> tuple:
    """The frequency-tap tables of ``plan`` as one tuple (how the kernels take them)."""
    return (
        plan.lo_f,
        plan.w_lo_f,
        plan.w_hi_f,
        plan.cw_lo_f,
        plan.cw_hi_f,
        plan.sw_lo_f,
        plan.sw_hi_f,
    )


def amp_tables(plan: Plan) -> tuple:
    """The amplitude-tap tables ``(lo, w_lo, w_hi, seg)`` of ``plan``."""
    return plan.lo_a, plan.w_lo_a, plan.w_hi_a, plan.seg_a


class Piece(NamedTuple):
    n0: int  # samples n0 .. n1 - 1
    n1: int
    f0: int  # frequency frames f0 .. f0 + nf - 1 are read (the last may be a neighbour only)
    nf: int
    a0: int  # amplitude frames a0 .. a0 + na - 1
    na: int
    plan: Plan


def _segment_cumsum(xp: ModuleType, lo: Any, seg: Any, w: Any, n_frames: int) -> tuple:
    """Inclusive cumulative sums of ``w`` restarted at every frame, and the per-frame totals,
    on a padded ``[frames, longest run]`` layout so each sum spans one frame only."""
    within = xp.arange(lo.shape[0]) - seg[lo]
    width = max(int(xp.max(seg[1:] - seg[:-1])), 1)
    table = xp.zeros((n_frames, width), dtype=xp.float64)
    table[lo, within] = w
    table = xp.cumsum(table, axis=1)
    return table[lo, within], table[:, -1].copy()


def _starts(xp: ModuleType, lo: Any) -> Any:
    first = xp.ones(lo.shape, dtype=bool)
    first[1:] = lo[1:] != lo[:-1]
    return first


def _groups(xp: ModuleType, lo_f: Any, lo_a: Any, seg_f: Any, per_frame: bool) -> Any:
    """Sample starts of the work groups (and the end): frame boundaries of both taps."""
    if per_frame:  # CUDA: one group per frequency frame
        return seg_f
    n = lo_f.shape[0]
    common = xp.flatnonzero(_starts(xp, lo_f) & _starts(xp, lo_a))
    target = max(_MIN_GROUP_SAMPLES, min(_GROUP_SAMPLES, n // 32))
    picks = xp.unique(xp.searchsorted(common, xp.arange(0, n, target)))
    picks = picks[picks < common.shape[0]]
    return xp.concatenate([common[picks], xp.asarray([n])]).astype(xp.int64)


def make_plan(
    xp: ModuleType,
    taps_f: tuple,
    taps_a: tuple,
    n_frames_f: int,
    n_frames_a: int,
    per_frame: bool = False,
    identity: bool = False,
) -> Plan:
    """Index tables of one piece from its tables ``(lo, w_lo, w_hi)`` (local frame indices,
    starting at 0, steps of 0 or 1); ``per_frame``: one work group per frequency frame;
    ``identity``: both tables are sample-rate identities."""
    lo_f, w_lo_f, w_hi_f = (xp.asarray(t) for t in taps_f)
    lo_a, w_lo_a, w_hi_a = (xp.asarray(t) for t in taps_a)
    seg_f = xp.searchsorted(lo_f, xp.arange(n_frames_f + 1)).astype(xp.int64)
    seg_a = xp.searchsorted(lo_a, xp.arange(n_frames_a + 1)).astype(xp.int64)
    cw_lo_f, sw_lo_f = _segment_cumsum(xp, lo_f, seg_f, w_lo_f, n_frames_f)
    cw_hi_f, sw_hi_f = _segment_cumsum(xp, lo_f, seg_f, w_hi_f, n_frames_f)
    groups = _groups(xp, lo_f, lo_a, seg_f, per_frame)
    if per_frame:
        gseg_f = xp.arange(n_frames_f + 1, dtype=xp.int64)
    else:
        gseg_f = xp.concatenate([lo_f[groups[:-1]], xp.asarray([n_frames_f])]).astype(xp.int64)
    return Plan(
        lo_f,
        w_lo_f,
        w_hi_f,
        cw_lo_f,
        cw_hi_f,
        sw_lo_f,
        sw_hi_f,
        lo_a,
        w_lo_a,
        w_hi_a,
        seg_a,
        groups,
        gseg_f,
        identity,
    )


def check_steps(lo: np.ndarray, taps: Taps, name: str, first: bool, last: bool) -> None:
    """Raise unless ``lo`` advances by 0 or 1 frame per sample (and, for the first / last
    piece, starts at frame 0 / ends at the last frame)."""
    steps = np.diff(lo)
    bad = bool(steps.size) and (steps.min() < 0 or steps.max() > 1)
    # Crossfade taps read their last frame only as the upper neighbour of the last interval.
    end = taps.n_frames - (2 if taps.kind == "crossfade" else 1)
    if bad or (first and lo[0] != 0) or (last and lo[-1] != end):
        raise ValueError(
            f"{name}: the taps must start at frame 0, end at frame {end} and "
            f"advance by 0 or 1 frame per sample (upsampling); {taps.kind!r} taps of "
            f"{taps.n_frames} frames to {taps.n_samples} samples do not"
        )


def _piece(
    xp: ModuleType, taps_f: Taps, taps_a: Taps, n0: int, n1: int, per_frame: bool, name: str
) -> Piece:
    lo_f, w_lo_f, w_hi_f = taps_f.tables(n0, n1)
    lo_a, w_lo_a, w_hi_a = taps_a.tables(n0, n1)
    f0, a0 = int(lo_f[0]), int(lo_a[0])
    last = n1 == taps_f.n_samples
    check_steps(lo_f, taps_f, f"{name}: taps_f", n0 == 0, last)
    check_steps(lo_a, taps_a, f"{name}: taps_a", n0 == 0, last)
    # Read one neighbour frame past the owned ones (the w_hi tap of the last owned frame).
    nf = min(int(lo_f[-1]) - f0 + 2, taps_f.n_frames - f0)
    na = min(int(lo_a[-1]) - a0 + 2, taps_a.n_frames - a0)
    identity = taps_f.kind == taps_a.kind == "identity"
    plan = make_plan(
        xp, (lo_f - f0, w_lo_f, w_hi_f), (lo_a - a0, w_lo_a, w_hi_a), nf, na, per_frame, identity
    )
    return Piece(n0, n1, f0, nf, a0, na, plan)


def _device_key(xp: ModuleType) -> tuple:
    return ("numpy",) if xp is np else (xp.__name__, xp.cuda.Device().id)


# Single-piece plans of recent taps, keyed by the identity of the Taps objects (kept alive by
# the entry, so an id is not reused while cached). Multi-piece signals rebuild their tables.
_PLANS: dict = {}
_MAX_PLANS = 16


def pieces(xp: ModuleType, impl: ModuleType, taps_f: Taps, taps_a: Taps, name: str):
    per_frame = getattr(impl, "GROUP_PER_FRAME", False)
    n = taps_f.n_samples
    if n <= PIECE:
        key = (id(taps_f), id(taps_a), per_frame) + _device_key(xp)
        entry = _PLANS.get(key)
        if entry is None or entry[0] is not taps_f or entry[1] is not taps_a:
            if len(_PLANS) >= _MAX_PLANS:
                _PLANS.pop(next(iter(_PLANS)))
            entry = (taps_f, taps_a, _piece(xp, taps_f, taps_a, 0, n, per_frame, name))
            _PLANS[key] = entry
        yield entry[2]
        return
    for start in range(0, n, PIECE):
        yield _piece(xp, taps_f, taps_a, start, min(n, start + PIECE), per_frame, name)
