"""Reading back the model folder ``save_model`` writes (see ``base``): ``load_model``."""

from __future__ import annotations

import json
import os
from typing import Any

from ...gin_support import require_gin
from .autoencoder import AutoencoderInference
from .base import FORMAT, MODEL_FILE, VERSION
from .vst import (
    VSTExtractFeatures,
    VSTPredictControls,
    VSTStatelessPredictControls,
    VSTSynthesize,
    VSTSynthesizeHarmonic,
    VSTSynthesizeNoise,
)

__all__ = ["MODULES", "load_model"]

# The inference classes by name (``inference_model.json``'s ``class``).
MODULES = {
    cls.__name__: cls
    for cls in (
        AutoencoderInference,
        VSTExtractFeatures,
        VSTPredictControls,
        VSTStatelessPredictControls,
        VSTSynthesize,
        VSTSynthesizeHarmonic,
        VSTSynthesizeNoise,
    )
}


def load_model(save_dir: str | os.PathLike, verbose: bool = False) -> Any:
    """Rebuild the inference module ``save_model`` wrote to ``save_dir``.

    The gin config is cleared first (a fresh process would start empty), then the folder's
    operative config is parsed by the module's constructor.

    Raises:
        FileNotFoundError: no ``inference_model.json`` in the folder (e.g. a training folder:
            build the module from it directly, ``AutoencoderInference(folder)``).
        ValueError: a file of another format or version, or an unknown class.
    """
    save_dir = os.fspath(save_dir)
    path = os.path.join(save_dir, MODEL_FILE)
    if not os.path.isfile(path):
        raise FileNotFoundError(
            f"load_model: no {MODEL_FILE} in {save_dir!r}: not a folder written by save_model "
            "(for a training folder, construct the module from it, e.g. "
            "AutoencoderInference(folder))"
        )
    with open(path, encoding="utf-8") as f:
        info = json.load(f)
    if info.get("format") != FORMAT or info.get("version") != VERSION:
        raise ValueError(
            f"load_model: {path} is not a {FORMAT} version {VERSION} file (format "
            f"{info.get('format')!r}, version {info.get('version')!r})"
        )
    cls = MODULES.get(info.get("class"))
    if cls is None:
        raise ValueError(
            f"load_model: unknown inference class {info.get('class')!r} in {path}; known: "
            f"{sorted(MODULES)}"
        )
    require_gin().clear_config()
    kwargs = dict(info["kwargs"])
    if "verbose" in kwargs:
        kwargs["verbose"] = verbose
    return cls(save_dir, **kwargs)
