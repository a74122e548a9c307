"""GRU and LSTM recurrences in pure array code (numpy or cupy): the executable spec and fallback.

Every function works on the canonical layouts of the launcher (``rnn.py``): the input
projection ``xg = x @ kernel + input_bias`` is already computed (``[batch, n_steps, G * H]``
C-contiguous, G = 3 gates for the GRU, 4 for the LSTM), the recurrent kernel is
``[H, G * H]`` and states are ``[batch, H]``. The weight gradients are not computed here: the
backward functions return the gate cotangents from which the launcher forms them as large GEMMs.

Sigmoid is ``1 / (1 + exp(-x))`` evaluated through ``e = exp(-|x|)`` (``1 / (1 + e)`` for
``x >= 0``, ``e / (1 + e)`` below): no overflow for large ``|x|`` and full relative precision in
the tails; the compiled kernels use the same formula.
"""

from __future__ import annotations

from typing import Any

from ..backend import array_namespace

__all__ = ["gru_forward", "gru_backward", "lstm_forward", "lstm_backward"]


def _sigmoid(xp, v):
    e = xp.exp(-xp.abs(v))
    return xp.where(v >= 0, 1 / (1 + e), e / (1 + e))


def gru_forward(xg: Any, u: Any, recurrent_bias: Any, h0: Any, save: bool) -> tuple:
    """Keras GRU (``reset_after=True``) over a sequence.

    Args:
        xg: ``[batch, n_steps, 3H]`` input projection with the input bias, gates (z, r, n).
        u: ``[H, 3H]`` recurrent kernel.
        recurrent_bias: ``[3H]``.
        h0: ``[batch, H]`` initial state.
        save: also return what :func:`gru_backward` needs.

    Returns:
        ``(seq, saved)``: ``seq`` ``[batch, n_steps, H]`` the states after each step; ``saved``
        ``[batch, n_steps, 4H]`` = (z, r, n, hn) per step, with ``hn = h U_n + b_n`` the
        recurrent part of the candidate before the reset gate (None unless ``save``).
    """
    xp = array_namespace(xg)
    batch, n_steps, width = xg.shape
    hidden = width // 3
    seq = xp.empty((batch, n_steps, hidden), dtype=xg.dtype)
    saved = xp.empty((batch, n_steps, 4 * hidden), dtype=xg.dtype) if save else None
    h = h0
    for t in range(n_steps):
        gh = h @ u + recurrent_bias
        x_z, x_r, x_n = xp.split(xg[:, t], 3, axis=1)
        h_z, h_r, h_n = xp.split(gh, 3, axis=1)
        z = _sigmoid(xp, x_z + h_z)
        r = _sigmoid(xp, x_r + h_r)
        n = xp.tanh(x_n + r * h_n)
        h = z * h + (1 - z) * n
        seq[:, t] = h
        if save:
            saved[:, t] = xp.concatenate([z, r, n, h_n], axis=1)
    return seq, saved


def gru_backward(u: Any, h0: Any, seq: Any, saved: Any, dseq: Any, dh_last: Any) -> tuple:
    """Cotangents of the gate pre-activations of :func:`gru_forward`, last step first.

    Args:
        u: ``[H, 3H]`` recurrent kernel.
        h0, seq, saved: the forward's initial state and results.
        dseq: ``[batch, n_steps, H]`` cotangent of the sequence.
        dh_last: ``[batch, H]`` cotangent of the final state.

    Returns:
        ``(dxg, dgh, dh0)``: ``dxg`` ``[batch, n_steps, 3H]`` cotangent of the input projection
        (= of the input bias rows, summed); ``dgh`` ``[batch, n_steps, 3H]`` cotangent of
        ``h_{t-1} U + b_r`` (it differs from ``dxg`` in the candidate third: ``* r``);
        ``dh0`` ``[batch, H]``.
    """
    xp = array_namespace(seq)
    batch, n_steps, hidden = seq.shape
    dxg = xp.empty((batch, n_steps, 3 * hidden), dtype=seq.dtype)
    dgh = xp.empty_like(dxg)
    dh = dh_last
    for t in range(n_steps - 1, -1, -1):
        z, r, n, h_n = xp.split(saved[:, t], 4, axis=1)
        h_prev = seq[:, t - 1] if t else h0
        dh = dh + dseq[:, t]
        dn = dh * (1 - z) * (1 - n * n)
        dz = dh * (h_prev - n) * z * (1 - z)
        dr = dn * h_n * r * (1 - r)
        dxg[:, t] = xp.concatenate([dz, dr, dn], axis=1)
        dgh[:, t] = xp.concatenate([dz, dr, dn * r], axis=1)
        dh = dh * z + dgh[:, t] @ u.T
    return dxg, dgh, dh


