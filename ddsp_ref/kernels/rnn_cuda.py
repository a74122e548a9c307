"""GRU and LSTM recurrences as numba CUDA kernels: one block per batch row, threads over units.

Imported by the launcher on first use only (it imports numba.cuda). The kernels take cupy arrays
(or numpy arrays under numba's CUDA simulator, ``NUMBA_ENABLE_CUDASIM=1``). A block walks the
whole sequence of its batch row; at each step thread ``j`` computes the gates of units
``j, j + blockDim, ...`` from the previous state, which it reads from the output sequence in
global memory (written by the block's threads before the step's ``syncthreads``), so no shared
memory is needed and the kernels take any ``H``. The backward step has two phases: gate
cotangents per unit, then ``dh_prev = dgates_t @ U^T`` per unit (with ``U^T`` contiguous, so the
threads of a warp read adjacent addresses).
"""

from __future__ import annotations

import math
from typing import Any

import numba
from numba import cuda

from ..backend import array_namespace

__all__ = ["gru_forward", "gru_backward", "lstm_forward", "lstm_backward"]

_MAX_THREADS = 256  # per block; units beyond it are looped over


@cuda.jit(device=True, inline=True)
def _sigmoid(v):  # pragma: no cover - compiled
    e = math.exp(-abs(v))  # the reference's formula: no overflow, exact tails
    return 1 / (1 + e) if v >= 0 else e / (1 + e)


@cuda.jit
def _gru_forward_kernel(xg, u, bias, h0, seq, saved, save):  # pragma: no cover - compiled
    b = cuda.blockIdx.x
    n_steps, hidden = seq.shape[1], seq.shape[2]
    for t in range(n_steps):
        for j in range(cuda.threadIdx.x, hidden, cuda.blockDim.x):
            a_z, a_r, h_n = bias[j], bias[hidden + j], bias[2 * hidden + j]
            for k in range(hidden):
                h_k = seq[b, t - 1, k] if t else h0[b, k]
                a_z += h_k * u[k, j]
                a_r += h_k * u[k, hidden + j]
                h_n += h_k * u[k, 2 * hidden + j]
            z = _sigmoid(xg[b, t, j] + a_z)
            r = _sigmoid(xg[b, t, hidden + j] + a_r)
            n = math.tanh(xg[b, t, 2 * hidden + j] + r * h_n)
            h_prev = seq[b, t - 1, j] if t else h0[b, j]
            seq[b, t, j] = z * h_prev + (1 - z) * n
            if save:
                saved[b, t, j] = z
                saved[b, t, hidden + j] = r
                saved[b, t, 2 * hidden + j] = n
                saved[b, t, 3 * hidden + j] = h_n
        cuda.syncthreads()


@cuda.jit
def _gru_backward_kernel(ut, h0, seq, saved, dseq, dh, dxg, dgh):  # pragma: no cover - compiled
    b = cuda.blockIdx.x
    n_steps, hidden = seq.shape[1], seq.shape[2]
    for t in range(n_steps - 1, -1, -1):
        for j in range(cuda.threadIdx.x, hidden, cuda.blockDim.x):
            z = saved[b, t, j]
            r = saved[b, t, hidden + j]
            n = saved[b, t, 2 * hidden + j]
            h_prev = seq[b, t - 1, j] if t else h0[b, j]
            g = dh[b, j] + dseq[b, t, j]
            dn = g * (1 - z) * (1 - n * n)
            dz = g * (h_prev - n) * z * (1 - z)
            dr = dn * saved[b, t, 3 * hidden + j] * r * (1 - r)
            dxg[b, t, j] = dz
            dgh[b, t, j] = dz
            dxg[b, t, hidden + j] = dr
            dgh[b, t, hidden + j] = dr
            dxg[b, t, 2 * hidden + j] = dn
            dgh[b, t, 2 * hidden + j] = dn * r
            dh[b, j] = g * z
        cuda.syncthreads()  # every unit's dgh of step t is written
        for k in range(cuda.threadIdx.x, hidden, cuda.blockDim.x):
            acc = dh[b, k]  # written above by this same thread
            for m in range(3 * hidden):
                acc += dgh[b, t, m] * ut[m, k]
            dh[b, k] = acc
        cuda.syncthreads()


