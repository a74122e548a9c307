"""Launcher of the fused oscillator kernels: validate, canonical layout, plan, pick the kernel.

Two families (see oscillator_reference.py for the maths and :class:`Taps`, the two-tap
upsampling of frame-rate controls):

- ``harmonic_*``: one fundamental per batch row, harmonics ``k * phi`` (Harmonic synth,
  harmonic_oscillator_bank, streaming synthesis), with an optional per-sample Nyquist mask and
  an initial / final phase.
- ``sinusoid_*``: free sinusoids, each with its own phase (Sinusoidal synth, oscillator_bank).

Selection, per call: ``DDSP_REF_KERNELS=reference`` forces the pure-array reference; otherwise
cupy arrays run the numba CUDA kernels and numpy float32 / float64 arrays the numba CPU kernels
(the reference where numba is missing). numba is imported on the first kernel call only.

Long signals are rendered in pieces (see oscillator_plan.py), each handing its final phase, in
float64, to the next; inside a piece, a group's starting phase comes from a cheap pre-pass of
per-group phase increments chained here modulo 2*pi, so time chunks run independently.
"""

from __future__ import annotations

import math
from types import ModuleType
from typing import Any, NamedTuple

from ..backend import array_namespace
from . import oscillator_reference as reference
from .oscillator_plan import Block, Plan, check_steps, make_plan, pieces
from .oscillator_reference import Taps
from .selection import select

__all__ = [
    "Taps",
    "Plan",
    "make_plan",
    "harmonic_forward",
    "harmonic_backward",
    "sinusoid_forward",
    "sinusoid_backward",
]


def _implementation(xp: ModuleType, dtypes: tuple, implementation: str | None) -> ModuleType:
    return select("oscillator", xp, dtypes, implementation=implementation)


# -- validation and shared steps ------------------------------------------------------------------
def _prepare(
    fn: str, freqs: Any, amps: Any, taps_f: Taps, taps_a: Taps, sample_rate: Any, harmonic: bool
) -> tuple:
    xp = array_namespace(freqs, amps)
    freqs, amps = xp.ascontiguousarray(freqs), xp.ascontiguousarray(amps)
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
    if not (isinstance(taps_f, Taps) and isinstance(taps_a, Taps)):
        raise ValueError(f"{fn}: taps_f and taps_a must be Taps, got {type(taps_f).__name__}")
    if (taps_f.n_frames, taps_a.n_frames) != (freqs.shape[1], amps.shape[1]) or (
        taps_f.n_samples != taps_a.n_samples
    ):
        raise ValueError(
            f"{fn}: taps for {taps_f.n_frames} and {taps_a.n_frames} frames to "
            f"{taps_f.n_samples} and {taps_a.n_samples} samples do not fit controls with "
            f"{freqs.shape[1]} and {amps.shape[1]} frames"
        )
    if not sample_rate > 0:
        raise ValueError(f"{fn}: sample_rate must be positive, got {sample_rate!r}")
    return xp, freqs, amps, float(sample_rate)


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


def _gain(xp: ModuleType, gain: Any, amps: Any, fn: str) -> Any:
    if gain is None:
        return None
    gain = xp.asarray(gain)
    if gain.shape != amps.shape[:2] + (1,):
        raise ValueError(
            f"{fn}: gain must be [batch, n_frames, 1] like the amplitudes {amps.shape}, got "
            f"{gain.shape}"
        )
    return gain


def _full_tables(xp: ModuleType, taps: Taps) -> tuple:
    lo, w_lo, w_hi = taps.tables()
    check_steps(lo, taps, "reference", True, True)
    return xp.asarray(lo), xp.asarray(w_lo), xp.asarray(w_hi)


