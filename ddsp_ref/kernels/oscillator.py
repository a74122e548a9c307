"""Launcher of the fused oscillator kernels: validate, canonical layout, plan, pick the kernel.

Two families (see oscillator_reference.py for the maths and the two-tap "taps" upsampling):

- ``harmonic_*``: one fundamental per batch row, harmonics ``k * phi`` (Harmonic synth,
  harmonic_oscillator_bank, streaming synthesis), with an optional per-sample Nyquist mask and
  an initial / final phase.
- ``sinusoid_*``: free sinusoids, each with its own phase (Sinusoidal synth, oscillator_bank).

Selection, per call: ``DDSP_REF_KERNELS=reference`` forces the pure-array reference; otherwise
cupy arrays run the numba CUDA kernels and numpy float32 / float64 arrays the numba CPU kernels
(the reference where numba is missing). numba is imported on the first kernel call only.

Work is split into *groups* of whole frames. Every group starts at a boundary of both the
frequency and the amplitude frames, so the backward kernels can give each task exclusive rows
of the frame-rate gradients. A group's starting phase comes from a cheap pre-pass (per-group
phase increments, chained here in float64 modulo 2*pi), so time chunks run independently.
"""

from __future__ import annotations

import functools
import math
from types import ModuleType
from typing import Any, NamedTuple

import numpy as np

from ..backend import array_namespace
from . import oscillator_reference as reference
from .selection import use_reference

__all__ = [
    "Plan",
    "make_plan",
    "check_taps",
    "harmonic_forward",
    "harmonic_backward",
    "sinusoid_forward",
    "sinusoid_backward",
]

_KERNEL_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))
# CPU groups hold about this many samples (fewer when that leaves too few parallel tasks).
_GROUP_SAMPLES = 2048
_MIN_GROUP_SAMPLES = 256


