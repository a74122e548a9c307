"""Module attributes imported on first use (PEP 562 ``__getattr__``).

Keeps ``import ddsp_ref`` quick (no numba, no training library until asked for) and lets a
module offer names defined in modules that import it (ddsp's ``training.models.MidiAutoencoder``
lives in ``training.midi_autoencoder``, which imports ``training.models``).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Mapping
from typing import Any

__all__ = ["lazy_getattr"]


def lazy_getattr(module_name: str, submodules: Iterable[str] = (),
                 attributes: Mapping[str, str] | None = None) -> Callable[[str], Any]:  # fmt: skip
    """A ``__getattr__`` for the module ``module_name``: each name of ``submodules`` imports
    ``<module_name>.<name>``; each name of ``attributes`` is read from the module it maps to
    (relative to the package of ``module_name``, e.g. ``'.midi_autoencoder'``)."""
    submodules = frozenset(submodules)
    attributes = dict(attributes or {})
    package = module_name.rpartition(".")[0] or module_name

    def __getattr__(name: str) -> Any:
        if name in submodules:
            return importlib.import_module(f"{module_name}.{name}")
        if name in attributes:
            return getattr(importlib.import_module(attributes[name], package), name)
        raise AttributeError(f"module {module_name!r} has no attribute {name!r}")

    return __getattr__
