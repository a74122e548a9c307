"""Launcher of the GRU / LSTM sequence kernels: validate, canonical layout, GEMMs, pick the kernel.

A whole sequence is one call. The input projection ``x @ kernel + bias`` runs as one matrix
product over all ``batch * n_steps`` steps; only the recurrence (``h @ recurrent_kernel`` and the
gates, step after step) runs in a kernel; after the backward recurrence the weight gradients are
again single large products (``dU = sum_t h_{t-1}^T dgates_t`` as ``[H, B*T] @ [B*T, G*H]``).

Selection (``selection.select``): the numba CUDA kernels for cupy arrays, the numba CPU kernels
for numpy float32 / float64 arrays (they pay at every size: the reference loops in Python over
the steps), the pure-array reference for other dtypes, without numba, or with
``DDSP_REF_KERNELS=reference``. numba is imported on the first call, never by ``import ddsp_ref``.

Semantics are keras' (TF2 defaults, which ddsp uses): GRU with ``reset_after=True``, gates
(z, r, n), bias ``[2, 3H]`` (input row, recurrent row); LSTM gates (i, f, c, o), bias ``[4H]``.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from ..backend import array_namespace
from ..validation import check_rank, check_real_dtype
from .gemm import transposed_product
from .selection import select

__all__ = ["gru_forward", "gru_backward", "lstm_forward", "lstm_backward", "RnnSaved"]


class RnnSaved(NamedTuple):
    """What a backward pass needs: the canonical inputs and the forward's results."""

    module: Any  # the kernel module that ran the forward
    x: Any  # [batch, n_steps, n_in]
    kernel: Any  # [n_in, G * H]
    recurrent_kernel: Any  # [H, G * H]
    h0: Any  # [batch, H]
    c0: Any  # [batch, H] (LSTM) or None
    seq: Any  # [batch, n_steps, H]
    cells: Any  # [batch, n_steps, H] (LSTM) or None
    gates: Any  # [batch, n_steps, 4H] per-step gate values (see rnn_reference)


def _common_dtype(arrays: list) -> np.dtype:
    """float64 when the inputs promote to float64, float32 otherwise (the library's policy)."""
    dtype = np.result_type(*[a.dtype for a in arrays if a is not None])
    return np.dtype(np.float64) if dtype == np.float64 else np.dtype(np.float32)


def _check_shape(where: str, name: str, array: Any, expected: tuple, layout: str) -> None:
    if tuple(array.shape) != expected:
        raise ValueError(
            f"{where}: {name} must have shape {layout} = {expected}, got {tuple(array.shape)}"
        )


def _canonical(where: str, gates: int, x, kernel, recurrent_kernel, bias, states) -> tuple:
    """Validate the inputs of a sequence op and bring them to one dtype, C-contiguous.

    ``states`` are the initial states (None for zeros). Returns ``(xp, x, kernel, u, bias,
    states)`` with zero states filled in.
    """
    xp = array_namespace(x, kernel, recurrent_kernel, bias, *states)
    arrays = [xp.asarray(a) if a is not None else None for a in (x, kernel, recurrent_kernel,
                                                                 bias, *states)]  # fmt: skip
    names = ("inputs", "kernel", "recurrent_kernel", "bias") + ("initial_state",) * len(states)
    for name, a in zip(names, arrays):
        if a is not None:
            check_real_dtype(a, name, where)
    x, kernel, u, bias, *states = arrays
    check_rank(x, 3, "inputs", where, "[batch, n_steps, n_inputs]")
    check_rank(u, 2, "recurrent_kernel", where, f"[units, {gates} * units]")
    batch, _, n_in = x.shape
    units = u.shape[0]
    _check_shape(where, "recurrent_kernel", u, (units, gates * units), f"[units, {gates} * units]")
    _check_shape(where, "kernel", kernel, (n_in, gates * units), f"[n_inputs, {gates} * units]")
    bias_shape = (2, 3 * units) if gates == 3 else (4 * units,)
    bias_layout = "[2, 3 * units]" if gates == 3 else "[4 * units]"
    _check_shape(where, "bias", bias, bias_shape, bias_layout)
    for s in states:
        if s is not None:
            _check_shape(where, "initial_state", s, (batch, units), "[batch, units]")
    dtype = _common_dtype(arrays)
    x, kernel, u, bias = (xp.ascontiguousarray(a, dtype=dtype) for a in (x, kernel, u, bias))
    states = [
        xp.zeros((batch, units), dtype) if s is None else xp.ascontiguousarray(s, dtype=dtype)
        for s in states
    ]
    return xp, x, kernel, u, bias, states


def _project(xp, x, kernel, bias):
    """``x @ kernel + bias`` over all steps as one GEMM: ``[B, T, n_in] -> [B, T, G * H]``."""
    batch, n_steps, n_in = x.shape
    xg = x.reshape(batch * n_steps, n_in) @ kernel
    xg += bias
    return xg.reshape(batch, n_steps, kernel.shape[1])


def gru_forward(x, kernel, recurrent_kernel, bias, initial_state=None, save=False,
                implementation=None) -> tuple:  # fmt: skip
    """Keras GRU (``reset_after=True``) over a whole sequence, on raw arrays.

    Args:
        x: ``[batch, n_steps, n_inputs]`` inputs.
        kernel: ``[n_inputs, 3 * units]``, gates (z, r, n).
        recurrent_kernel: ``[units, 3 * units]``.
        bias: ``[2, 3 * units]``: input bias (row 0) and recurrent bias (row 1).
        initial_state: ``[batch, units]``, or None for zeros.
        save: keep what :func:`gru_backward` needs.
        implementation: force 'reference', 'cpu' or 'cuda' (tests, benchmarks).

    Returns:
        ``(sequence [batch, n_steps, units], final_state [batch, units], saved)`` with
        ``saved`` an :class:`RnnSaved` (None unless ``save``).
    """
    xp, x, kernel, u, bias, (h0,) = _canonical(
        "gru", 3, x, kernel, recurrent_kernel, bias, [initial_state]
    )
    module = select("rnn", xp, (x.dtype,), implementation=implementation)
    xg = _project(xp, x, kernel, bias[0])
    seq, gates = module.gru_forward(xg, u, bias[1], h0, save)
    final = seq[:, -1].copy() if seq.shape[1] else h0.copy()
    saved = RnnSaved(module, x, kernel, u, h0, None, seq, None, gates) if save else None
    return seq, final, saved


