"""Pitch-HMM decoders (Viterbi, voicing posterior) as array code: the reference of the family.

States are (voicing v, pitch bin k); moving from bin i to bin j has weight w(|i - j|) / z_i, with w
above a constant floor only within a band, and voicing changes by a small matrix. Both decoders
loop over frames in Python and vectorise over batch, voicing and bins (numpy or cupy): this is the
executable spec, the cupy path (a GPU runs the vectorised steps) and the fallback without numba.
``pitch_hmm_cpu.py`` holds the numba kernels; ``pitch_hmm.py`` selects.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..backend import array_namespace, as_strided

__all__ = ["banded_viterbi", "voicing_posterior", "band_of"]


def band_of(weights: np.ndarray) -> tuple[int, np.ndarray, float]:
    """(half width, weights w(|d|) for d = -half..half [2 half + 1], floor w(far)) of a
    transition-weight table [n_bins] whose last entry is the floor."""
    half = int(np.max(np.nonzero(weights > weights[-1])[0], initial=0))
    return half, weights[np.abs(np.arange(-half, half + 1))], float(weights[-1])


def banded_viterbi(
    log_em: Any, weights: np.ndarray, log_z: np.ndarray, log_voicing: np.ndarray
) -> Any:
    """Most likely state path of an HMM whose pitch transitions are w(|i - j|) / z_i.

    The max over source bins is split in two: within the band (w above its floor) through a
    strided window per target bin, and everywhere else through one global max plus log(floor), so
    each frame costs O(n_bins * band) on any backend. Frames loop in Python; batch, voicing and
    bins are vectorised.

    Args:
        log_em: Log emission probabilities [batch, n_frames, n_voicing, n_bins].
        weights: Unnormalised transition weight per pitch distance, [n_bins] (host).
        log_z: Log row normaliser per source bin, [n_bins] (host).
        log_voicing: Log voicing transition matrix [n_voicing (from), n_voicing (to)] (host).

    Returns:
        (voicing, bin) of the best path, int arrays [batch, n_frames]. Ties go to the lowest
        index, as an argmax does.
    """
    xp = array_namespace(log_em)
    batch, n_frames, n_v, n_s = log_em.shape
    dtype = log_em.dtype
    half, band, floor = band_of(weights)
    log_band = xp.asarray(np.log(band), dtype=dtype)
    log_floor = float(np.log(floor))
    log_z = xp.asarray(log_z, dtype=dtype)
    log_vt = xp.asarray(log_voicing, dtype=dtype)[None, :, :, None]
    padded = xp.full((batch, n_v, n_s + 2 * half), -xp.inf, dtype=dtype)
    st = padded.strides
    windows = as_strided(xp, padded, (batch, n_v, n_s, 2 * half + 1), st[:2] + (st[2], st[2]))
    targets = xp.arange(n_s)
    ptr_bin = xp.zeros((n_frames, batch, n_v, n_s), dtype=xp.int16)
    ptr_v = xp.zeros((n_frames, batch, n_v, n_s), dtype=xp.int8)
    delta = log_em[:, 0]
    for t in range(1, n_frames):
        src = delta - log_z
        padded[..., half : half + n_s] = src
        scores = windows + log_band
        offset = xp.argmax(scores, axis=-1)
        band_best = xp.max(scores, axis=-1)
        far_src = xp.argmax(src, axis=-1)[..., None]
        far_best = xp.max(src, axis=-1, keepdims=True) + log_floor
        use_band = band_best >= far_best
        best = xp.maximum(band_best, far_best)
        from_bin = xp.where(use_band, targets + offset - half, far_src)
        cand = best[:, :, None, :] + log_vt  # [batch, from_v, to_v, bins]
        from_v = xp.argmax(cand, axis=1)
        delta = xp.max(cand, axis=1) + log_em[:, t]
        delta = delta - xp.max(delta, axis=(1, 2), keepdims=True)  # float32 stays precise
        ptr_v[t] = from_v
        ptr_bin[t] = from_bin if n_v == 1 else xp.take_along_axis(from_bin, from_v, axis=1)
    flat = xp.argmax(delta.reshape(batch, -1), axis=-1)
    v, k = flat // n_s, flat % n_s
    path_v = xp.zeros((batch, n_frames), dtype=xp.int32)
    path_k = xp.zeros((batch, n_frames), dtype=xp.int32)
    rows = xp.arange(batch)
    for t in range(n_frames - 1, -1, -1):
        path_v[:, t], path_k[:, t] = v, k
        v, k = ptr_v[t, rows, v, k].astype(xp.int32), ptr_bin[t, rows, v, k].astype(xp.int32)
    return path_v, path_k


def voicing_posterior(em: Any, weights: np.ndarray, voicing: np.ndarray) -> Any:
    """p(voiced | all frames) by the scaled forward-backward algorithm, [batch, n_frames].

    Pitch transitions are the symmetric weights w(|i - j|) (no row normalisation, as in the
    Viterbi of pYIN here), applied as floor * sum + a banded correlation: O(n_bins * band).

    Args:
        em: Emission probabilities [batch, n_frames, 2, n_bins], voicing state 1 = voiced.
        weights: Transition weight per pitch distance, [n_bins] (host), floor at the end.
        voicing: Voicing transition matrix [2 (from), 2 (to)] (host).
    """
    xp = array_namespace(em)
    # float64: float32 products of small probabilities turn subnormal, which is slow on CPUs.
    em = em.astype(xp.float64)
    batch, n_frames, n_v, n_s = em.shape
    half, band, floor = band_of(weights)
    band = xp.asarray(band - floor, dtype=xp.float64)
    padded = xp.zeros((batch, n_v, n_s + 2 * half), dtype=xp.float64)
    st = padded.strides
    windows = as_strided(xp, padded, (batch, n_v, n_s, 2 * half + 1), st[:2] + (st[2], st[2]))
    vt = xp.asarray(voicing.T, dtype=xp.float64)  # [to, from]

    def step(p):  # one transition (pitch, then voicing), renormalised to sum 1 per example
        padded[..., half : half + n_s] = p
        moved = xp.matmul(windows, band) + floor * xp.sum(p, axis=-1, keepdims=True)
        return normalise(xp.matmul(vt, moved))

    def normalise(p):
        return p / xp.maximum(xp.sum(p, axis=(1, 2), keepdims=True), 1e-300)

    alpha = xp.empty_like(em)
    alpha[:, 0] = normalise(em[:, 0])
    for t in range(1, n_frames):
        alpha[:, t] = normalise(step(alpha[:, t - 1]) * em[:, t])
    out = xp.empty((batch, n_frames), dtype=xp.float64)
    beta = xp.ones_like(em[:, 0])
    vt = vt.T  # the backward pass runs the transposed voicing matrix (pitch part is symmetric)
    for t in range(n_frames - 1, -1, -1):
        post = alpha[:, t] * beta
        out[:, t] = xp.sum(post[:, 1], axis=-1) / xp.maximum(xp.sum(post, axis=(1, 2)), 1e-300)
        if t:
            beta = step(em[:, t] * beta)
    return out