@cuda.jit
def _lstm_forward_kernel(xg, u, h0, c0, seq, cells, saved, save):  # pragma: no cover - compiled
    b = cuda.blockIdx.x
    n_steps, hidden = seq.shape[1], seq.shape[2]
    for t in range(n_steps):
        for j in range(cuda.threadIdx.x, hidden, cuda.blockDim.x):
            p_i = xg[b, t, j]
            p_f = xg[b, t, hidden + j]
            p_g = xg[b, t, 2 * hidden + j]
            p_o = xg[b, t, 3 * hidden + j]
            for k in range(hidden):
                h_k = seq[b, t - 1, k] if t else h0[b, k]
                p_i += h_k * u[k, j]
                p_f += h_k * u[k, hidden + j]
                p_g += h_k * u[k, 2 * hidden + j]
                p_o += h_k * u[k, 3 * hidden + j]
            i, f, g, o = _sigmoid(p_i), _sigmoid(p_f), math.tanh(p_g), _sigmoid(p_o)
            c = f * (cells[b, t - 1, j] if t else c0[b, j]) + i * g
            cells[b, t, j] = c
            seq[b, t, j] = o * math.tanh(c)
            if save:
                saved[b, t, j] = i
                saved[b, t, hidden + j] = f
                saved[b, t, 2 * hidden + j] = g
                saved[b, t, 3 * hidden + j] = o
        cuda.syncthreads()


@cuda.jit
def _lstm_backward_kernel(ut, c0, cells, saved, dseq, dh, dc, dgates):  # pragma: no cover
    b = cuda.blockIdx.x
    n_steps, hidden = cells.shape[1], cells.shape[2]
    for t in range(n_steps - 1, -1, -1):
        for j in range(cuda.threadIdx.x, hidden, cuda.blockDim.x):
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
        cuda.syncthreads()  # every unit's dgates of step t is written
        for k in range(cuda.threadIdx.x, hidden, cuda.blockDim.x):
            acc = dgates[b, t, 0] * ut[0, k]  # typed like the arrays (no float64 literal)
            for m in range(1, 4 * hidden):
                acc += dgates[b, t, m] * ut[m, k]
            dh[b, k] = acc
        cuda.syncthreads()


def _launch(kernel: Any, xp: Any, batch: int, hidden: int, *args: Any) -> None:
    """One block per batch row, a warp-multiple of threads over the units."""
    threads = min(_MAX_THREADS, 32 * -(-hidden // 32))
    if numba.config.ENABLE_CUDASIM or xp.__name__ != "cupy":
        kernel[batch, threads](*args)
        return
    # Queue behind the work cupy has already put on its current stream.
    stream = cuda.external_stream(xp.cuda.get_current_stream().ptr)
    kernel[batch, threads, stream](*args)


def gru_forward(xg: Any, u: Any, recurrent_bias: Any, h0: Any, save: bool) -> tuple:
    """See ``rnn_reference.gru_forward``; C-contiguous arrays of one float dtype."""
    xp = array_namespace(xg)
    batch, n_steps, width = xg.shape
    seq = xp.empty((batch, n_steps, width // 3), dtype=xg.dtype)
    saved = xp.empty((batch, n_steps, 4 * (width // 3)) if save else (1, 1, 1), dtype=xg.dtype)
    if seq.size:
        _launch(_gru_forward_kernel, xp, batch, width // 3, xg, u, recurrent_bias, h0, seq,
                saved, save)  # fmt: skip
    return seq, (saved if save else None)


def gru_backward(u, h0, seq, saved, dseq, dh_last) -> tuple:
    """See ``rnn_reference.gru_backward``; returns ``(dxg, dgh, dh0)``."""
    xp = array_namespace(seq)
    batch, n_steps, hidden = seq.shape
    dxg = xp.empty((batch, n_steps, 3 * hidden), dtype=seq.dtype)
    dgh = xp.empty_like(dxg)
    dh = dh_last.copy()
    if seq.size:
        ut = xp.ascontiguousarray(u.T)
        _launch(_gru_backward_kernel, xp, batch, hidden, ut, h0, seq, saved, dseq, dh, dxg, dgh)
    return dxg, dgh, dh


def lstm_forward(xg: Any, u: Any, h0: Any, c0: Any, save: bool) -> tuple:
    """See ``rnn_reference.lstm_forward``; C-contiguous arrays of one float dtype."""
    xp = array_namespace(xg)
    batch, n_steps, width = xg.shape
    seq = xp.empty((batch, n_steps, width // 4), dtype=xg.dtype)
    cells = xp.empty_like(seq)
    saved = xp.empty((batch, n_steps, width) if save else (1, 1, 1), dtype=xg.dtype)
    if seq.size:
        _launch(_lstm_forward_kernel, xp, batch, width // 4, xg, u, h0, c0, seq, cells, saved,
                save)  # fmt: skip
    return seq, cells, (saved if save else None)


def lstm_backward(u, h0, c0, cells, saved, dseq, dh_last, dc_last) -> tuple:
    """See ``rnn_reference.lstm_backward``; returns ``(dgates, dh0, dc0)``."""
    xp = array_namespace(cells)
    batch, n_steps, hidden = cells.shape
    dgates = xp.empty((batch, n_steps, 4 * hidden), dtype=cells.dtype)
    dh, dc = dh_last.copy(), dc_last.copy()
    if cells.size:
        ut = xp.ascontiguousarray(u.T)
        _launch(_lstm_backward_kernel, xp, batch, hidden, ut, c0, cells, saved, dseq, dh, dc,
                dgates)  # fmt: skip
    return dgates, dh, dc
