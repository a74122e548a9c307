"""Module: named parameters as a (nested) dict, call-with-parameters, atomic save / load.

The convention every trainable piece of ddsp_ref follows (processors, groups, later models):

- ``module.parameters()`` returns a nested dict of arrays: the module's own parameters by name
  and, under each child's name, the child's parameters (children without any are left out).
- ``module.apply(params, *args, **kwargs)`` calls the module with ``params`` in place of its
  stored parameters. Inside ``value_and_grad`` the leaves are Tensors, so gradients flow to them:
  ``value_and_grad(lambda p, x: loss(group.apply(p, x)))(group.parameters(), x)``.
- ``module.set_parameters(params)`` stores new values (e.g. after an optimiser step).
- ``module.save(path)`` / ``module.load(path)`` use ``.npz`` files with '/'-joined keys, written
  to a temporary file and renamed, so an interrupted save never leaves a broken file.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from typing import Any

import numpy as np

from .backend import to_numpy


class Module:
    """Base class of anything that owns parameters or child modules."""

    def __init__(self, name: str | None = None, trainable: bool = False):
        self.name = name if name is not None else _snake_case(type(self).__name__)
        self.trainable = trainable
        self._params: dict[str, Any] = {}

    # -- structure -------------------------------------------------------------------------
    def children(self) -> dict[str, Module]:
        """Child modules by name (ProcessorGroup overrides this)."""
        return {}

    def add_parameter(self, name: str, value: Any) -> None:
        self._params[name] = value

    def parameter(self, name: str) -> Any:
        return self._params[name]

    def parameters(self) -> dict[str, Any]:
        """Own parameters and, under each child's name, the child's (nested dict of arrays)."""
        out: dict[str, Any] = dict(self._params)
        for child_name, child in self.children().items():
            sub = child.parameters()
            if sub:
                out[child_name] = sub
        return out

    def set_parameters(self, params: dict[str, Any]) -> None:
        """Replace stored parameters with the values in ``params`` (same structure)."""
        for key, value in params.items():
            if key in self._params:
                self._params[key] = value
            elif key in self.children():
                self.children()[key].set_parameters(value)
            else:
                raise KeyError(
                    f"{type(self).__name__} {self.name!r} has no parameter or child {key!r}; "
                    f"it has {sorted(self.parameters())}"
                )

    @contextlib.contextmanager
    def bound(self, params: dict[str, Any]) -> Iterator[Module]:
        """Temporarily use ``params`` (arrays or Tensors) as this module's parameters."""
        saved = _snapshot(self)
        try:
            self.set_parameters(params)
            yield self
        finally:
            _restore(self, saved)

    def apply(self, params: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        """Call the module with ``params`` in place of its stored parameters."""
        with self.bound(params):
            return self(*args, **kwargs)

    # -- persistence -----------------------------------------------------------------------
    def save(self, path: str | os.PathLike) -> None:
        """Write the parameters to ``path`` (.npz) atomically (temporary file, then rename)."""
        flat = flatten_dict(self.parameters())
        path = os.fspath(path)
        folder = os.path.dirname(os.path.abspath(path))
        os.makedirs(folder, exist_ok=True)
        fd, tmp = tempfile.mkstemp(suffix=".npz.tmp", dir=folder)
        try:
            with os.fdopen(fd, "wb") as f:
                np.savez(f, **{k: to_numpy(v) for k, v in flat.items()})
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.remove(tmp)
            raise

    def load(self, path: str | os.PathLike) -> None:
        """Load parameters saved by :meth:`save`; shapes must match the module's."""
        with np.load(os.fspath(path)) as data:
            loaded = {k: data[k] for k in data.files}
        current = flatten_dict(self.parameters())
        missing = sorted(set(current) - set(loaded))
        unexpected = sorted(set(loaded) - set(current))
        if missing or unexpected:
            raise KeyError(f"load({path}): missing {missing}, unexpected {unexpected}")
        for key, value in loaded.items():
            if tuple(value.shape) != tuple(current[key].shape):
                raise ValueError(
                    f"load({path}): {key} has shape {value.shape}, expected {current[key].shape}"
                )
        self.set_parameters(unflatten_dict(loaded))


def _snapshot(module: Module) -> dict:
    return {
        "params": dict(module._params),
        "children": {n: _snapshot(c) for n, c in module.children().items()},
    }


def _restore(module: Module, saved: dict) -> None:
    module._params = saved["params"]
    for name, child in module.children().items():
        _restore(child, saved["children"][name])


def flatten_dict(tree: dict, prefix: str = "", delimiter: str = "/") -> dict[str, Any]:
    out = {}
    for key, value in tree.items():
        path = f"{prefix}{delimiter}{key}" if prefix else key
        if isinstance(value, dict):
            out.update(flatten_dict(value, path, delimiter))
        else:
            out[path] = value
    return out


def unflatten_dict(flat: dict[str, Any], delimiter: str = "/") -> dict:
    out: dict = {}
    for path, value in flat.items():
        node = out
        *parents, leaf = path.split(delimiter)
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = value
    return out


def _snake_case(name: str) -> str:
    chars = []
    for i, c in enumerate(name):
        if c.isupper() and i and not name[i - 1].isupper():
            chars.append("_")
        chars.append(c.lower())
    return "".join(chars)
