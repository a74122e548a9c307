"""Launcher of the pitch-HMM decoders (pYIN's and CREPE's Viterbi, pYIN's voicing posterior).

Selection, per call (``selection.select``): numpy float32 / float64 arrays run the numba CPU
kernels of ``pitch_hmm_cpu.py`` (parallel over batch rows; ~40x faster than the reference's
Python loop over frames on 2 cores); cupy arrays and ``DDSP_REF_KERNELS=reference`` run the
vectorised array code of ``pitch_hmm_reference.py``, whose per-frame steps are whole-array
operations that a GPU runs as a few kernel launches each (no CUDA kernel of its own).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..backend import array_namespace
from .selection import select

__all__ = ["banded_viterbi", "voicing_posterior"]


def banded_viterbi(
    log_em: Any, weights: np.ndarray, log_z: np.ndarray, log_voicing: np.ndarray
) -> tuple[Any, Any]:
    """Most likely (voicing, bin) path, int32 ``[batch, n_frames]`` each, of an HMM whose pitch
    transitions are ``w(|i - j|) / z_i`` (a band above a floor) and whose voicing changes by
    ``log_voicing`` ``[from, to]``.

    Args:
        log_em: log emission probabilities ``[batch, n_frames, n_voicing, n_bins]``.
        weights: transition weight per pitch distance ``[n_bins]`` (host), the floor last.
        log_z: log row normaliser per source bin ``[n_bins]`` (host).
        log_voicing: log voicing transition matrix ``[n_voicing, n_voicing]`` (host).

    Ties go to the lowest index (as an argmax).
    """
    xp = array_namespace(log_em)
    impl = select("pitch_hmm", xp, (log_em.dtype,))
    return impl.banded_viterbi(log_em, weights, log_z, log_voicing)


def voicing_posterior(em: Any, weights: np.ndarray, voicing: np.ndarray) -> Any:
    """p(voiced | all frames), float64 ``[batch, n_frames]``, by the scaled forward-backward
    algorithm over emissions ``em`` ``[batch, n_frames, 2, n_bins]`` (voicing state 1 = voiced),
    symmetric pitch weights ``weights`` ``[n_bins]`` (floor last) and a voicing matrix
    ``[from, to]``."""
    xp = array_namespace(em)
    impl = select("pitch_hmm", xp, (em.dtype,))
    return impl.voicing_posterior(em, weights, voicing)
