"""Pitch (f0) estimation in ddsp's ``compute_f0`` frame layout: probabilistic YIN or a CREPE model.

ddsp 3.7.0 estimates f0 with CREPE, whose weights a dependency-light library cannot ship. Here
``compute_f0`` runs a probabilistic-YIN estimator (Mauch & Dixon 2014, "pYIN") on the frames CREPE
would see, and takes any CREPE-style model as an optional plug-in (``model=``), decoded exactly as
ddsp's ``PretrainedCREPE`` does. Nothing here is differentiable: f0 is a data-preparation feature.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ..autodiff import stop_gradient
from ..backend import array_namespace, as_strided, fft_module
from ..core.utils import to_float
from ..kernels.pitch_hmm import banded_viterbi, voicing_posterior
from ..validation import positive_number
from .framing import check_padding, get_framed_lengths, hop_from_rates, pad

__all__ = [
    "CREPE_SAMPLE_RATE",
    "CREPE_FRAME_SIZE",
    "compute_f0",
    "activations_to_f0_and_confidence",
    "crepe_viterbi_decode",
    "normalize_frames",
]

CREPE_SAMPLE_RATE = 16000
CREPE_FRAME_SIZE = 1024

# CREPE's pitch grid, shared by the pYIN state space: 360 bins, 20 cents apart, 31.7 - 2005.5 Hz.
_N_BINS = 360
_CENTS_OFFSET = 1997.3794084376191
_CENTS_PER_BIN = 20.0

# pYIN settings (Mauch & Dixon 2014): a Beta(2, 34/3) prior on the YIN threshold (mean 0.15, one of
# the paper's three priors; mean 0.1 misses voiced speech and noisy tones), mass for "no trough
# below the threshold" given to the global minimum, voicing switch probability per frame.
_BETA_B = 34.0 / 3.0
_NO_TROUGH_PROB = 0.01
_SWITCH_PROB = 0.01
# Pitch transitions: triangular within a band set by the fastest plausible glide (octaves per
# second, pYIN's value), plus a small floor so octave jumps cost a fixed penalty instead of being
# impossible (pYIN's band-only matrix cannot follow an octave switch).
_MAX_GLIDE_OCTAVES_PER_S = 35.92
_JUMP_PROB = 1e-3
_EMISSION_FLOOR = 1e-30  # keeps log-probabilities finite (float32-representable)
_CMND_EPS = 1e-4  # on RMS-normalised frames: a frame with no energy reads as flat (d' = 1)


def _frame_size(sample_rate: int) -> int:
    """CREPE's 1024 samples at 16 kHz (64 ms), scaled to ``sample_rate`` and rounded to even."""
    return 2 * max(1, int(round(CREPE_FRAME_SIZE // 2 * sample_rate / CREPE_SAMPLE_RATE)))


def _frames(audio: Any, frame_size: int, hop_size: int, n_frames: int) -> Any:
    """Read-only strided view ``[batch, n_frames, frame_size]`` of contiguous padded audio."""
    xp = array_namespace(audio)
    audio = xp.ascontiguousarray(audio)
    step = audio.strides[-1]
    return as_strided(
        xp, audio, (audio.shape[0], n_frames, frame_size), (audio.strides[0], hop_size * step, step)
    )


def _bin_cents(xp: Any, dtype: Any) -> Any:
    return xp.linspace(0.0, 7180.0, _N_BINS).astype(dtype) + _CENTS_OFFSET


def _cents_to_hz(cents: Any) -> Any:
    return 10.0 * 2.0 ** (cents / 1200.0)


def _hz_to_bin(xp: Any, hz: Any) -> Any:
    """Nearest pitch-grid bin of a frequency in Hz (clipped to the grid)."""
    cents = 1200.0 * xp.log2(xp.maximum(hz, 1e-3) / 10.0)
    k = xp.rint((cents - _CENTS_OFFSET) / _CENTS_PER_BIN)
    return xp.clip(k, 0, _N_BINS - 1).astype(xp.int32)


# ------------------------------------------------------------------------------------------------
# YIN: difference function, cumulative mean normalised difference, candidates with probabilities


def _cmnd(frames: Any, max_lag: int) -> tuple[Any, Any]:
    """YIN's cumulative mean normalised difference of every frame at once.

    The squared difference d(tau) uses all ``n - tau`` sample pairs of the frame (divided by
    their count), so for every lag the pairs are centred on the frame centre, the time ddsp
    assigns to the frame. The autocorrelation comes from one zero-padded FFT per frame.

    Returns:
        (d', d), each [..., max_lag + 1] for lags 0..max_lag; d'(0) = 1.
    """
    xp = array_namespace(frames)
    n = frames.shape[-1]
    x = frames - xp.mean(frames, axis=-1, keepdims=True)
    rms = xp.sqrt(xp.mean(x * x, axis=-1, keepdims=True))
    x = x / xp.maximum(rms, 1e-8)  # scale invariant like CREPE; silence stays ~0
    n_fft = 1 << int(np.ceil(np.log2(n + max_lag)))  # linear, not circular, correlation
    fft = fft_module(xp)
    spec = fft.rfft(x, n=n_fft, axis=-1)
    corr = fft.irfft(spec * xp.conj(spec), n=n_fft, axis=-1)[..., : max_lag + 1]
    energy = xp.concatenate([xp.zeros_like(x[..., :1]), xp.cumsum(x * x, axis=-1)], axis=-1)
    tau = xp.arange(max_lag + 1)
    head = energy[..., n - tau]  # sum of x_j^2 for j < n - tau
    tail = energy[..., n:] - energy[..., tau]  # sum of x_j^2 for j >= tau
    diff = xp.maximum(head + tail - 2.0 * corr, 0.0) / (n - tau).astype(x.dtype)
    running_mean = xp.cumsum(diff[..., 1:], axis=-1) / tau[1:].astype(x.dtype)
    cmnd = (diff[..., 1:] + _CMND_EPS) / (running_mean + _CMND_EPS)
    return xp.concatenate([xp.ones_like(cmnd[..., :1]), cmnd], axis=-1), diff


def _exclusive_prefix_min(x: Any) -> Any:
    """min(x[..., :k]) for every k along the last axis (+inf for k = 0), by pairwise doubling."""
    xp = array_namespace(x)
    out = xp.concatenate([xp.full_like(x[..., :1], xp.inf), x[..., :-1]], axis=-1)
    shift = 1
    while shift < out.shape[-1]:
        out = xp.concatenate(
            [out[..., :shift], xp.minimum(out[..., shift:], out[..., :-shift])], axis=-1
        )
        shift *= 2
    return out


def _beta_cdf(x: Any) -> Any:
    """CDF of Beta(2, b) in closed form: 1 - (1 - x)^b (1 + b x), x clipped to [0, 1]."""
    xp = array_namespace(x)
    x = xp.clip(x, 0.0, 1.0)
    return 1.0 - (1.0 - x) ** _BETA_B * (1.0 + _BETA_B * x)


def _yin_candidates(frames: Any, sample_rate: int) -> tuple[Any, Any]:
    """pYIN pitch candidates of each frame: every trough of d' and its probability.

    For a YIN threshold s, the estimate is the first trough with d' < s. With s ~ Beta(2, 34/3),
    the trough at lag tau is chosen with probability F(min(1, m)) - F(d'(tau)), m the lowest
    earlier trough and F the Beta CDF: the thresholds are integrated in closed form instead of
    pYIN's 100 discrete ones. Thresholds below every trough give 0.01 of their mass to the
    global minimum (pYIN).

    Returns:
        (candidate_hz, probability), each [batch, n_frames, n_lags]; probability 0 off troughs.
    """
    xp = array_namespace(frames)
    n = frames.shape[-1]
    bin_hz = _cents_to_hz(_CENTS_OFFSET + np.array([-0.5, _N_BINS - 0.5]) * _CENTS_PER_BIN)
    lo = max(1, int(np.floor(sample_rate / bin_hz[1])))
    hi = min(n // 2, int(np.ceil(sample_rate / bin_hz[0])))
    y, diff = _cmnd(frames, hi + 1)
    left, mid, right = y[..., lo - 1 : hi], y[..., lo : hi + 1], y[..., lo + 1 : hi + 2]
    is_trough = (mid < left) & (mid <= right)
    value = xp.where(is_trough, mid, xp.inf)
    earlier_min = _exclusive_prefix_min(value)
    prob = xp.where(is_trough, xp.maximum(_beta_cdf(earlier_min) - _beta_cdf(mid), 0.0), 0.0)
    best = xp.argmin(value, axis=-1)[..., None]
    lowest = xp.take_along_axis(value, best, axis=-1)
    no_trough = xp.where(xp.isfinite(lowest), _NO_TROUGH_PROB * _beta_cdf(lowest), 0.0)
    prob = prob + xp.where(xp.arange(value.shape[-1]) == best, no_trough, 0.0)
    # Sub-sample period: parabola through the trough of the raw difference and its neighbours
    # (d' would bias it by its lag-dependent normaliser).
    left, mid, right = diff[..., lo - 1 : hi], diff[..., lo : hi + 1], diff[..., lo + 1 : hi + 2]
    curvature = left - 2.0 * mid + right
    safe = xp.where(curvature > 0, curvature, 1.0)
    shift = xp.where(curvature > 0, xp.clip(0.5 * (left - right) / safe, -1.0, 1.0), 0.0)
    period = xp.arange(lo, hi + 1).astype(y.dtype) + shift
    return sample_rate / period, prob


def _emissions(cand_hz: Any, cand_prob: Any) -> tuple[Any, Any]:
    """Per-frame state probabilities [batch, n_frames, 2, n_bins] (unvoiced, voiced) and p(voiced).

    Voiced bin k gets the probability of the candidates that fall into it; each unvoiced state
    gets an equal share of the rest (pYIN).
    """
    xp = array_namespace(cand_hz)
    batch, n_frames, n_lags = cand_prob.shape
    rows = xp.arange(batch * n_frames).reshape(batch, n_frames, 1) * _N_BINS
    ids = (rows + _hz_to_bin(xp, cand_hz)).ravel()
    voiced = xp.bincount(
        ids, weights=cand_prob.ravel().astype(xp.float64), minlength=batch * n_frames * _N_BINS
    )
    voiced = voiced.reshape(batch, n_frames, _N_BINS).astype(cand_prob.dtype)
    p_voiced = xp.clip(xp.sum(voiced, axis=-1), 0.0, 1.0)
    unvoiced = xp.broadcast_to(((1.0 - p_voiced) / _N_BINS)[..., None], voiced.shape)
    return xp.stack([unvoiced, voiced], axis=2), p_voiced


# ------------------------------------------------------------------------------------------------
# Hidden Markov model over (voicing, pitch bin): banded transitions with a floor


def _pyin_transition(hop_s: float) -> np.ndarray:
    """pYIN pitch-transition weight per bin distance d: a triangle as wide as the fastest glide
    in one hop, floored at ``_JUMP_PROB / n_bins`` (the price of a jump anywhere), [n_bins]."""
    half = max(1, int(round(_MAX_GLIDE_OCTAVES_PER_S * 1200.0 * hop_s / _CENTS_PER_BIN)))
    tri = (half + 1.0 - np.arange(_N_BINS)) * (1.0 - _JUMP_PROB) / (half + 1.0) ** 2
    return np.maximum(tri, _JUMP_PROB / _N_BINS)


def _crepe_transition() -> np.ndarray:
    """ddsp's CREPE HMM transition weight per bin distance d: max(12 - d, 1e-5), [n_bins]."""
    return np.maximum(12.0 - np.arange(_N_BINS), 1e-5)


# ------------------------------------------------------------------------------------------------
# Decoding: pYIN path and CREPE activations


def _refine(cand_hz: Any, cand_prob: Any, path_bin: Any) -> Any:
    """f0 [Hz] of each frame: the most probable candidate within one bin of the decoded bin
    (sub-cent precision on clean tones), or the bin centre where there is none."""
    xp = array_namespace(cand_hz)
    near = (cand_prob > 0) & (xp.abs(_hz_to_bin(xp, cand_hz) - path_bin[..., None]) <= 1)
    best = xp.argmax(xp.where(near, cand_prob, -1.0), axis=-1)[..., None]
    exact = xp.take_along_axis(cand_hz, best, axis=-1)[..., 0]
    centre = _cents_to_hz(_bin_cents(xp, cand_hz.dtype)[path_bin])
    return xp.where(xp.any(near, axis=-1), exact, centre)


def _pyin(frames: Any, sample_rate: int, hop_size: int, viterbi: bool) -> tuple[Any, Any]:
    """(f0_hz, confidence) [batch, n_frames] of framed audio by probabilistic YIN."""
    xp = array_namespace(frames)
    cand_hz, cand_prob = _yin_candidates(frames, sample_rate)
    em, p_voiced = _emissions(cand_hz, cand_prob)
    lowest_hz = _cents_to_hz(_CENTS_OFFSET)
    if not viterbi:
        best = xp.argmax(cand_prob, axis=-1)[..., None]
        hz = xp.take_along_axis(cand_hz, best, axis=-1)[..., 0]
        return xp.where(p_voiced > 0, hz, lowest_hz), p_voiced
    weights = _pyin_transition(hop_size / sample_rate)
    voicing = np.array([[1.0 - _SWITCH_PROB, _SWITCH_PROB], [_SWITCH_PROB, 1.0 - _SWITCH_PROB]])
    em = xp.maximum(em, _EMISSION_FLOOR)
    # Rows are not renormalised at the grid edges: an edge-favouring bias would pull the pitch of
    # long unvoiced stretches to 31.7 Hz or 2 kHz.
    path_v, path_k = banded_viterbi(xp.log(em), weights, np.zeros(_N_BINS), np.log(voicing))
    centre = _cents_to_hz(_bin_cents(xp, em.dtype)[path_k])
    f0_hz = xp.where(path_v == 1, _refine(cand_hz, cand_prob, path_k), centre)
    return f0_hz, voicing_posterior(em, weights, voicing)


def normalize_frames(frames: Any) -> Any:
    """ddsp's ``PretrainedCREPE.normalize_frames``: zero mean, unit std per frame.

    Args:
        frames: Audio frames [..., frame_size].

    Returns:
        Normalised frames [..., frame_size]; a constant frame becomes zeros (its std 0 is
        replaced by 1e-8, as in ddsp).
    """
    frames = to_float(stop_gradient(frames), "frames", "normalize_frames")
    xp = array_namespace(frames)
    centred = frames - xp.mean(frames, axis=-1, keepdims=True)
    std = xp.std(centred, axis=-1, keepdims=True)
    return centred / xp.where(std == 0, 1e-8, std)


def _check_activations(acts: Any, fn: str) -> Any:
    acts = to_float(stop_gradient(acts), "acts", fn)
    if acts.ndim < 1 or acts.shape[-1] != _N_BINS:
        raise ValueError(
            f"{fn}: acts must have {_N_BINS} bins on the last axis, got shape {tuple(acts.shape)}"
        )
    if not bool(array_namespace(acts).all(acts >= 0)):  # NaN fails this too
        raise ValueError(f"{fn}: acts must be non-negative probabilities (no NaN)")
    return acts


def activations_to_f0_and_confidence(acts: Any, centers: Any = None) -> tuple[Any, Any]:
    """ddsp's ``PretrainedCREPE.activations_to_f0_and_confidence``.

    The cents of the 10 bins ``center - 4 .. center + 5`` (indices clamped to [0, 359], so edge
    bins repeat) are averaged with the activations as weights; ``f0 = 10 * 2^(cents / 1200)``.
    Where those 10 weights are all zero (ddsp divides 0 by 0 and returns NaN) the f0 is the
    frequency of the centre bin itself.

    Args:
        acts: CREPE activations [..., 360] (bin k at 1997.38 + 20 k cents).
        centers: Integer centre bin per frame [...], e.g. from ``crepe_viterbi_decode``; None
            takes the argmax of ``acts``.

    Returns:
        (f0_hz, confidence), each [...]: confidence is the largest activation.
    """
    acts = _check_activations(acts, "activations_to_f0_and_confidence")
    xp = array_namespace(acts)
    confidence = xp.max(acts, axis=-1)
    centers = xp.argmax(acts, axis=-1) if centers is None else xp.asarray(centers)
    if centers.dtype.kind not in "iu" or (
        centers.size and not bool(xp.all((centers >= 0) & (centers < _N_BINS)))
    ):
        raise ValueError(
            f"activations_to_f0_and_confidence: centers must be integer bins in [0, {_N_BINS}), "
            f"got dtype {centers.dtype}"
        )
    if centers.shape != acts.shape[:-1]:
        raise ValueError(
            f"activations_to_f0_and_confidence: centers shape "
            f"{tuple(centers.shape)} must be acts shape without the bins, "
            f"{tuple(acts.shape[:-1])}"
        )
    idx = xp.clip(centers.astype(xp.int64)[..., None] + xp.arange(-4, 6), 0, _N_BINS - 1)
    weights = xp.take_along_axis(acts, idx, axis=-1)
    cents = _bin_cents(xp, acts.dtype)[idx]
    total = xp.sum(weights, axis=-1)
    weighted = xp.sum(weights * cents, axis=-1) / xp.where(total > 0, total, 1.0)
    f0_cents = xp.where(total > 0, weighted, cents[..., 4])  # cents[..., 4]: the centre bin
    return _cents_to_hz(f0_cents), confidence


def crepe_viterbi_decode(acts: Any) -> Any:
    """ddsp's ``PretrainedCREPE.viterbi_decode``: the posterior mode of CREPE's pitch HMM.

    Uniform initial distribution; transitions ``max(12 - |i - j|, 1e-5)`` normalised per row;
    emission rows ``0.1 I + 0.9 / 360`` scored as TFP's Multinomial(total_count=1) scores the
    activations, i.e. ``log p(acts | j) = sum_k acts_k log E[j, k]`` up to a constant.

    Args:
        acts: CREPE activations [n_frames, 360] or [batch, n_frames, 360].

    Returns:
        Integer centre bins [n_frames] or [batch, n_frames].
    """
    acts = _check_activations(acts, "crepe_viterbi_decode")
    xp = array_namespace(acts)
    if acts.ndim not in (2, 3):
        raise ValueError(
            f"crepe_viterbi_decode: acts must be [n_frames, 360] or [batch, "
            f"n_frames, 360], got shape {tuple(acts.shape)}"
        )
    batched = acts if acts.ndim == 3 else acts[None]
    log_emission = xp.asarray(np.log(0.1 * np.eye(_N_BINS) + 0.9 / _N_BINS), dtype=acts.dtype)
    log_em = xp.matmul(batched, log_emission)[:, :, None, :]  # E is symmetric
    weights = _crepe_transition()
    dist = np.abs(np.arange(_N_BINS)[:, None] - np.arange(_N_BINS)[None, :])
    log_z = np.log(np.sum(weights[dist], axis=1))
    _, path = banded_viterbi(log_em, weights, log_z, np.zeros((1, 1)))
    return path if acts.ndim == 3 else path[0]


def _to_crepe_rate(frames: Any) -> Any:
    """Frames of any length resampled to CREPE's 1024 samples (band-limited, per frame)."""
    n = frames.shape[-1]
    if n == CREPE_FRAME_SIZE:
        return frames
    xp = array_namespace(frames)
    fft = fft_module(xp)
    spec = fft.rfft(frames, axis=-1)
    keep = CREPE_FRAME_SIZE // 2 + 1
    if spec.shape[-1] >= keep:
        spec = spec[..., :keep]
    else:
        spec = xp.concatenate([spec, xp.zeros_like(spec[..., : keep - spec.shape[-1]])], -1)
    return fft.irfft(spec, n=CREPE_FRAME_SIZE, axis=-1) * (CREPE_FRAME_SIZE / n)


def _model_f0(frames: Any, model: Callable, viterbi: bool) -> tuple[Any, Any]:
    xp = array_namespace(frames)
    batch, n_frames = frames.shape[:2]
    flat = normalize_frames(_to_crepe_rate(frames)).reshape(-1, CREPE_FRAME_SIZE)
    acts = xp.asarray(model(flat.astype(xp.float32)))
    if acts.shape != (batch * n_frames, _N_BINS):
        raise ValueError(
            f"compute_f0: model must map frames [{batch * n_frames}, 1024] to "
            f"activations [{batch * n_frames}, {_N_BINS}], got {tuple(acts.shape)}"
        )
    acts = acts.reshape(batch, n_frames, _N_BINS).astype(xp.float32)
    centers = crepe_viterbi_decode(acts) if viterbi else None
    f0_hz, confidence = activations_to_f0_and_confidence(acts, centers)
    return f0_hz, xp.where(xp.isnan(confidence), 0.0, confidence)


def _check_f0_args(audio: Any, sample_rate: Any, frame_rate: Any, padding: Any, viterbi) -> int:
    """Validate compute_f0's arguments; returns the hop size in samples."""
    where = "compute_f0"
    check_padding(padding, where)
    if not isinstance(viterbi, (bool, np.bool_)):
        raise TypeError(
            f"{where}: viterbi must be a bool, got {viterbi!r} (ddsp's order is compute_f0(audio, "
            "frame_rate, viterbi, padding); pass sample_rate= by keyword)"
        )
    if audio.ndim not in (1, 2) or audio.shape[-1] == 0:
        raise ValueError(
            f"{where}: audio must be [n_samples] or [batch, n_samples] with "
            f"n_samples > 0, got shape {tuple(audio.shape)}"
        )
    positive_number(sample_rate, "sample_rate", where)
    hop = hop_from_rates(sample_rate, frame_rate, where)
    xp = array_namespace(audio)
    if not bool(xp.all(xp.isfinite(audio))):
        raise ValueError(f"{where}: audio contains NaN or infinite samples")
    return hop


def compute_f0(
    audio: Any,
    frame_rate: float,
    viterbi: bool = True,
    padding: str = "center",
    *,
    sample_rate: int = CREPE_SAMPLE_RATE,
    model: Callable[[Any], Any] | None = None,
) -> tuple[Any, Any]:
    """Fundamental frequency and voicing confidence per frame, in ddsp's ``compute_f0`` layout.

    Frames are CREPE's: 1024 samples at 16 kHz (64 ms, scaled to ``sample_rate`` and rounded to
    an even size), hop ``sample_rate // frame_rate``, audio padded by ``padding`` as ddsp's
    ``spectral_ops.pad``; so ``n_frames = get_framed_lengths(n_samples, frame, hop, padding)[0]``
    and frame t is centred on sample ``t * hop`` with 'center' padding.

    Without ``model`` the estimator is probabilistic YIN (pYIN): a cumulative mean normalised
    difference function per frame (all frames at once through FFT autocorrelation), every trough
    a candidate with a probability from a Beta(2, 34/3) prior over YIN thresholds, parabolic
    interpolation of the period, and an HMM over 2 x 360 states (unvoiced / voiced x CREPE's
    20-cent grid, 31.7 - 2005.5 Hz) with glide-limited pitch transitions, a small octave-jump
    floor and a 1 % voicing switch per frame.

    With ``model`` (any CREPE-style network, e.g. CREPE 'full' with downloaded weights), frames
    are resampled to 1024 samples, normalised (``normalize_frames``), mapped to 360-bin
    activations and decoded as ddsp's ``PretrainedCREPE`` does (``crepe_viterbi_decode`` when
    ``viterbi``, then ``activations_to_f0_and_confidence``); NaN confidence becomes 0.

    Differences from ddsp 3.7.0: the positional arguments are ddsp's; ``sample_rate`` (ddsp:
    16 kHz only) and ``model`` are extra keyword-only arguments; batched audio is accepted; the
    default estimator is pYIN, not CREPE. Not differentiable: Tensors are read as constants.

    Args:
        audio: Audio [n_samples] or [batch, n_samples].
        frame_rate: Frames per second of the output (hop = ``sample_rate // frame_rate``).
        viterbi: pYIN: decode the HMM's most likely path (f0) and give its posterior voicing
            probability by forward-backward (confidence); False decodes each frame alone (f0 of
            the most probable candidate, confidence = that frame's voicing probability). With
            ``model``: CREPE's Viterbi centres instead of the argmax.
        padding: 'center' (default), 'same' or 'valid', as ``spectral_ops.pad``.
        sample_rate: Samples per second of ``audio`` [Hz] (keyword only; ddsp's 16 kHz default).
        model: None, or a callable mapping normalised frames [n, 1024] at 16 kHz (float32, on
            the device of ``audio``) to activations [n, 360].

    Returns:
        (f0_hz, f0_confidence), float32, each [n_frames] for 1-D audio or [batch, n_frames].
        f0 [Hz] is defined on every frame, as CREPE's is, never 0 or NaN: on frames decoded as
        unvoiced it is the pitch the HMM carries through the unvoiced state (the neighbouring
        voiced pitch), and 31.7 Hz (the lowest bin) where nothing in the signal is voiced.
        Confidence in [0, 1] is the probability that the frame is voiced: near 0 for silence
        and noise, near 1 for clean periodic sound.

    Raises:
        TypeError: complex or non-numeric audio; ``viterbi`` not a bool (catches calls in the
            old ``compute_f0(audio, sample_rate, frame_rate)`` order).
        ValueError: unknown ``padding``; audio not 1-D/2-D, empty, with NaN or inf, or shorter
            than one frame with 'valid' padding; ``sample_rate // frame_rate < 1``; hop longer
            than the frame with 'same'/'center'; activations of a wrong shape from ``model``.
    """
    audio = to_float(stop_gradient(audio), "audio", "compute_f0")
    hop = _check_f0_args(audio, sample_rate, frame_rate, padding, viterbi)
    xp = array_namespace(audio)
    frame_size = _frame_size(int(sample_rate))
    batched = audio if audio.ndim == 2 else audio[None]
    if padding == "valid" and batched.shape[-1] < frame_size:
        raise ValueError(
            f"compute_f0: padding='valid' needs at least one frame of {frame_size} "
            f"samples, got {batched.shape[-1]}"
        )

    n_frames = get_framed_lengths(batched.shape[-1], frame_size, hop, padding)[0]
    frames = _frames(pad(batched, frame_size, hop, padding), frame_size, hop, n_frames)
    if model is None:
        f0_hz, confidence = _pyin(frames, int(sample_rate), hop, viterbi)
    else:
        f0_hz, confidence = _model_f0(frames, model, viterbi)
    f0_hz, confidence = f0_hz.astype(xp.float32), confidence.astype(xp.float32)
    return (f0_hz, confidence) if audio.ndim == 2 else (f0_hz[0], confidence[0])
