"""Autodiff ops backed by the fused kernels of ``ddsp_ref.kernels``: one op per kernel family.

Each module declares its op(s) with the VJP beside the forward, like every other op of the
tape; importing ``ddsp_ref.autodiff`` imports them all, so the op registry is complete whatever
the caller imported (numba itself still loads only on the first kernel call).
"""

from . import (
    conv,  # noqa: F401  (registers conv1d: im2col + one GEMM, VJP for input, kernel, bias)
    dense,  # noqa: F401  (fused_dense_layer_norm: ddsp's Fc block)
    framing,  # noqa: F401  (registers frame / overlap_add)
    oscillators,  # noqa: F401  (fused_harmonic_bank, fused_sinusoid_bank, wrapped_cumsum)
    rnn,  # noqa: F401  (fused_gru, fused_lstm: whole sequences, initial state in, final out)
    spectral_loss,  # noqa: F401  (registers fused_spectral_loss)
)