class Plan(NamedTuple):
    """Index tables shared by every batch row (float64 weights, int64 indices).

    ``*_f``: frequency taps (``lo``, ``w_lo``, ``w_hi``), segment-local inclusive cumulative
    weights ``cw_*`` [N] and per-frame sums ``sw_*`` [Ff]; ``*_a``: amplitude taps and frame
    starts ``seg_a`` [Fa + 1]; ``groups`` [G + 1] sample starts of the work groups and
    ``gseg_f`` [G + 1] their first frequency frame.
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


@functools.cache
def _compiled(device: str) -> ModuleType | None:
    """The kernel module for 'cpu' or 'cuda', or None where numba (or numba.cuda) is missing."""
    try:
        if device == "cpu":
            from . import oscillator_cpu as module
        else:
            from . import oscillator_cuda as module
    except ImportError:
        return None
    return module


def _implementation(xp: ModuleType, *dtypes: Any) -> ModuleType:
    if use_reference() or any(np.dtype(d) not in _KERNEL_DTYPES for d in dtypes):
        return reference
    module = _compiled("cpu" if xp is np else "cuda")
    return reference if module is None else module


# -- taps and plan --------------------------------------------------------------------------------
def check_taps(taps: tuple, n_frames: int, name: str = "taps") -> None:
    """Validate two-tap upsampling tables ``(lo, w_lo, w_hi)`` for ``n_frames`` frames.

    ``lo`` must start at frame 0, end at the last frame and advance by 0 or 1 per sample (every
    frame owns a non-empty run of samples: upsampling).

    Raises:
        ValueError: naming ``name`` and what is wrong.
    """
    lo, w_lo, w_hi = taps
    xp = array_namespace(lo, w_lo, w_hi)
    if lo.ndim != 1 or w_lo.shape != lo.shape or w_hi.shape != lo.shape or lo.shape[0] < 1:
        raise ValueError(
            f"{name}: lo, w_lo, w_hi must be 1-D arrays of one length >= 1, got shapes "
            f"{lo.shape}, {w_lo.shape}, {w_hi.shape}"
        )
    steps = xp.diff(lo)
    ok = int(lo[0]) == 0 and int(lo[-1]) == n_frames - 1
    if not ok or (steps.size and bool(xp.any((steps < 0) | (steps > 1)))):
        raise ValueError(
            f"{name}: lo must run from frame 0 to frame {n_frames - 1} in steps of 0 or 1 "
            f"(upsampling), got lo[0]={int(lo[0])}, lo[-1]={int(lo[-1])}"
        )


def _segment_cumsum(xp: ModuleType, lo: Any, seg: Any, w: Any, n_frames: int) -> tuple:
    """Inclusive cumulative sums of ``w`` restarted at every frame, and the per-frame totals.

    Computed on a padded ``[frames, longest run]`` layout so each sum spans one frame only
    (a global cumsum minus offsets would lose ~1e-5 over 3e7 samples).
    """
    n = lo.shape[0]
    within = xp.arange(n) - seg[lo]
    width = int(xp.max(seg[1:] - seg[:-1]))
    table = xp.zeros((n_frames, width), dtype=xp.float64)
    table[lo, within] = w
    table = xp.cumsum(table, axis=1)
    return table[lo, within], table[:, -1].copy()


def _starts(xp: ModuleType, lo: Any) -> Any:
    first = xp.ones(lo.shape, dtype=bool)
    first[1:] = lo[1:] != lo[:-1]
    return first


def _groups(xp: ModuleType, lo_f: Any, lo_a: Any, batch: int, per_device: bool) -> Any:
    """Sample starts of the work groups (and the end, N): frame boundaries of both taps."""
    n = lo_f.shape[0]
    if per_device:  # CUDA: one group per frequency frame
        return xp.concatenate([xp.flatnonzero(_starts(xp, lo_f)), xp.asarray([n])])
    common = xp.flatnonzero(_starts(xp, lo_f) & _starts(xp, lo_a))
    target = max(_MIN_GROUP_SAMPLES, min(_GROUP_SAMPLES, (n * batch) // 64))
    picks = xp.unique(xp.searchsorted(common, xp.arange(0, n, target)))
    picks = picks[picks < common.shape[0]]
    return xp.concatenate([xp.unique(common[picks]), xp.asarray([n])]).astype(xp.int64)


def make_plan(xp: ModuleType, taps_f: tuple, taps_a: tuple, n_frames_f: int, n_frames_a: int,
              batch: int = 1, per_device: bool = False) -> Plan:
    """Precompute the index tables of one launch (all ``[N]`` or frame-sized, batch-free)."""
    lo_f, w_lo_f, w_hi_f = (xp.ascontiguousarray(t) for t in taps_f)
    lo_a, w_lo_a, w_hi_a = (xp.ascontiguousarray(t) for t in taps_a)
    lo_f, lo_a = lo_f.astype(xp.int64), lo_a.astype(xp.int64)
    frames_f, frames_a = xp.arange(n_frames_f + 1), xp.arange(n_frames_a + 1)
    seg_f = xp.searchsorted(lo_f, frames_f).astype(xp.int64)
    seg_a = xp.searchsorted(lo_a, frames_a).astype(xp.int64)
    w_lo_f, w_hi_f = w_lo_f.astype(xp.float64), w_hi_f.astype(xp.float64)
    cw_lo_f, sw_lo_f = _segment_cumsum(xp, lo_f, seg_f, w_lo_f, n_frames_f)
    cw_hi_f, sw_hi_f = _segment_cumsum(xp, lo_f, seg_f, w_hi_f, n_frames_f)
    groups = _groups(xp, lo_f, lo_a, batch, per_device)
    gseg_f = xp.concatenate([lo_f[groups[:-1]], xp.asarray([n_frames_f])]).astype(xp.int64)
    return Plan(lo_f, w_lo_f, w_hi_f, cw_lo_f, cw_hi_f, sw_lo_f, sw_hi_f, lo_a,
                w_lo_a.astype(xp.float64), w_hi_a.astype(xp.float64), seg_a, groups, gseg_f)


# -- validation and layouts -----------------------------------------------------------------------
def _check_controls(fn: str, freqs: Any, amps: Any, taps_f: tuple, taps_a: tuple,
                    harmonic: bool) -> None:
    f_rank = 2 if harmonic else 3
    if freqs.ndim != f_rank or amps.ndim != 3:
        want = "[batch, n_frames]" if harmonic else "[batch, n_frames, n_sinusoids]"
        raise ValueError(
            f"{fn}: frequencies must be {want} and amplitudes [batch, n_frames, n], got shapes "
            f"{freqs.shape} and {amps.shape}"
        )
    if freqs.shape[0] != amps.shape[0] or (not harmonic and freqs.shape[2] != amps.shape[2]):
        raise ValueError(
            f"{fn}: frequencies {freqs.shape} and amplitudes {amps.shape} disagree on the batch "
            "size or the number of sinusoids"
        )
    if taps_f[0].shape[0] != taps_a[0].shape[0]:
        raise ValueError(
            f"{fn}: frequency taps ({taps_f[0].shape[0]} samples) and amplitude taps "
            f"({taps_a[0].shape[0]} samples) must have one length"
        )
    check_taps(taps_f, freqs.shape[1], f"{fn}: taps_f")
    check_taps(taps_a, amps.shape[1], f"{fn}: taps_a")


def _check_sample_rate(fn: str, sample_rate: Any) -> float:
    if not sample_rate > 0:
        raise ValueError(f"{fn}: sample_rate must be positive, got {sample_rate!r}")
    return float(sample_rate)


def _phase0(xp: ModuleType, initial_phase: Any, batch: int, fn: str) -> Any:
    if initial_phase is None:
        return xp.zeros(batch, dtype=xp.float64)
    phase0 = xp.asarray(initial_phase, dtype=xp.float64).reshape(-1)
    if phase0.shape[0] == 1:
        phase0 = xp.broadcast_to(phase0, (batch,))
    if phase0.shape[0] != batch:
        raise ValueError(
            f"{fn}: initial_phase must hold one phase per batch row ({batch}), got "
            f"{phase0.shape[0]} values"
        )
    return xp.ascontiguousarray(phase0)


def _chain_phases(xp: ModuleType, sums: Any, phase0: Any) -> tuple[Any, Any]:
    """Group start phases ``[B, G, K]`` and final phases ``[B, K]`` from group increments."""
    start = reference.wrapped_cumsum(xp, sums, axis=1, exclusive=True)
    start = xp.mod(start + phase0[:, None, None], reference.TWO_PI)
    total = xp.mod(start[:, -1] + sums[:, -1], reference.TWO_PI)
    return xp.ascontiguousarray(start), total


def _phase_gradient(xp: ModuleType, sums: tuple, plan: Plan, scale: float,
                    g_final: Any) -> tuple[Any, Any]:
    """Frame-rate frequency gradient ``[B, Ff, K]`` and initial-phase gradient ``[B, K]``.

    With ``t(n) = dL/dphi(n)`` and ``T(n) = sum_{m >= n} t(m)`` (+ the final-phase cotangent),
    ``dL/df(n) = scale * T(n)``. Per frequency frame f the kernels return ``U = sum t``,
    ``Q_lo = sum t * cw_lo`` and ``Q_hi = sum t * cw_hi`` over its samples; with
    ``V_f = sum_{f' > f} U_f'`` the adjoint of the taps is ``scale * (Q + V * sw)``.
    """
    u, q_lo, q_hi = sums
    later = xp.flip(xp.cumsum(xp.flip(u, axis=1), axis=1), axis=1) - u  # reverse exclusive
    if g_final is not None:
        later = later + g_final[:, None, :]
    lo_part = scale * (q_lo + later * plan.sw_lo_f[None, :, None])
    hi_part = scale * (q_hi + later * plan.sw_hi_f[None, :, None])
    grad = lo_part
    grad[:, 1:] += hi_part[:, :-1]
    grad[:, -1] += hi_part[:, -1]
    d_phase0 = later[:, 0] + u[:, 0]
    return grad, d_phase0


def _prepare(fn, freqs, amps, taps_f, taps_a, sample_rate, harmonic):
    xp = array_namespace(freqs, amps)
    freqs, amps = xp.ascontiguousarray(freqs), xp.ascontiguousarray(amps)
    _check_controls(fn, freqs, amps, taps_f, taps_a, harmonic)
    sample_rate = _check_sample_rate(fn, sample_rate)
    taps_f = tuple(xp.asarray(t) for t in taps_f)
    taps_a = tuple(xp.asarray(t) for t in taps_a)
    return xp, freqs, amps, taps_f, taps_a, sample_rate


def _launch_plan(xp, impl, taps_f, taps_a, freqs, amps) -> Plan:
    return make_plan(xp, taps_f, taps_a, freqs.shape[1], amps.shape[1], freqs.shape[0],
                     per_device=xp is not np)


# -- harmonic bank --------------------------------------------------------------------------------
def harmonic_forward(f0: Any, amps: Any, taps_f: tuple, taps_a: tuple, initial_phase: Any = None,
                     sample_rate: float = 16000, nyquist: bool = True) -> tuple[Any, Any]:
    """Render ``sum_k a_k(n) sin(k phi(n))`` from frame-rate controls.

    Args:
        f0: fundamental frequency [Hz] per frame, ``[B, Ff]``.
        amps: harmonic amplitudes per frame, ``[B, Fa, H]``.
        taps_f, taps_a: ``(lo, w_lo, w_hi)`` upsampling taps ``[N]`` of f0 and amplitudes.
        initial_phase: phase before the first sample [rad], ``[B]`` (or one value), or None.
        sample_rate: samples per second.
        nyquist: silence harmonic k where ``k * f0(n) >= sample_rate / 2``.

    Returns:
        audio ``[B, N]`` (dtype of the controls combined) and the final phase, float64 ``[B]``
        in [0, 2*pi).
    """
    fn = "harmonic_forward"
    xp, f0, amps, taps_f, taps_a, sr = _prepare(fn, f0, amps, taps_f, taps_a, sample_rate, True)
    phase0 = _phase0(xp, initial_phase, f0.shape[0], fn)
    impl = _implementation(xp, f0.dtype, amps.dtype)
    if impl is reference:
        return reference.harmonic_forward(f0, amps, taps_f, taps_a, phase0, sr, nyquist)
    plan = _launch_plan(xp, impl, taps_f, taps_a, f0, amps)
    scale = reference.TWO_PI / sr
    f0_3d = f0.reshape(f0.shape + (1,))
    starts, final = _chain_phases(xp, impl.group_phase_sums(f0_3d, plan, scale), phase0)
    nyquist_hz = sr / 2.0 if nyquist else math.inf
    audio = impl.harmonic_forward(f0, amps, plan, starts[..., 0], scale, nyquist_hz)
    return audio, final[:, 0]


def harmonic_backward(f0: Any, amps: Any, taps_f: tuple, taps_a: tuple, initial_phase: Any,
                      sample_rate: float, nyquist: bool, g_audio: Any, g_final: Any = None,
                      need_amps: bool = True, need_phase: bool = True) -> tuple:
    """VJP of :func:`harmonic_forward`.

    Args:
        g_audio: cotangent of the audio, ``[B, N]``.
        g_final: cotangent of the final phase, ``[B]``, or None.
        need_amps, need_phase: which gradients to compute (the others come back as None);
            the phase gradient covers f0 and the initial phase.

    Returns:
        float64 ``(d_f0 [B, Ff], d_amps [B, Fa, H], d_initial_phase [B])`` (None where not
        needed). Phases are recomputed; no ``[B, N, H]`` array is stored.
    """
    fn = "harmonic_backward"
    xp, f0, amps, taps_f, taps_a, sr = _prepare(fn, f0, amps, taps_f, taps_a, sample_rate, True)
    phase0 = _phase0(xp, initial_phase, f0.shape[0], fn)
    g_audio = xp.ascontiguousarray(g_audio)
    if g_final is not None:
        g_final = xp.asarray(g_final, dtype=xp.float64).reshape(-1)
    impl = _implementation(xp, f0.dtype, amps.dtype, g_audio.dtype)
    if impl is reference:
        g_final0 = xp.zeros(f0.shape[0]) if g_final is None else g_final
        d_f0, d_amps, d_p0 = reference.harmonic_backward(
            f0, amps, taps_f, taps_a, phase0, sr, nyquist, g_audio, g_final0
        )
        return (d_f0 if need_phase else None, d_amps if need_amps else None,
                d_p0 if need_phase else None)
    plan = _launch_plan(xp, impl, taps_f, taps_a, f0, amps)
    scale = reference.TWO_PI / sr
    f0_3d = f0.reshape(f0.shape + (1,))
    starts, _ = _chain_phases(xp, impl.group_phase_sums(f0_3d, plan, scale), phase0)
    nyquist_hz = sr / 2.0 if nyquist else math.inf
    d_amps, sums = impl.harmonic_backward(
        f0, amps, plan, starts[..., 0], scale, nyquist_hz, g_audio, need_amps, need_phase
    )
    if not need_phase:
        return None, d_amps, None
    sums = tuple(s.reshape(s.shape + (1,)) for s in sums)
    g_final = None if g_final is None else g_final[:, None]
    d_f0, d_p0 = _phase_gradient(xp, sums, plan, scale, g_final)
    return d_f0[..., 0], d_amps, d_p0[:, 0]


# -- free sinusoids -------------------------------------------------------------------------------
def sinusoid_forward(freqs: Any, amps: Any, taps_f: tuple, taps_a: tuple,
                     sample_rate: float = 16000) -> Any:
    """Render ``sum_k a_k(n) sin(phi_k(n))`` (silent at or above Nyquist, per sample).

    Args:
        freqs: frequencies [Hz] per frame, ``[B, Ff, K]``.
        amps: amplitudes per frame, ``[B, Fa, K]``.
        taps_f, taps_a: upsampling taps ``[N]`` (sample-rate controls: ``lo = arange(N)``,
            weights 1 and 0).
        sample_rate: samples per second.

    Returns:
        audio ``[B, N]`` in the dtype of the controls combined.
    """
    fn = "sinusoid_forward"
    xp, freqs, amps, taps_f, taps_a, sr = _prepare(
        fn, freqs, amps, taps_f, taps_a, sample_rate, False
    )
    impl = _implementation(xp, freqs.dtype, amps.dtype)
    if impl is reference:
        return reference.sinusoid_forward(freqs, amps, taps_f, taps_a, sr)
    plan = _launch_plan(xp, impl, taps_f, taps_a, freqs, amps)
    scale = reference.TWO_PI / sr
    zeros = xp.zeros(freqs.shape[0], dtype=xp.float64)
    starts, _ = _chain_phases(xp, impl.group_phase_sums(freqs, plan, scale), zeros)
    return impl.sinusoid_forward(freqs, amps, plan, starts, scale, sr / 2.0)


def sinusoid_backward(freqs: Any, amps: Any, taps_f: tuple, taps_a: tuple, sample_rate: float,
                      g_audio: Any, need_amps: bool = True, need_freqs: bool = True) -> tuple:
    """VJP of :func:`sinusoid_forward`: float64 ``(d_freqs [B, Ff, K], d_amps [B, Fa, K])``
    (None where not needed)."""
    fn = "sinusoid_backward"
    xp, freqs, amps, taps_f, taps_a, sr = _prepare(
        fn, freqs, amps, taps_f, taps_a, sample_rate, False
    )
    g_audio = xp.ascontiguousarray(g_audio)
    impl = _implementation(xp, freqs.dtype, amps.dtype, g_audio.dtype)
    if impl is reference:
        d_freqs, d_amps = reference.sinusoid_backward(freqs, amps, taps_f, taps_a, sr, g_audio)
        return (d_freqs if need_freqs else None, d_amps if need_amps else None)
    plan = _launch_plan(xp, impl, taps_f, taps_a, freqs, amps)
    scale = reference.TWO_PI / sr
    zeros = xp.zeros(freqs.shape[0], dtype=xp.float64)
    starts, _ = _chain_phases(xp, impl.group_phase_sums(freqs, plan, scale), zeros)
    d_amps, sums = impl.sinusoid_backward(
        freqs, amps, plan, starts, scale, sr / 2.0, g_audio, need_amps, need_freqs
    )
    if not need_freqs:
        return None, d_amps
    d_freqs, _ = _phase_gradient(xp, sums, plan, scale, None)
    return d_freqs, d_amps
