"""GRU and LSTM over whole sequences as single autodiff ops (keras semantics, fused kernels).

Nothing is recorded per time step: each op is one tape node whose forward runs the input
projection as one GEMM and the recurrence in a kernel (``ddsp_ref.kernels.rnn``), and whose VJP
runs the backward recurrence kernel and forms the weight gradients as single GEMMs. The forward
keeps the per-step gate values only when some input is traced. These ops are the foundation of
the recurrent layers of ``ddsp_ref.training.nn`` (keras ``GRU`` / ``LSTM``, ddsp's ``Rnn``).
"""

from __future__ import annotations

from typing import Any

from ...kernels import rnn as _kernels
from ..tape import Primitive

__all__ = ["gru_sequence", "lstm_sequence"]


def _gru_fwd(xp, x, kernel, recurrent_kernel, bias, h0, needs=(False,) * 5):
    seq, final, saved = _kernels.gru_forward(x, kernel, recurrent_kernel, bias, h0, save=any(needs))
    return (seq, final), saved


def _gru_vjp(xp, saved, g, needs=(True,) * 5):
    dseq, dfinal = g
    return _kernels.gru_backward(saved, dseq, dfinal, needs)


_gru = Primitive("fused_gru", _gru_fwd, _gru_vjp, n_outputs=2)


def gru_sequence(inputs: Any, kernel: Any, recurrent_kernel: Any, bias: Any,
                 initial_state: Any = None) -> tuple:  # fmt: skip
    """A keras GRU layer (TF2 defaults: ``reset_after=True``) over a whole sequence.

    With gates (z, r, n): ``x_t W + b_0 = (xz, xr, xn)``, ``h U + b_1 = (hz, hr, hn)``,
    ``z = sigmoid(xz + hz)``, ``r = sigmoid(xr + hr)``, ``n = tanh(xn + r * hn)``,
    ``h' = z * h + (1 - z) * n``.

    Args:
        inputs: ``[batch, n_steps, n_inputs]``.
        kernel: ``[n_inputs, 3 * units]`` (keras ``kernel``).
        recurrent_kernel: ``[units, 3 * units]`` (keras ``recurrent_kernel``).
        bias: ``[2, 3 * units]``: input bias, recurrent bias (keras ``bias``).
        initial_state: ``[batch, units]``; None for zeros.

    Returns:
        ``(sequence [batch, n_steps, units], final_state [batch, units])``, float64 when the
        inputs are float64, float32 otherwise. Differentiable in every array argument.

    Raises:
        ValueError: for shapes that do not fit together; TypeError for complex or text input.
    """
    return _gru(inputs, kernel, recurrent_kernel, bias, initial_state)


def _lstm_fwd(xp, x, kernel, recurrent_kernel, bias, h0, c0, needs=(False,) * 6):
    seq, final_h, final_c, saved = _kernels.lstm_forward(
        x, kernel, recurrent_kernel, bias, h0, c0, save=any(needs)
    )
    return (seq, final_h, final_c), saved


def _lstm_vjp(xp, saved, g, needs=(True,) * 6):
    dseq, dh, dc = g
    return _kernels.lstm_backward(saved, dseq, dh, dc, needs)


_lstm = Primitive("fused_lstm", _lstm_fwd, _lstm_vjp, n_outputs=3)


def lstm_sequence(inputs: Any, kernel: Any, recurrent_kernel: Any, bias: Any,
                  initial_state: Any = None) -> tuple:  # fmt: skip
    """A keras LSTM layer (TF2 defaults) over a whole sequence.

    With gates (i, f, c, o): ``x_t W + h U + b = (pi, pf, pc, po)``, ``i = sigmoid(pi)``,
    ``f = sigmoid(pf)``, ``c' = f * c + i * tanh(pc)``, ``o = sigmoid(po)``,
    ``h' = o * tanh(c')``.

    Args:
        inputs: ``[batch, n_steps, n_inputs]``.
        kernel: ``[n_inputs, 4 * units]``.
        recurrent_kernel: ``[units, 4 * units]``.
        bias: ``[4 * units]``.
        initial_state: ``(h0, c0)``, each ``[batch, units]``, as keras takes it; None for zeros.

    Returns:
        ``(sequence [batch, n_steps, units], final_h [batch, units], final_c [batch, units])``.

    Raises:
        ValueError: for shapes that do not fit together or an ``initial_state`` that is not a
            pair; TypeError for complex or text input.
    """
    if initial_state is None:
        h0 = c0 = None
    elif isinstance(initial_state, (list, tuple)) and len(initial_state) == 2:
        h0, c0 = initial_state
    else:
        raise ValueError(
            "lstm_sequence: initial_state must be None or a pair (h0, c0) of [batch, units] "
            f"arrays, got {type(initial_state).__name__}"
        )
    return _lstm(inputs, kernel, recurrent_kernel, bias, h0, c0)
