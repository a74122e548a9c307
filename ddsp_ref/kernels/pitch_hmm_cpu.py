"""The pitch-HMM decoders as numba CPU kernels (batch rows in parallel, frames in a loop).

Same arguments, results and tie rules as ``pitch_hmm_reference.py`` (ties go to the lowest
index; the same additions in the same dtype), without the Python loop over frames that
dominates the reference on the CPU: pYIN on 20 s of audio spends ~1.2 s in the reference
decoders and ~0.03 s here. Imported by the launcher on first use only (it imports numba).
"""

from __future__ import annotations

import numba
import numpy as np

from .pitch_hmm_reference import band_of

__all__ = ["banded_viterbi", "voicing_posterior"]


@numba.njit(cache=True, nogil=True)
def _viterbi_row(
    log_em, log_band, log_floor, log_z, log_vt, ptr_v, ptr_bin, path_v, path_k
):  # pragma: no cover - compiled
    n_frames, n_v, n_s = log_em.shape
    half = (log_band.shape[0] - 1) // 2
    delta = log_em[0].copy()
    src = np.empty(n_s, dtype=log_em.dtype)
    best = np.empty((n_v, n_s), dtype=log_em.dtype)
    from_bin = np.empty((n_v, n_s), dtype=np.int32)
    for t in range(1, n_frames):
        for v in range(n_v):
            far_k = 0
            for s in range(n_s):
                src[s] = delta[v, s] - log_z[s]
                if src[s] > src[far_k]:
                    far_k = s
            far_best = src[far_k] + log_floor
            for s in range(n_s):
                band_best = -np.inf
                band_k = -1
                for j in range(max(s - half, 0), min(s + half + 1, n_s)):
                    score = src[j] + log_band[j - s + half]
                    if score > band_best:
                        band_best, band_k = score, j
                if band_k >= 0 and band_best >= far_best:
                    best[v, s], from_bin[v, s] = band_best, band_k
                else:
                    best[v, s], from_bin[v, s] = far_best, far_k
        top = -np.inf
        for to in range(n_v):
            for s in range(n_s):
                pick = 0
                value = best[0, s] + log_vt[0, to]
                for fr in range(1, n_v):
                    cand = best[fr, s] + log_vt[fr, to]
                    if cand > value:
                        value, pick = cand, fr
                delta[to, s] = value + log_em[t, to, s]
                ptr_v[t, to, s] = pick
                ptr_bin[t, to, s] = from_bin[pick, s]
                if delta[to, s] > top:
                    top = delta[to, s]
        for to in range(n_v):
            for s in range(n_s):
                delta[to, s] -= top  # float32 stays precise
    v, k = 0, 0
    for to in range(n_v):
        for s in range(n_s):
            if delta[to, s] > delta[v, k]:
                v, k = to, s
    for t in range(n_frames - 1, -1, -1):
        path_v[t], path_k[t] = v, k
        v, k = ptr_v[t, v, k], ptr_bin[t, v, k]


@numba.njit(parallel=True, cache=True, nogil=True)
def _viterbi(
    log_em, log_band, log_floor, log_z, log_vt, path_v, path_k
):  # pragma: no cover - compiled
    batch, n_frames, n_v, n_s = log_em.shape
    for b in numba.prange(batch):
        ptr_v = np.zeros((n_frames, n_v, n_s), dtype=np.int32)
        ptr_bin = np.zeros((n_frames, n_v, n_s), dtype=np.int32)
        _viterbi_row(
            log_em[b], log_band, log_floor, log_z, log_vt, ptr_v, ptr_bin, path_v[b], path_k[b]
        )


