"""GRU and LSTM recurrences as numba CPU kernels: batch rows split over threads, no per-step sync.

Imported by the launcher on first use only (it imports numba). Batch rows are independent, so
each thread runs the whole recurrence for its slice of rows (``numba.prange`` over slices) and
threads never wait for each other inside the sequence. The per-step product ``h @ U`` is a loop
written here rather than BLAS: numba's ``np.dot`` calls a multi-threaded BLAS whose threads
synchronise on every small product (batch 8, H 512: 0.6 ms per step with one BLAS thread, 7-30
ms with two on a loaded 2-core machine), and it cannot run inside ``prange``. Same layouts and
results (up to summation order) as ``rnn_reference.py``.
"""

from __future__ import annotations

import math

import numba
import numpy as np

__all__ = ["gru_forward", "gru_backward", "lstm_forward", "lstm_backward"]


@numba.njit(inline="always")
def _sigmoid(v):  # pragma: no cover - compiled
    e = math.exp(-abs(v))  # the reference's formula: no overflow, exact tails
    return 1 / (1 + e) if v >= 0 else e / (1 + e)


@numba.njit(nogil=True, cache=True)
def _rows_matmul(a, b, out, lo, hi):  # pragma: no cover - compiled
    """``out[:hi-lo] = a[lo:hi] @ b``: each row of ``b`` is read once for all rows of ``a``
    (``out`` stays in L1), and the inner loop over contiguous columns vectorises."""
    width = b.shape[1]
    for r in range(hi - lo):
        for j in range(width):
            out[r, j] = 0
    for k in range(b.shape[0]):
        for r in range(hi - lo):
            a_rk = a[lo + r, k]
            for j in range(width):
                out[r, j] += a_rk * b[k, j]


@numba.njit(nogil=True, cache=True)
def _slice(n_rows, n_slices, s):  # pragma: no cover - compiled
    """Rows ``[lo, hi)`` of slice ``s`` of ``n_rows`` split into ``n_slices`` near-equal parts."""
    return s * n_rows // n_slices, (s + 1) * n_rows // n_slices


@numba.njit(parallel=True, nogil=True, cache=True)
def _gru_forward_kernel(xg, u, bias, h, seq, saved, save, n_slices):  # pragma: no cover
    batch, n_steps, width = xg.shape
    hidden = width // 3
    for s in numba.prange(n_slices):
        lo, hi = _slice(batch, n_slices, s)
        gh = np.empty((hi - lo, width), dtype=xg.dtype)
        for t in range(n_steps):
            _rows_matmul(h, u, gh, lo, hi)
            for b in range(lo, hi):
                for j in range(hidden):
                    h_n = gh[b - lo, 2 * hidden + j] + bias[2 * hidden + j]
                    z = _sigmoid(xg[b, t, j] + gh[b - lo, j] + bias[j])
                    r = _sigmoid(xg[b, t, hidden + j] + gh[b - lo, hidden + j] + bias[hidden + j])
                    n = math.tanh(xg[b, t, 2 * hidden + j] + r * h_n)
                    h[b, j] = z * h[b, j] + (1 - z) * n  # the product above already read h
                    seq[b, t, j] = h[b, j]
                    if save:
                        saved[b, t, j] = z
                        saved[b, t, hidden + j] = r
                        saved[b, t, 2 * hidden + j] = n
                        saved[b, t, 3 * hidden + j] = h_n


@numba.njit(parallel=True, nogil=True, cache=True)
def _gru_backward_kernel(ut, h0, seq, saved, dseq, dh, dxg, dgh, n_slices):  # pragma: no cover
    batch, n_steps, hidden = seq.shape
    for s in numba.prange(n_slices):
        lo, hi = _slice(batch, n_slices, s)
        carried = np.empty((hi - lo, hidden), dtype=seq.dtype)
        for t in range(n_steps - 1, -1, -1):
            for b in range(lo, hi):
                for j in range(hidden):
                    z = saved[b, t, j]
                    r = saved[b, t, hidden + j]
                    n = saved[b, t, 2 * hidden + j]
                    h_prev = seq[b, t - 1, j] if t else h0[b, j]
                    g = dh[b, j] + dseq[b, t, j]
                    dn = g * (1 - z) * (1 - n * n)
                    dz = g * (h_prev - n) * z * (1 - z)
                    dr = dn * saved[b, t, 3 * hidden + j] * r * (1 - r)
                    dxg[b, t, j] = dgh[b, t, j] = dz
                    dxg[b, t, hidden + j] = dgh[b, t, hidden + j] = dr
                    dxg[b, t, 2 * hidden + j] = dn
                    dgh[b, t, 2 * hidden + j] = dn * r
                    dh[b, j] = g * z
            _rows_matmul(dgh[:, t], ut, carried, lo, hi)
            for b in range(lo, hi):
                for j in range(hidden):
                    dh[b, j] += carried[b - lo, j]