def _chain_phases(xp: ModuleType, sums: Any, phase0: Any) -> tuple[Any, Any]:
    """Group start phases ``[B, G, K]`` and end phases ``[B, K]`` from group increments, with
    ``phase0`` ``[B]`` or ``[B, K]`` before the first group."""
    start = reference.wrapped_cumsum(xp, sums, axis=1, exclusive=True)
    phase0 = phase0[:, None, None] if phase0.ndim == 1 else phase0[:, None, :]
    start = xp.mod(start + phase0, reference.TWO_PI)
    total = xp.mod(start[:, -1] + sums[:, -1], reference.TWO_PI)
    return xp.ascontiguousarray(start), total


def _phase_gradient(
    xp: ModuleType, sums: tuple, sw: tuple, scale: float, g_final: Any
) -> tuple[Any, Any]:
    """Frame-rate frequency gradient ``[B, Ff, K]`` and initial-phase gradient ``[B, K]``.

    With ``t(n) = dL/dphi(n)`` and ``T(n) = sum_{m >= n} t(m)`` (+ the final-phase cotangent),
    ``dL/df(n) = scale * T(n)``. Per frequency frame f the kernels return ``U = sum t``,
    ``Q_lo = sum t * cw_lo`` and ``Q_hi = sum t * cw_hi`` over its samples; with
    ``V_f = sum_{f' > f} U_f'`` (a float64 reverse cumulative sum) the adjoint of the taps is
    ``scale * (Q + V * sw)``, the w_hi part going to frame f + 1 (the last frame to itself).
    """
    u, q_lo, q_hi = sums
    later = xp.flip(xp.cumsum(xp.flip(u, axis=1), axis=1), axis=1) - u
    if g_final is not None:
        later = later + g_final[:, None, :]
    if q_lo is None:  # identity taps: Q_lo = U, sw_lo = 1, no w_hi part
        return scale * (later + u), later[:, 0] + u[:, 0]
    lo_part = scale * (q_lo + later * sw[0][None, :, None])
    hi_part = scale * (q_hi + later * sw[1][None, :, None])
    grad = lo_part
    grad[:, 1:] += hi_part[:, :-1]
    grad[:, -1] += hi_part[:, -1]
    return grad, later[:, 0] + u[:, 0]


def _float64(xp: ModuleType, *arrays: Any) -> list:
    """Compiled kernels see float64 only: one compiled signature per kernel (numba compiles
    every dtype combination separately, ~10 s each), and the copies are frame-rate arrays
    except for sample-rate controls."""
    return [xp.ascontiguousarray(a, dtype=xp.float64) for a in arrays]


class Bank(NamedTuple):
    """A whole bank as the launcher walks it piece by piece (controls in their own dtype;
    each piece is converted to float64 on its own)."""

    freqs: Any  # [B, Ff] (harmonic) or [B, Ff, K], Hz
    amps: Any  # [B, Fa, K]
    taps_f: Taps
    taps_a: Taps
    phase0: Any  # [B] (harmonic) or [B, K], rad
    scale: float  # 2 pi / sample_rate
    nyquist: float  # Hz (inf: no mask)
    gain: Any = None  # [B, Fa, 1] factor of the amplitudes, applied per piece (or None)


def _blocks(xp: ModuleType, impl: ModuleType, bank: Bank, fn: str):
    """``(piece, block)`` per piece, each block's start phases chained from the previous
    piece's end phase; the last item is ``(None, end phase [B, K])``."""
    phase = bank.phase0
    harmonic = bank.freqs.ndim == 2
    for piece in pieces(xp, impl, bank.taps_f, bank.taps_a, fn):
        # float64 copies of this piece's frames only (not of the whole controls)
        frames = slice(piece.a0, piece.a0 + piece.na)
        f_c, a_c = _float64(xp, bank.freqs[:, piece.f0 : piece.f0 + piece.nf], bank.amps[:, frames])
        if bank.gain is not None:  # amplitudes = amps * gain, formed one piece at a time
            a_c = a_c * bank.gain[:, frames]  # a new array: a_c may view the caller's
        f_3d = f_c.reshape(f_c.shape[:2] + (-1,))
        sums = impl.group_phase_sums(f_3d, piece.plan, bank.scale)
        starts, phase = _chain_phases(xp, sums, phase)
        if harmonic:
            starts = xp.ascontiguousarray(starts[..., 0])
        yield piece, Block(f_c, a_c, piece.plan, starts, bank.scale, bank.nyquist)
    yield None, phase