def banded_viterbi(
    log_em: np.ndarray, weights: np.ndarray, log_z: np.ndarray, log_voicing: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """See ``pitch_hmm_reference.banded_viterbi``: (voicing, bin) int32 [batch, n_frames]."""
    log_em = np.ascontiguousarray(log_em)
    dtype = log_em.dtype
    half, band, floor = band_of(weights)
    batch, n_frames = log_em.shape[:2]
    path_v = np.zeros((batch, n_frames), dtype=np.int32)
    path_k = np.zeros((batch, n_frames), dtype=np.int32)
    if n_frames:
        _viterbi(log_em, np.log(band).astype(dtype), dtype.type(np.log(floor)),
                 np.asarray(log_z, dtype=dtype), np.asarray(log_voicing, dtype=dtype),
                 path_v, path_k)  # fmt: skip
    return path_v, path_k


@numba.njit(cache=True, nogil=True)
def _step(p, band, floor, vt, out, moved):  # pragma: no cover - compiled
    """One transition (pitch, then voicing), renormalised: out = normalise(vt @ moved(p))."""
    n_v, n_s = p.shape
    half = (band.shape[0] - 1) // 2
    for v in range(n_v):
        total = 0.0
        for s in range(n_s):
            total += p[v, s]
        for s in range(n_s):
            acc = 0.0
            for j in range(max(s - half, 0), min(s + half + 1, n_s)):
                acc += p[v, j] * band[j - s + half]
            moved[v, s] = acc + floor * total
    norm = 0.0
    for to in range(n_v):
        for s in range(n_s):
            acc = 0.0
            for fr in range(n_v):
                acc += vt[to, fr] * moved[fr, s]
            out[to, s] = acc
            norm += acc
    norm = max(norm, 1e-300)
    for to in range(n_v):
        for s in range(n_s):
            out[to, s] /= norm


@numba.njit(parallel=True, cache=True, nogil=True)
def _forward_backward(em, band, floor, vt, out):  # pragma: no cover - compiled
    batch, n_frames, n_v, n_s = em.shape
    vt_back = vt.T.copy()  # the backward pass runs the transposed voicing matrix
    for b in numba.prange(batch):
        alpha = np.empty((n_frames, n_v, n_s))
        moved = np.empty((n_v, n_s))
        prod = np.empty((n_v, n_s))
        norm = max(em[b, 0].sum(), 1e-300)
        for v in range(n_v):
            for s in range(n_s):
                alpha[0, v, s] = em[b, 0, v, s] / norm
        for t in range(1, n_frames):
            _step(alpha[t - 1], band, floor, vt, alpha[t], moved)
            norm = 0.0
            for v in range(n_v):
                for s in range(n_s):
                    alpha[t, v, s] *= em[b, t, v, s]
                    norm += alpha[t, v, s]
            norm = max(norm, 1e-300)
            for v in range(n_v):
                for s in range(n_s):
                    alpha[t, v, s] /= norm
        beta = np.ones((n_v, n_s))
        for t in range(n_frames - 1, -1, -1):
            voiced, total = 0.0, 0.0
            for v in range(n_v):
                for s in range(n_s):
                    post = alpha[t, v, s] * beta[v, s]
                    total += post
                    if v == 1:
                        voiced += post
            out[b, t] = voiced / max(total, 1e-300)
            if t:
                for v in range(n_v):
                    for s in range(n_s):
                        prod[v, s] = em[b, t, v, s] * beta[v, s]
                _step(prod, band, floor, vt_back, beta, moved)


def voicing_posterior(em: np.ndarray, weights: np.ndarray, voicing: np.ndarray) -> np.ndarray:
    """See ``pitch_hmm_reference.voicing_posterior``: p(voiced | all frames) [batch, n_frames]."""
    em = np.ascontiguousarray(em, dtype=np.float64)  # float64, as the reference
    half, band, floor = band_of(weights)
    out = np.empty(em.shape[:2], dtype=np.float64)
    if em.shape[1]:
        vt = np.ascontiguousarray(np.asarray(voicing, dtype=np.float64).T)  # [to, from]
        _forward_backward(em, band - floor, floor, vt, out)
    return out
