"""GRU and LSTM recurrences as numba CPU kernels: batch rows split over threads, no per-step sync.

Imported by the launcher on first use only (it imports numba). Batch rows are independent, so
each thread runs the whole recurrence for its slice of rows (``numba.prange`` over slices) and
threads never wait for each other inside the sequence. The per-step product ``h @ U`` is a
register-blocked loop written here (``_rows_matmul``), not BLAS: numba's ``np.dot`` calls a
multi-threaded BLAS whose threads synchronise on every small product (batch 8, H 512: 0.16 ms
per step on a quiet 2-core machine, 7-30 ms with other processes on the cores) and cannot run
inside ``prange``; single-threaded sgemm on a 4-row slice measured ~230 us against ~70 us for
``_rows_matmul``. Same layouts and results (up to summation order) as ``rnn_reference.py``.
"""

from __future__ import annotations

import math

import numba
import numpy as np
from numba import types
from numba.extending import overload

__all__ = ["gru_forward", "gru_backward", "lstm_forward", "lstm_backward"]


# A float32 constant keeps float32 arithmetic in float32 (a Python int or float literal would
# promote every gate computation to float64); float64 input stays float64.
_ONE, _HALF = np.float32(1.0), np.float32(0.5)

# float32 tanh as the rational function Eigen (so TF on CPU) uses: odd degree-13 numerator,
# even degree-6 denominator, input clamped where float32 tanh rounds to +-1; error <= 3.3e-7.
# Plain arithmetic, so LLVM vectorises the gate loops (libm's tanhf / expf are scalar calls,
# ~60% of a step's gate time at H = 512).
_CLAMP = np.float32(7.90531110763549805)
_A1, _A3, _A5 = (
    np.float32(4.89352455891786e-03),
    np.float32(6.37261928875436e-04),
    np.float32(1.48572235717979e-05),
)
_A7, _A9 = np.float32(5.12229709037114e-08), np.float32(-8.60467152213735e-11)
_A11, _A13 = np.float32(2.00018790482477e-13), np.float32(-2.76076847742355e-16)
_B0, _B2 = np.float32(4.89352518554385e-03), np.float32(2.26843463243900e-03)
_B4, _B6 = np.float32(1.18534705686654e-04), np.float32(1.19825839466702e-06)


def _tanh(v):  # pragma: no cover - in compiled code the overload below takes its place
    return math.tanh(v)


def _sigmoid(v):  # pragma: no cover - in compiled code the overload below takes its place
    return 1.0 / (1.0 + math.exp(-v)) if v >= 0 else math.exp(v) / (1.0 + math.exp(v))


@overload(_tanh)
def _tanh_overload(v):  # pragma: no cover - compiled
    if v != types.float32:
        return lambda v: math.tanh(v)

    def fast_tanh(v):
        x = min(max(v, -_CLAMP), _CLAMP)
        x2 = x * x
        p = ((((((_A13 * x2 + _A11) * x2 + _A9) * x2 + _A7) * x2 + _A5) * x2 + _A3) * x2 + _A1) * x
        q = ((_B6 * x2 + _B4) * x2 + _B2) * x2 + _B0
        return p / q if v == v else v  # NaN stays NaN (the clamp would hide it)

    return fast_tanh


@overload(_sigmoid)
def _sigmoid_overload(v):  # pragma: no cover - compiled
    if v == types.float32:
        return lambda v: _HALF * _tanh(_HALF * v) + _HALF

    def exact_sigmoid(v):  # the reference's formula: no overflow, exact tails
        e = math.exp(-abs(v))
        return 1.0 / (1.0 + e) if v >= 0 else e / (1.0 + e)

    return exact_sigmoid


# Reassociation lets LLVM vectorise the dot products; contraction gives FMAs. Only the
# products use these flags (the gate code keeps strict IEEE semantics).
_DOT_FLAGS = {"reassoc", "contract"}