def _render(xp: ModuleType, kernel: Any, impl: ModuleType, bank: Bank, dtype: Any, fn: str):
    """Audio ``[B, N]`` in ``dtype`` from ``kernel`` (a forward kernel of ``impl``) over the
    pieces, and the end phases ``[B, K]``."""
    n = bank.taps_f.n_samples
    out = None
    for piece, block in _blocks(xp, impl, bank, fn):
        if piece is None:
            return out, block
        audio = kernel(block)
        if out is None:  # pieces land in the output directly (no float64 copy of it all)
            out = xp.empty((audio.shape[0], n), dtype=dtype)
        out[:, piece.n0 : piece.n1] = audio


def _accumulate_sums(sums: list, sw: list, part: list, sw_part: tuple, frames: slice) -> None:
    """Add one piece's phase sums to the totals of its frames.

    A frame split between pieces restarts its cumulative weights ``cw`` in the later piece,
    whose samples therefore miss the weight ``sw`` the frame already had in the earlier
    pieces: ``Q += Q_part + sw_before * U_part`` restores it (``sw_before`` is 0 for frames
    not seen yet). Identity plans (``Q`` None) have one sample per frame: never split.
    """
    u_part, q_lo_part, q_hi_part = part
    if q_lo_part is not None:
        sums[1][:, frames] += q_lo_part + sw[0][frames][None, :, None] * u_part
        sums[2][:, frames] += q_hi_part + sw[1][frames][None, :, None] * u_part
    sums[0][:, frames] += u_part
    sw[0][frames] += sw_part[0]
    sw[1][frames] += sw_part[1]


def _gradients(xp, kernel, impl, bank: Bank, g_audio, need_amps: bool, need_phase: bool, fn):
    """Run ``kernel`` (a backward kernel of ``impl``) over the pieces: float64 ``d_amps`` (or
    None) and the phase sums ``(U, Q_lo, Q_hi) [B, Ff, K]`` with the frame sums ``sw`` (or
    None), accumulated over pieces into full-size frame arrays."""
    g_audio = _float64(xp, g_audio)[0]
    n = bank.taps_f.n_samples
    d_amps = sums = sw = None
    for piece, block in _blocks(xp, impl, bank, fn):
        if piece is None:
            break
        g_c = xp.ascontiguousarray(g_audio[:, piece.n0 : piece.n1])
        d_c, sums_c = kernel(block, g_c, need_amps, need_phase)
        if need_phase:
            sums_c = [None if p is None else p.reshape(p.shape[:2] + (-1,)) for p in sums_c]
        sw_c = (piece.plan.sw_lo_f, piece.plan.sw_hi_f)
        if piece.n0 == 0 and piece.n1 == n:  # one piece: its arrays are the result
            return d_c, (tuple(sums_c) if need_phase else None), sw_c
        if piece.n0 == 0:  # several pieces: accumulate into full-size frame arrays
            d_amps = xp.zeros(bank.amps.shape) if need_amps else None
            if need_phase:
                shape = bank.freqs.reshape(bank.freqs.shape[:2] + (-1,)).shape
                sums = [None if p is None else xp.zeros(shape) for p in sums_c]
                sw = [xp.zeros(shape[1]) for _ in range(2)]
        if need_amps:
            d_amps[:, piece.a0 : piece.a0 + piece.na] += d_c
        if need_phase:
            _accumulate_sums(sums, sw, sums_c, sw_c, slice(piece.f0, piece.f0 + piece.nf))
    return d_amps, (None if sums is None else tuple(sums)), sw


