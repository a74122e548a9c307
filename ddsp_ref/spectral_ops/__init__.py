"""ddsp.spectral_ops: STFT, magnitudes, mel / MFCC, loudness, RMS, framing and f0 estimation.

Layers, bottom to top: ``framing`` (padding modes, frame counts, pad), ``spectrograms`` (stft,
istft, mag / mel / mfcc), ``energy`` (rms, power, A-weighting, loudness), ``pitch`` and
``kernels.pitch_hmm`` (compute_f0). This package gathers their public names under ddsp's
module name.
"""

from . import energy, framing, pitch, spectrograms
from .energy import *  # noqa: F401,F403
from .framing import get_framed_lengths, pad  # noqa: F401
from .pitch import *  # noqa: F401,F403
from .spectrograms import *  # noqa: F401,F403

__all__ = spectrograms.__all__ + framing.__all__ + energy.__all__ + pitch.__all__