@numba.njit(parallel=True, nogil=True, cache=True)
def _lstm_forward_kernel(xg, u, h, c, seq, cells, saved, save, n_slices):  # pragma: no cover
    batch, n_steps, width = xg.shape
    hidden = width // 4
    for s in numba.prange(n_slices):
        lo, hi = _slice(batch, n_slices, s)
        gh = np.empty((hi - lo, width), dtype=xg.dtype)
        for t in range(n_steps):
            _rows_matmul(h, u, gh, lo, hi)
            for b in range(lo, hi):
                for j in range(hidden):
                    i = _sigmoid(xg[b, t, j] + gh[b - lo, j])
                    f = _sigmoid(xg[b, t, hidden + j] + gh[b - lo, hidden + j])
                    g = math.tanh(xg[b, t, 2 * hidden + j] + gh[b - lo, 2 * hidden + j])
                    o = _sigmoid(xg[b, t, 3 * hidden + j] + gh[b - lo, 3 * hidden + j])
                    c[b, j] = f * c[b, j] + i * g
                    h[b, j] = o * math.tanh(c[b, j])
                    seq[b, t, j] = h[b, j]
                    cells[b, t, j] = c[b, j]
                    if save:
                        saved[b, t, j] = i
                        saved[b, t, hidden + j] = f
                        saved[b, t, 2 * hidden + j] = g
                        saved[b, t, 3 * hidden + j] = o


@numba.njit(parallel=True, nogil=True, cache=True)
def _lstm_backward_kernel(ut, c0, cells, saved, dseq, dh, dc, dgates, n_slices):  # pragma: no cover
    batch, n_steps, hidden = cells.shape
    for s in numba.prange(n_slices):
        lo, hi = _slice(batch, n_slices, s)
        carried = np.empty((hi - lo, hidden), dtype=cells.dtype)
        for t in range(n_steps - 1, -1, -1):
            for b in range(lo, hi):
                for j in range(hidden):
                    i = saved[b, t, j]
                    f = saved[b, t, hidden + j]
                    g = saved[b, t, 2 * hidden + j]
                    o = saved[b, t, 3 * hidden + j]
                    c_prev = cells[b, t - 1, j] if t else c0[b, j]
                    tc = math.tanh(cells[b, t, j])
                    gh = dh[b, j] + dseq[b, t, j]
                    gc = dc[b, j] + gh * o * (1 - tc * tc)
                    dgates[b, t, j] = gc * g * i * (1 - i)
                    dgates[b, t, hidden + j] = gc * c_prev * f * (1 - f)
                    dgates[b, t, 2 * hidden + j] = gc * i * (1 - g * g)
                    dgates[b, t, 3 * hidden + j] = gh * tc * o * (1 - o)
                    dc[b, j] = gc * f
            _rows_matmul(dgates[:, t], ut, carried, lo, hi)
            dh[lo:hi] = carried


def _n_slices(batch: int) -> int:
    return max(1, min(batch, numba.get_num_threads()))


def gru_forward(xg: np.ndarray, u: np.ndarray, recurrent_bias, h0, save: bool) -> tuple:
    """See ``rnn_reference.gru_forward``; C-contiguous arrays of one float dtype."""
    batch, n_steps, width = xg.shape
    seq = np.empty((batch, n_steps, width // 3), dtype=xg.dtype)
    saved = np.empty((batch, n_steps, 4 * (width // 3)) if save else (1, 1, 1), dtype=xg.dtype)
    _gru_forward_kernel(xg, u, recurrent_bias, h0.copy(), seq, saved, save, _n_slices(batch))
    return seq, (saved if save else None)


def gru_backward(u, h0, seq, saved, dseq, dh_last) -> tuple:
    """See ``rnn_reference.gru_backward``; returns ``(dxg, dgh, dh0)``."""
    dxg = np.empty(seq.shape[:2] + (3 * seq.shape[2],), dtype=seq.dtype)
    dgh = np.empty_like(dxg)
    dh = dh_last.copy()
    ut = np.ascontiguousarray(u.T)
    _gru_backward_kernel(ut, h0, seq, saved, dseq, dh, dxg, dgh, _n_slices(seq.shape[0]))
    return dxg, dgh, dh


def lstm_forward(xg: np.ndarray, u: np.ndarray, h0, c0, save: bool) -> tuple:
    """See ``rnn_reference.lstm_forward``; C-contiguous arrays of one float dtype."""
    batch, n_steps, width = xg.shape
    seq = np.empty((batch, n_steps, width // 4), dtype=xg.dtype)
    cells = np.empty_like(seq)
    saved = np.empty((batch, n_steps, width) if save else (1, 1, 1), dtype=xg.dtype)
    slices = _n_slices(batch)
    _lstm_forward_kernel(xg, u, h0.copy(), c0.copy(), seq, cells, saved, save, slices)
    return seq, cells, (saved if save else None)


def lstm_backward(u, h0, c0, cells, saved, dseq, dh_last, dc_last) -> tuple:
    """See ``rnn_reference.lstm_backward``; returns ``(dgates, dh0, dc0)``."""
    dgates = np.empty(cells.shape[:2] + (4 * cells.shape[2],), dtype=cells.dtype)
    dh, dc = dh_last.copy(), dc_last.copy()
    ut = np.ascontiguousarray(u.T)
    slices = _n_slices(cells.shape[0])
    _lstm_backward_kernel(ut, c0, cells, saved, dseq, dh, dc, dgates, slices)
    return dgates, dh, dc
