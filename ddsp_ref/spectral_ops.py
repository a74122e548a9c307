"""ddsp.spectral_ops: STFT, magnitudes, mel / MFCC, loudness, RMS, framing and f0 estimation.

The functions live in :mod:`ddsp_ref.spectrograms`, :mod:`ddsp_ref.energy` and
:mod:`ddsp_ref.pitch`; this module gathers them under ddsp's name.
"""

from . import energy, pitch, spectrograms
from .energy import *  # noqa: F401,F403
from .pitch import *  # noqa: F401,F403
from .spectrograms import *  # noqa: F401,F403

__all__ = spectrograms.__all__ + energy.__all__ + pitch.__all__
