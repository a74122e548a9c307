"""ddsp's ``training.inference``: trained models re-configured for inference.

- :class:`AutoencoderInference`: an Autoencoder for a new length, reverb optionally removed.
- The VST modules, for models trained with ``models/vst/vst.gin``: :class:`VSTExtractFeatures`,
  :class:`VSTPredictControls`, :class:`VSTStatelessPredictControls`, :class:`VSTSynthesize`,
  :class:`VSTSynthesizeHarmonic`, :class:`VSTSynthesizeNoise`.
- ``module.save_model(folder)`` writes a model folder (config, ``.npz`` checkpoint,
  ``inference_model.json``) in place of ddsp's SavedModel; :func:`load_model` reads it back.
  See docs/inference.md.
"""

from .autoencoder import AutoencoderInference
from .base import parse_operative_config
from .loading import MODULES, load_model
from .vst import (
    VSTBaseModule,
    VSTExtractFeatures,
    VSTPredictControls,
    VSTStatelessPredictControls,
    VSTSynthesize,
    VSTSynthesizeHarmonic,
    VSTSynthesizeNoise,
)

__all__ = [
    "parse_operative_config",
    "load_model",
    "AutoencoderInference",
    "VSTBaseModule",
    "VSTExtractFeatures",
    "VSTPredictControls",
    "VSTStatelessPredictControls",
    "VSTSynthesize",
    "VSTSynthesizeHarmonic",
    "VSTSynthesizeNoise",
    "MODULES",
]
