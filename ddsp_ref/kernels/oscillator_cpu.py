"""The numba CPU implementation of the oscillator kernel family (what ``selection.select``
loads for numpy arrays): harmonic kernels in oscillator_cpu_harmonic.py, free sinusoids in
oscillator_cpu_sinusoid.py, shared helpers in oscillator_cpu_math.py.

Every function takes a :class:`~ddsp_ref.kernels.oscillator_plan.Block` (one piece of a bank).
"""

from __future__ import annotations

from .oscillator_cpu_harmonic import harmonic_backward, harmonic_forward
from .oscillator_cpu_math import group_phase_sums
from .oscillator_cpu_sinusoid import sinusoid_backward, sinusoid_forward

__all__ = [
    "GROUP_PER_FRAME",
    "group_phase_sums",
    "harmonic_forward",
    "harmonic_backward",
    "sinusoid_forward",
    "sinusoid_backward",
]

# Plans for this module use coarse groups of frames (oscillator_plan.make_plan).
GROUP_PER_FRAME = False