def lstm_forward(xg: Any, u: Any, h0: Any, c0: Any, save: bool) -> tuple:
    """Keras LSTM over a sequence (the bias is already in ``xg``).

    Args:
        xg: ``[batch, n_steps, 4H]`` input projection with the bias, gates (i, f, c, o).
        u: ``[H, 4H]`` recurrent kernel.
        h0, c0: ``[batch, H]`` initial hidden and cell states.
        save: also return the gate activations for :func:`lstm_backward`.

    Returns:
        ``(seq, cells, saved)``: hidden and cell states after each step, ``[batch, n_steps, H]``
        each; ``saved`` ``[batch, n_steps, 4H]`` the activations (i, f, g, o), ``g`` the tanh
        candidate (None unless ``save``).
    """
    xp = array_namespace(xg)
    batch, n_steps, width = xg.shape
    hidden = width // 4
    seq = xp.empty((batch, n_steps, hidden), dtype=xg.dtype)
    cells = xp.empty_like(seq)
    saved = xp.empty((batch, n_steps, 4 * hidden), dtype=xg.dtype) if save else None
    h, c = h0, c0
    for t in range(n_steps):
        p_i, p_f, p_g, p_o = xp.split(xg[:, t] + h @ u, 4, axis=1)
        i, f, g, o = _sigmoid(xp, p_i), _sigmoid(xp, p_f), xp.tanh(p_g), _sigmoid(xp, p_o)
        c = f * c + i * g
        h = o * xp.tanh(c)
        seq[:, t] = h
        cells[:, t] = c
        if save:
            saved[:, t] = xp.concatenate([i, f, g, o], axis=1)
    return seq, cells, saved


def lstm_backward(
    u: Any, h0: Any, c0: Any, cells: Any, saved: Any, dseq: Any, dh_last: Any, dc_last: Any
) -> tuple:
    """Cotangents of the gate pre-activations of :func:`lstm_forward`, last step first.

    Returns:
        ``(dgates, dh0, dc0)``: ``dgates`` ``[batch, n_steps, 4H]`` cotangent of
        ``x W + h_{t-1} U + b`` (so of the input projection and of the recurrent product
        alike); ``dh0`` and ``dc0`` ``[batch, H]``.
    """
    xp = array_namespace(cells)
    batch, n_steps, hidden = cells.shape
    dgates = xp.empty((batch, n_steps, 4 * hidden), dtype=cells.dtype)
    dh, dc = dh_last, dc_last
    for t in range(n_steps - 1, -1, -1):
        i, f, g, o = xp.split(saved[:, t], 4, axis=1)
        c_prev = cells[:, t - 1] if t else c0
        tc = xp.tanh(cells[:, t])
        dh = dh + dseq[:, t]
        dc = dc + dh * o * (1 - tc * tc)
        parts = [dc * g * i * (1 - i), dc * c_prev * f * (1 - f), dc * i * (1 - g * g),
                 dh * tc * o * (1 - o)]  # fmt: skip
        dgates[:, t] = xp.concatenate(parts, axis=1)
        dc = dc * f
        dh = dgates[:, t] @ u.T
    return dgates, dh, dc