# -- harmonic bank --------------------------------------------------------------------------------
def harmonic_forward(
    f0: Any,
    amps: Any,
    taps_f: Taps,
    taps_a: Taps,
    initial_phase: Any = None,
    sample_rate: float = 16000,
    nyquist: bool = True,
    *,
    gain: Any = None,
    implementation: str | None = None,
) -> tuple[Any, Any]:
    """Render ``sum_k a_k(n) sin(k phi(n))`` from frame-rate controls.

    Args:
        f0: fundamental frequency [Hz] per frame, ``[B, Ff]``.
        amps: harmonic amplitudes per frame, ``[B, Fa, H]``.
        taps_f, taps_a: :class:`Taps` upsampling f0 and the amplitudes to one length N.
        initial_phase: phase before the first sample [rad], ``[B]`` (or one value), or None.
        sample_rate: samples per second.
        nyquist: silence harmonic k where ``k * f0(n) >= sample_rate / 2``.
        gain: optional ``[B, Fa, 1]`` factor: the amplitudes are ``amps * gain`` (formed per
            piece, so the product of a distribution and an overall amplitude never exists as
            a whole array). The same keyword on :func:`harmonic_backward`, whose ``d_amps``
            is then the gradient of the product.
        implementation: None (automatic, see the module docstring), or force 'reference',
            'cpu' or 'cuda' (tests and benchmarks; 'cuda' on numpy arrays needs numba's
            simulator). The same keyword exists on every function here.

    Returns:
        audio ``[B, N]`` (dtype of the controls combined) and the final phase, float64 ``[B]``
        in [0, 2*pi).

    Raises:
        ValueError: for mismatched shapes or taps, or a non-positive sample rate.
    """
    fn = "harmonic_forward"
    xp, f0, amps, sr = _prepare(fn, f0, amps, taps_f, taps_a, sample_rate, True)
    phase0 = _phase0(xp, initial_phase, f0.shape[0], fn)
    gain = _gain(xp, gain, amps, fn)
    impl = _implementation(xp, (f0.dtype, amps.dtype), implementation)
    if impl is reference:
        amps = amps if gain is None else (amps * gain).astype(xp.result_type(amps, gain))
        return reference.harmonic_forward(
            f0, amps, _full_tables(xp, taps_f), _full_tables(xp, taps_a), phase0, sr, nyquist
        )
    nyquist_hz = sr / 2.0 if nyquist else math.inf
    dtype = xp.result_type(f0, amps, *([] if gain is None else [gain]))
    bank = Bank(f0, amps, taps_f, taps_a, phase0, reference.TWO_PI / sr, nyquist_hz, gain)
    audio, phase = _render(xp, impl.harmonic_forward, impl, bank, dtype, fn)
    return audio, phase[:, 0]


def harmonic_backward(
    f0: Any,
    amps: Any,
    taps_f: Taps,
    taps_a: Taps,
    initial_phase: Any,
    sample_rate: float,
    nyquist: bool,
    g_audio: Any,
    g_final: Any = None,
    need_amps: bool = True,
    need_phase: bool = True,
    *,
    gain: Any = None,
    implementation: str | None = None,
) -> tuple:
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
    xp, f0, amps, sr = _prepare(fn, f0, amps, taps_f, taps_a, sample_rate, True)
    phase0 = _phase0(xp, initial_phase, f0.shape[0], fn)
    gain = _gain(xp, gain, amps, fn)
    g_audio = xp.asarray(g_audio)
    if g_final is not None:
        g_final = xp.asarray(g_final, dtype=xp.float64).reshape(-1)
    impl = _implementation(xp, (f0.dtype, amps.dtype, g_audio.dtype), implementation)
    if impl is reference:
        amps = amps if gain is None else amps * gain
        g_final0 = xp.zeros(f0.shape[0]) if g_final is None else g_final
        d_f0, d_amps, d_p0 = reference.harmonic_backward(
            f0,
            amps,
            _full_tables(xp, taps_f),
            _full_tables(xp, taps_a),
            phase0,
            sr,
            nyquist,
            g_audio,
            g_final0,
        )
        return (
            d_f0 if need_phase else None,
            d_amps if need_amps else None,
            d_p0 if need_phase else None,
        )
    scale = reference.TWO_PI / sr
    nyquist_hz = sr / 2.0 if nyquist else math.inf
    bank = Bank(f0, amps, taps_f, taps_a, phase0, scale, nyquist_hz, gain)
    kernel = impl.harmonic_backward
    d_amps, sums, sw = _gradients(xp, kernel, impl, bank, g_audio, need_amps, need_phase, fn)
    if not need_phase:
        return None, d_amps, None
    g_final = None if g_final is None else g_final[:, None]
    d_f0, d_p0 = _phase_gradient(xp, sums, sw, scale, g_final)
    return d_f0[..., 0], d_amps, d_p0[:, 0]


