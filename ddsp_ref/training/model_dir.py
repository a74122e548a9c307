"""Trained models on disk: a folder as ddsp's training runs and the colab's downloads leave it.

A model folder holds a checkpoint (``ckpt-<step>.npz``; the latest is used), the operative gin
config written beside it (``operative_config-<step>.gin``: it describes the model with ddsp's gin
names) and, for timbre transfer, ``dataset_statistics.json``
(``postprocessing.save_dataset_statistics``). The package ships one: the violin model of
``ddsp_ref/data/models/violin`` (see its README for how it was trained).

Loading needs gin-config (the ``gin`` extra), as ddsp's colab does.
"""

from __future__ import annotations

import glob
import os
import re
from typing import Any

__all__ = ["SHIPPED_MODEL_DIR", "latest_operative_config", "load_model", "load_statistics"]

SHIPPED_MODEL_DIR = os.path.join(os.path.dirname(__file__), "..", "data", "models", "violin")
STATISTICS_FILE = "dataset_statistics.json"


def latest_operative_config(model_dir: str) -> str:
    """``operative_config-<step>.gin`` with the highest step in ``model_dir``.

    Raises:
        FileNotFoundError: the folder has none.
    """
    found = glob.glob(os.path.join(model_dir, "operative_config-*.gin"))
    steps = {}
    for path in found:
        match = re.fullmatch(r"operative_config-(\d+)\.gin", os.path.basename(path))
        if match:
            steps[int(match.group(1))] = path
    if not steps:
        raise FileNotFoundError(
            f"no operative_config-<step>.gin in {model_dir!r}: a model folder needs the gin "
            "config written beside its checkpoints"
        )
    return steps[max(steps)]


def load_statistics(model_dir: str) -> dict | None:
    """The dataset statistics of a model folder, or None when it has none."""
    from .postprocessing import load_dataset_statistics

    path = os.path.join(model_dir, STATISTICS_FILE)
    return load_dataset_statistics(path) if os.path.exists(path) else None


def _parse_config(config_path: str) -> None:
    try:
        import gin
    except ImportError as error:
        raise ImportError(
            "loading a model folder needs gin-config: pip install 'ddsp_ref[gin]'"
        ) from error
    from .. import training  # noqa: F401  (registers ddsp's gin names)

    gin.clear_config()
    gin.parse_config_file(config_path, skip_unknown=True)


def load_model(model_dir: str | None = None, seed: int | None = None) -> tuple[Any, dict | None]:
    """Build the model a folder's operative config describes and restore its latest checkpoint
    (ddsp_ref's ``ckpt-<step>.npz`` or ddsp's TensorFlow checkpoint).

    Args:
        model_dir: the folder; None: the shipped violin model.
        seed: seed of the FilteredNoise synths' noise (``FilteredNoise.seed``), for a
            reproducible rendering; None keeps the config's.

    Returns:
        (model, dataset statistics or None). The model is an ``Autoencoder`` with its parameters
        restored, configured as in training (``n_samples``, ``time_steps``), ready for
        ``model(features, training=False)``.

    Raises:
        FileNotFoundError: no such folder, or no config / checkpoint in it.
        ImportError: gin-config is not installed.
    """
    from .models import Autoencoder

    model_dir = os.path.abspath(SHIPPED_MODEL_DIR if model_dir is None else model_dir)
    if not os.path.isdir(model_dir):
        raise FileNotFoundError(f"load_model: no model folder {model_dir!r}")
    _parse_config(latest_operative_config(model_dir))
    if seed is not None:
        import gin

        gin.bind_parameter("FilteredNoise.seed", int(seed))
    model = Autoencoder()
    _build(model)
    model.restore(model_dir, verbose=False)
    return model, load_statistics(model_dir)


def _build(model: Any, n_frames: int = 4) -> None:
    """One call on a few silent frames creates the lazily sized layers; the frame and sample
    counts the model was configured with are put back afterwards, and the noise synths restart
    their sequence (so a seeded model renders as if never called)."""
    import numpy as np

    preprocessor = model.preprocessor
    hop = preprocessor.sample_rate // preprocessor.frame_rate
    sized = [p for p in model.processor_group.processors if hasattr(p, "n_samples")]
    saved = preprocessor.time_steps, [p.n_samples for p in sized]
    preprocessor.time_steps = n_frames
    for processor in sized:
        processor.n_samples = n_frames * hop
    try:
        zeros = np.zeros((1, n_frames), np.float32)
        model({"f0_hz": zeros + 220.0, "loudness_db": zeros - 80.0,
               "audio": np.zeros((1, n_frames * hop), np.float32)}, training=False)  # fmt: skip
    finally:
        preprocessor.time_steps = saved[0]
        for processor, n_samples in zip(sized, saved[1]):
            processor.n_samples = n_samples
        for processor in model.processor_group.processors:
            if hasattr(processor, "reset_noise"):
                processor.reset_noise()
