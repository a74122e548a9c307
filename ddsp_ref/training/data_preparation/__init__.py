"""Audio files to training datasets (ddsp's ``data_preparation``), without TensorFlow or Beam."""

from .audio import AudioError, load_audio, resample
from .examples import FEATURE_KEYS, PrepareConfig, feature_lengths
from .pipeline import expand_inputs, prepare_dataset
from .storage import FORMAT_NAME, FORMAT_VERSION, read_manifest

__all__ = [
    "AudioError",
    "FEATURE_KEYS",
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "PrepareConfig",
    "expand_inputs",
    "feature_lengths",
    "load_audio",
    "prepare_dataset",
    "read_manifest",
    "resample",
]
