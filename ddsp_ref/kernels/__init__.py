"""Fused kernels on raw arrays: pure-array references, numba CPU and numba CUDA versions.

Families: ``oscillator`` (harmonic and sinusoid banks with fused upsampling, forward and
backward), ``overlap_add`` (overlap-add and its adjoint, framing), ``spectral_loss``
(multi-scale magnitude / log-magnitude terms with their gradients), ``pitch_hmm`` (pYIN's and
CREPE's Viterbi, the voicing posterior) and ``rnn`` (GRU / LSTM recurrences, forward and
backward). Each launcher picks the CUDA kernel for cupy arrays, the numba CPU kernel for numpy
arrays, and the reference when ``DDSP_REF_KERNELS=reference`` (one rule: ``selection.py``).
numba is imported on first use only; nothing here imports ``ddsp_ref.autodiff``.
"""

import os

# numba's OpenMP worker threads spin after each parallel kernel by default, taking the cores from
# the scipy FFT threads that usually run next (FilteredNoise after Harmonic: 52 -> 43 ms on two
# cores). Passive waiting avoids that; a value the user has set is kept. Read by libgomp when
# numba first loads it, which is after this import.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
