"""ddsp.losses: base classes and mean_difference, spectral, consistency and pretrained-model losses.

Layers: ``base`` (Loss, LossGroup, mean_difference, ParamLoss), ``spectral`` (SpectralLoss,
MelSpectralLoss), ``consistency`` (synthesizer-control and sinusoid-set losses), ``pretrained``
(embedding losses, CREPE, the transcription HMM). Each registers its classes with gin under
``ddsp_ref.losses``, so configs name them ``@losses.SpectralLoss()`` as in ddsp.
"""

from . import base, consistency, pretrained, spectral
from .base import *  # noqa: F401,F403
from .consistency import *  # noqa: F401,F403
from .pretrained import *  # noqa: F401,F403
from .spectral import *  # noqa: F401,F403

__all__ = base.__all__ + spectral.__all__ + consistency.__all__ + pretrained.__all__