@numba.njit(nogil=True, fastmath=_DOT_FLAGS, boundscheck=False, cache=True)
def _four_rows(a, bt, out, r, lo):  # pragma: no cover - compiled
    """``out[r - lo + i, j] = a[r + i] . bt[j]`` for i < 4: 8 accumulators (4 rows x 2
    columns) stay in registers while k runs over contiguous memory."""
    n_cols, n = bt.shape
    o = r - lo
    for j in range(0, n_cols - 1, 2):
        s0 = s1 = s2 = s3 = t0 = t1 = t2 = t3 = np.float32(0)  # widened for float64 input
        for k in range(n):
            u, v = bt[j, k], bt[j + 1, k]
            x0, x1, x2, x3 = a[r, k], a[r + 1, k], a[r + 2, k], a[r + 3, k]
            s0 += x0 * u
            s1 += x1 * u
            s2 += x2 * u
            s3 += x3 * u
            t0 += x0 * v
            t1 += x1 * v
            t2 += x2 * v
            t3 += x3 * v
        out[o, j], out[o + 1, j], out[o + 2, j], out[o + 3, j] = s0, s1, s2, s3
        out[o, j + 1], out[o + 1, j + 1], out[o + 2, j + 1], out[o + 3, j + 1] = t0, t1, t2, t3
    if n_cols % 2:
        for i in range(4):
            _one_dot(a, bt, out, r + i, n_cols - 1, o + i)


@numba.njit(nogil=True, fastmath=_DOT_FLAGS, boundscheck=False, cache=True)
def _one_dot(a, bt, out, r, j, o):  # pragma: no cover - compiled
    s = np.float32(0)
    for k in range(bt.shape[1]):
        s += a[r, k] * bt[j, k]
    out[o, j] = s


@numba.njit(nogil=True, cache=True)
def _rows_matmul(a, bt, out, lo, hi):  # pragma: no cover - compiled
    """``out[:hi-lo] = a[lo:hi] @ bt.T`` (``bt`` is the transposed right factor, so every dot
    product runs over contiguous rows). Rows go four at a time: at batch slices of 4 and
    H = 512 this runs at ~95 GFLOP/s on one core, 3x BLAS (single-threaded sgemm) on the same
    shape; the last ``(hi - lo) % 4`` rows go one at a time."""
    r = lo
    while r + 4 <= hi:
        _four_rows(a, bt, out, r, lo)
        r += 4
    for rr in range(r, hi):
        for j in range(bt.shape[0]):
            _one_dot(a, bt, out, rr, j, rr - lo)


@numba.njit(nogil=True, cache=True, inline="always")
def _put4(dst, b, t, hidden, j, v0, v1, v2, v3):  # pragma: no cover - compiled
    """Unit ``j`` of each of the four gate blocks of ``dst[b, t]`` (``[..., 4H]``)."""
    dst[b, t, j] = v0
    dst[b, t, hidden + j] = v1
    dst[b, t, 2 * hidden + j] = v2
    dst[b, t, 3 * hidden + j] = v3


@numba.njit(nogil=True, cache=True, inline="always")
def _get4(src, b, t, hidden, j):  # pragma: no cover - compiled
    """Unit ``j`` of each of the four gate blocks of ``src[b, t]``."""
    return src[b, t, j], src[b, t, hidden + j], src[b, t, 2 * hidden + j], src[b, t, 3 * hidden + j]


@numba.njit(nogil=True, cache=True)
def _slice(n_rows, n_slices, s):  # pragma: no cover - compiled
    """Rows ``[lo, hi)`` of slice ``s`` of ``n_rows`` split into ``n_slices`` near-equal parts."""
    return s * n_rows // n_slices, (s + 1) * n_rows // n_slices


@numba.njit(parallel=True, nogil=True, cache=True)
def _gru_forward_kernel(xg, ut, bias, h, seq, saved, save, n_slices):  # pragma: no cover
    batch, n_steps, width = xg.shape
    hidden = width // 3
    for s in numba.prange(n_slices):
        lo, hi = _slice(batch, n_slices, s)
        gh = np.empty((hi - lo, width), dtype=xg.dtype)
        for t in range(n_steps):
            _rows_matmul(h, ut, gh, lo, hi)
            for b in range(lo, hi):
                for j in range(hidden):
                    h_n = gh[b - lo, 2 * hidden + j] + bias[2 * hidden + j]
                    z = _sigmoid(xg[b, t, j] + gh[b - lo, j] + bias[j])
                    r = _sigmoid(xg[b, t, hidden + j] + gh[b - lo, hidden + j] + bias[hidden + j])
                    n = _tanh(xg[b, t, 2 * hidden + j] + r * h_n)
                    h[b, j] = z * h[b, j] + (_ONE - z) * n  # the product above already read h
                    seq[b, t, j] = h[b, j]
                    if save:
                        _put4(saved, b, t, hidden, j, z, r, n, h_n)


