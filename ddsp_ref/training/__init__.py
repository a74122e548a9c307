"""ddsp's training library (``ddsp.training``): data, data preparation, post-processing.

Submodules load on first use, so ``import ddsp_ref`` stays quick.
"""

import importlib

_SUBMODULES = {
    "data",
    "data_preparation",
    "decoders",
    "models",
    "nn",
    "postprocessing",
    "preprocessing",
}


def __getattr__(name: str):
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module 'ddsp_ref.training' has no attribute {name!r}")