def _previous_states(xp, first, seq):
    """``[state_0, seq_0, ..., seq_{T-2}]`` flattened to ``[batch * n_steps, H]``."""
    prev = xp.concatenate([first[:, None], seq[:, :-1]], axis=1)[:, : seq.shape[1]]
    return prev.reshape(-1, seq.shape[2])


def _input_grads(xp, saved: RnnSaved, dxg, needs) -> tuple:
    """Cotangents of the inputs and the kernel from the input-projection cotangent ``dxg``."""
    batch, n_steps, n_in = saved.x.shape
    flat = dxg.reshape(batch * n_steps, dxg.shape[2])
    dx = (flat @ saved.kernel.T).reshape(batch, n_steps, n_in) if needs[0] else None
    dkernel = transposed_product(saved.x.reshape(batch * n_steps, n_in), flat) if needs[1] else None
    return dx, dkernel


def _cotangent(xp, g, like):
    return xp.ascontiguousarray(g, dtype=like.dtype)


def gru_backward(saved: RnnSaved, dseq, dfinal, needs=(True,) * 5) -> tuple:
    """VJP of :func:`gru_forward`: ``(dx, dkernel, drecurrent_kernel, dbias, dinitial_state)``.

    Args:
        saved: the forward's :class:`RnnSaved`.
        dseq: ``[batch, n_steps, units]`` cotangent of the sequence.
        dfinal: ``[batch, units]`` cotangent of the final state.
        needs: which of the five cotangents to compute (None for the others).
    """
    xp = array_namespace(saved.seq)
    dseq, dfinal = _cotangent(xp, dseq, saved.seq), _cotangent(xp, dfinal, saved.seq)
    dxg, dgh, dh0 = saved.module.gru_backward(
        saved.recurrent_kernel, saved.h0, saved.seq, saved.gates, dseq, dfinal
    )
    dx, dkernel = _input_grads(xp, saved, dxg, needs)
    units = saved.seq.shape[2]
    flat_gh = dgh.reshape(-1, 3 * units)
    du = (
        transposed_product(_previous_states(xp, saved.h0, saved.seq), flat_gh) if needs[2] else None
    )
    dbias = None
    if needs[3]:
        dbias = xp.stack([dxg.reshape(-1, 3 * units).sum(axis=0), flat_gh.sum(axis=0)])
    return dx, dkernel, du, dbias, (dh0 if needs[4] else None)


def lstm_forward(x, kernel, recurrent_kernel, bias, initial_h=None, initial_c=None, save=False,
                 implementation=None) -> tuple:  # fmt: skip
    """Keras LSTM over a whole sequence, on raw arrays.

    Args:
        x: ``[batch, n_steps, n_inputs]`` inputs.
        kernel: ``[n_inputs, 4 * units]``, gates (i, f, c, o).
        recurrent_kernel: ``[units, 4 * units]``.
        bias: ``[4 * units]``.
        initial_h, initial_c: ``[batch, units]`` initial hidden and cell states (None: zeros).
        save: keep what :func:`lstm_backward` needs.
        implementation: force 'reference', 'cpu' or 'cuda'.

    Returns:
        ``(sequence [batch, n_steps, units], final_h, final_c, saved)``.
    """
    xp, x, kernel, u, bias, (h0, c0) = _canonical(
        "lstm", 4, x, kernel, recurrent_kernel, bias, [initial_h, initial_c]
    )
    module = select("rnn", xp, (x.dtype,), implementation=implementation)
    seq, cells, gates = module.lstm_forward(_project(xp, x, kernel, bias), u, h0, c0, save)
    if seq.shape[1]:
        final_h, final_c = seq[:, -1].copy(), cells[:, -1].copy()
    else:
        final_h, final_c = h0.copy(), c0.copy()
    saved = RnnSaved(module, x, kernel, u, h0, c0, seq, cells, gates) if save else None
    return seq, final_h, final_c, saved


def lstm_backward(saved: RnnSaved, dseq, dh_final, dc_final, needs=(True,) * 6) -> tuple:
    """VJP of :func:`lstm_forward`:
    ``(dx, dkernel, drecurrent_kernel, dbias, dinitial_h, dinitial_c)``; ``needs`` as in
    :func:`gru_backward`."""
    xp = array_namespace(saved.seq)
    dseq, dh_final, dc_final = (_cotangent(xp, g, saved.seq) for g in (dseq, dh_final, dc_final))
    dgates, dh0, dc0 = saved.module.lstm_backward(
        saved.recurrent_kernel, saved.h0, saved.c0, saved.cells, saved.gates, dseq, dh_final,
        dc_final,
    )  # fmt: skip
    dx, dkernel = _input_grads(xp, saved, dgates, needs)
    flat = dgates.reshape(-1, dgates.shape[2])
    du = transposed_product(_previous_states(xp, saved.h0, saved.seq), flat) if needs[2] else None
    dbias = flat.sum(axis=0) if needs[3] else None
    return dx, dkernel, du, dbias, (dh0 if needs[4] else None), (dc0 if needs[5] else None)