@numba.njit(nogil=True, cache=True, inline="always")
def _gru_unit_backward(saved, seq, h0, dseq, dh, dxg, step, b, t, j, lo):  # pragma: no cover
    """Gate cotangents of unit ``j`` of row ``b`` at step ``t`` into ``dxg`` and ``step`` (the
    recurrent side, ``dn * r`` for the candidate); returns the direct part of ``dh_{t-1}``."""
    hidden = seq.shape[2]
    z, r, n, h_n = _get4(saved, b, t, hidden, j)
    h_prev = seq[b, t - 1, j] if t else h0[b, j]
    g = dh[b, j] + dseq[b, t, j]
    dn = g * (_ONE - z) * (_ONE - n * n)
    dz = g * (h_prev - n) * z * (_ONE - z)
    dr = dn * h_n * r * (_ONE - r)
    dxg[b, t, j] = step[b - lo, j] = dz
    dxg[b, t, hidden + j] = step[b - lo, hidden + j] = dr
    dxg[b, t, 2 * hidden + j] = dn
    step[b - lo, 2 * hidden + j] = dn * r
    return g * z


@numba.njit(parallel=True, nogil=True, cache=True)
def _lstm_forward_kernel(xg, ut, h, c, seq, cells, saved, save, n_slices):  # pragma: no cover
    batch, n_steps, width = xg.shape
    hidden = width // 4
    for s in numba.prange(n_slices):
        lo, hi = _slice(batch, n_slices, s)
        gh = np.empty((hi - lo, width), dtype=xg.dtype)
        for t in range(n_steps):
            _rows_matmul(h, ut, gh, lo, hi)
            for b in range(lo, hi):
                for j in range(hidden):
                    i = _sigmoid(xg[b, t, j] + gh[b - lo, j])
                    f = _sigmoid(xg[b, t, hidden + j] + gh[b - lo, hidden + j])
                    g = _tanh(xg[b, t, 2 * hidden + j] + gh[b - lo, 2 * hidden + j])
                    o = _sigmoid(xg[b, t, 3 * hidden + j] + gh[b - lo, 3 * hidden + j])
                    c[b, j] = f * c[b, j] + i * g
                    h[b, j] = o * _tanh(c[b, j])
                    seq[b, t, j] = h[b, j]
                    cells[b, t, j] = c[b, j]
                    if save:
                        _put4(saved, b, t, hidden, j, i, f, g, o)


@numba.njit(nogil=True, cache=True, inline="always")
def _lstm_unit_backward(saved, cells, c0, dseq, dh, dc, step, b, t, j, lo):  # pragma: no cover
    """Gate cotangents of unit ``j`` of row ``b`` at step ``t`` into ``step``; returns the
    cotangent of ``c_{t-1}``."""
    hidden = cells.shape[2]
    i, f, g, o = _get4(saved, b, t, hidden, j)
    c_prev = cells[b, t - 1, j] if t else c0[b, j]
    tc = _tanh(cells[b, t, j])
    gh = dh[b, j] + dseq[b, t, j]
    gc = dc[b, j] + gh * o * (_ONE - tc * tc)
    o_ = b - lo
    step[o_, j] = gc * g * i * (_ONE - i)
    step[o_, hidden + j] = gc * c_prev * f * (_ONE - f)
    step[o_, 2 * hidden + j] = gc * i * (_ONE - g * g)
    step[o_, 3 * hidden + j] = gh * tc * o * (_ONE - o)
    return gc * f