# -- free sinusoids -------------------------------------------------------------------------------
def sinusoid_forward(
    freqs: Any,
    amps: Any,
    taps_f: Taps,
    taps_a: Taps,
    sample_rate: float = 16000,
    *,
    implementation: str | None = None,
) -> Any:
    """Render ``sum_k a_k(n) sin(phi_k(n))`` (silent at or above Nyquist, per sample).

    Args:
        freqs: frequencies [Hz] per frame, ``[B, Ff, K]``.
        amps: amplitudes per frame, ``[B, Fa, K]``.
        taps_f, taps_a: :class:`Taps` (sample-rate controls: ``Taps.identity(N)``).
        sample_rate: samples per second.

    Returns:
        audio ``[B, N]`` in the dtype of the controls combined.
    """
    fn = "sinusoid_forward"
    xp, freqs, amps, sr = _prepare(fn, freqs, amps, taps_f, taps_a, sample_rate, False)
    impl = _implementation(xp, (freqs.dtype, amps.dtype), implementation)
    if impl is reference:
        return reference.sinusoid_forward(
            freqs, amps, _full_tables(xp, taps_f), _full_tables(xp, taps_a), sr
        )
    phase0 = xp.zeros(freqs.shape[::2], dtype=xp.float64)
    dtype = xp.result_type(freqs, amps)
    bank = Bank(freqs, amps, taps_f, taps_a, phase0, reference.TWO_PI / sr, sr / 2)
    audio, _ = _render(xp, impl.sinusoid_forward, impl, bank, dtype, fn)
    return audio


def sinusoid_backward(
    freqs: Any,
    amps: Any,
    taps_f: Taps,
    taps_a: Taps,
    sample_rate: float,
    g_audio: Any,
    need_amps: bool = True,
    need_freqs: bool = True,
    *,
    implementation: str | None = None,
) -> tuple:
    """VJP of :func:`sinusoid_forward`: float64 ``(d_freqs [B, Ff, K], d_amps [B, Fa, K])``
    (None where not needed)."""
    fn = "sinusoid_backward"
    xp, freqs, amps, sr = _prepare(fn, freqs, amps, taps_f, taps_a, sample_rate, False)
    g_audio = xp.asarray(g_audio)
    impl = _implementation(xp, (freqs.dtype, amps.dtype, g_audio.dtype), implementation)
    if impl is reference:
        d_freqs, d_amps = reference.sinusoid_backward(
            freqs, amps, _full_tables(xp, taps_f), _full_tables(xp, taps_a), sr, g_audio
        )
        return (d_freqs if need_freqs else None, d_amps if need_amps else None)
    if not (need_amps or need_freqs):
        return None, None
    scale = reference.TWO_PI / sr
    phase0 = xp.zeros(freqs.shape[::2], dtype=xp.float64)
    bank = Bank(freqs, amps, taps_f, taps_a, phase0, scale, sr / 2.0)
    kernel = impl.sinusoid_backward
    d_amps, sums, sw = _gradients(xp, kernel, impl, bank, g_audio, need_amps, need_freqs, fn)
    if not need_freqs:
        return None, d_amps
    d_freqs, _ = _phase_gradient(xp, sums, sw, scale, None)
    return d_freqs, d_amps
