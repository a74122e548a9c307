"""ddsp's training library (``ddsp.training``): layers, preprocessing, encoders, decoders, models,
optimisation and checkpoints, data, data preparation, post-processing.

Like ``import ddsp.training``, importing this package registers the model-side classes with gin
(so a config that starts with ``import ddsp.training`` finds ``@models.Autoencoder()``); the data
side loads on first use. ``import ddsp_ref`` alone imports none of it.
"""

# ddsp's ``import ddsp`` (the first line of its configs) also loads the losses, so an operative
# config's SpectralLoss resolves; the gin alias maps ``ddsp`` onto this package's modules.
from .. import losses as _losses  # noqa: F401
from ..lazy import lazy_getattr

# gin registration
from . import (  # noqa: F401
    checkpoints,
    decoders,
    decoders_midi,
    encoders,
    encoders_midi,
    encoders_sinusoidal,
    eval_util,
    evaluators,
    evaluators_midi,
    evaluators_twm,
    heuristics,
    inverse_synthesis,
    metrics,
    metrics_midi,
    midi_autoencoder,
    models,
    nn,
    optimizers,
    preprocessing,
    train_util,
    trainers,
)

_SUBMODULES = {"data", "data_multi", "data_preparation", "postprocessing", "inference"}


__getattr__ = lazy_getattr(__name__, _SUBMODULES)