@numba.njit(parallel=True, nogil=True, cache=True)
def _backward_kernel(
    lstm, u, state0, states, saved, dseq, dh, dc, dxg, dgates, n_slices
):  # pragma: no cover
    """The backward recurrence of both cells, last step first: gate cotangents per unit, then
    ``dh_{t-1} (+)= dgates_t @ U^T`` per slice. ``states`` / ``state0``: the GRU's hidden
    states or the LSTM's cells; ``dc`` (LSTM) and ``dxg`` (GRU) are unused by the other cell."""
    batch, n_steps, hidden = states.shape
    for s in numba.prange(n_slices):
        lo, hi = _slice(batch, n_slices, s)
        carried = np.empty((hi - lo, hidden), dtype=states.dtype)
        step = np.empty((hi - lo, dgates.shape[2]), dtype=states.dtype)  # contiguous for gemm
        for t in range(n_steps - 1, -1, -1):
            for b in range(lo, hi):
                for j in range(hidden):
                    if lstm:
                        dc[b, j] = _lstm_unit_backward(
                            saved, states, state0, dseq, dh, dc, step, b, t, j, lo
                        )
                    else:
                        dh[b, j] = _gru_unit_backward(
                            saved, states, state0, dseq, dh, dxg, step, b, t, j, lo
                        )
            _rows_matmul(step, u, carried, 0, hi - lo)
            dgates[lo:hi, t] = step
            if lstm:
                dh[lo:hi] = carried
            else:
                dh[lo:hi] += carried


def _n_slices(batch: int) -> int:
    return max(1, min(batch, numba.get_num_threads()))


def gru_forward(xg: np.ndarray, u: np.ndarray, recurrent_bias, h0, save: bool) -> tuple:
    """See ``rnn_reference.gru_forward``; C-contiguous arrays of one float dtype."""
    batch, n_steps, width = xg.shape
    seq = np.empty((batch, n_steps, width // 3), dtype=xg.dtype)
    saved = np.empty((batch, n_steps, 4 * (width // 3)) if save else (1, 1, 1), dtype=xg.dtype)
    ut = np.ascontiguousarray(u.T)
    _gru_forward_kernel(xg, ut, recurrent_bias, h0.copy(), seq, saved, save, _n_slices(batch))
    return seq, (saved if save else None)


def gru_backward(u, h0, seq, saved, dseq, dh_last) -> tuple:
    """See ``rnn_reference.gru_backward``; returns ``(dxg, dgh, dh0)``."""
    dxg = np.empty(seq.shape[:2] + (3 * seq.shape[2],), dtype=seq.dtype)
    dgh = np.empty_like(dxg)
    dh = dh_last.copy()
    unused = np.empty((1, 1), dtype=seq.dtype)
    slices = _n_slices(seq.shape[0])
    _backward_kernel(False, u, h0, seq, saved, dseq, dh, unused, dxg, dgh, slices)
    return dxg, dgh, dh


def lstm_forward(xg: np.ndarray, u: np.ndarray, h0, c0, save: bool) -> tuple:
    """See ``rnn_reference.lstm_forward``; C-contiguous arrays of one float dtype."""
    batch, n_steps, width = xg.shape
    seq = np.empty((batch, n_steps, width // 4), dtype=xg.dtype)
    cells = np.empty_like(seq)
    saved = np.empty((batch, n_steps, width) if save else (1, 1, 1), dtype=xg.dtype)
    slices = _n_slices(batch)
    ut = np.ascontiguousarray(u.T)
    _lstm_forward_kernel(xg, ut, h0.copy(), c0.copy(), seq, cells, saved, save, slices)
    return seq, cells, (saved if save else None)


def lstm_backward(u, h0, c0, cells, saved, dseq, dh_last, dc_last) -> tuple:
    """See ``rnn_reference.lstm_backward``; returns ``(dgates, dh0, dc0)``."""
    dgates = np.empty(cells.shape[:2] + (4 * cells.shape[2],), dtype=cells.dtype)
    dh, dc = dh_last.copy(), dc_last.copy()
    slices = _n_slices(cells.shape[0])
    unused = np.empty((1, 1, 1), dtype=cells.dtype)
    _backward_kernel(True, u, c0, cells, saved, dseq, dh, dc, unused, dgates, slices)
    return dgates, dh, dc
