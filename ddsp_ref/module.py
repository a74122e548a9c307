"""Module: named parameters as a (nested) dict, call-with-parameters, atomic save / load.

The convention every trainable piece of ddsp_ref follows (processors, groups, later models):

- ``module.parameters()`` returns a nested dict of arrays: the module's own parameters by name
  and, under each child's name, the child's parameters (children without any are left out).
- ``module.apply(params, *args, **kwargs)`` calls the module with ``params`` in place of its
  stored parameters. It is functional: the parameters are read from the argument through a
  context variable, the module itself is never modified, so calls are re-entrant and several
  threads may apply one module with different parameters at once. Inside ``value_and_grad`` the
  leaves are Tensors, so gradients flow to them:
  ``value_and_grad(lambda p, x: loss(group.apply(p, x)))(group.parameters(), x)``.
- ``module.set_parameters(params)`` stores new values (e.g. after an optimiser step).
- ``module.save(path)`` / ``module.load(path)`` use ``.npz`` files with '/'-joined keys, written
  to a temporary file and renamed, so an interrupted save never leaves a broken file.
"""

from __future__ import annotations

import contextvars
import io
import os
import zipfile
from typing import Any

import numpy as np

from .backend import to_numpy
from .io import atomic_write

# Parameters bound by `Module.apply` for the call in progress: {id(module): own params dict}.
_BOUND: contextvars.ContextVar[dict | None] = contextvars.ContextVar(
    "ddsp_ref_bound_parameters", default=None
)


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
        """The parameter ``name``: the one bound by :meth:`apply` for the call in progress,
        else the stored one."""
        bound = _BOUND.get()
        if bound is not None:
            own = bound.get(id(self))
            if own is not None and name in own:
                return own[name]
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
        children = self.children()
        for key, value in params.items():
            if key in self._params:
                self._params[key] = value
            elif key in children:
                children[key].set_parameters(value)
            else:
                raise self._unknown(key)

    def _unknown(self, key: str) -> KeyError:
        return KeyError(
            f"{type(self).__name__} {self.name!r} has no parameter or child {key!r}; it has "
            f"{sorted(self.parameters())}"
        )

    def _bind(self, params: dict[str, Any], bindings: dict[int, dict]) -> None:
        if not isinstance(params, dict):
            raise TypeError(
                f"{type(self).__name__} {self.name!r}: parameters must be a dict, got "
                f"{type(params).__name__}"
            )
        children = self.children()
        own = {}
        for key, value in params.items():
            if key in self._params:
                own[key] = value
            elif key in children:
                children[key]._bind(value, bindings)
            else:
                raise self._unknown(key)
        bindings[id(self)] = own

    def apply(self, params: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        """Call the module with ``params`` (arrays or Tensors, the structure of
        :meth:`parameters`; missing entries fall back to the stored values) in place of its
        stored parameters, without modifying the module."""
        bindings = dict(_BOUND.get() or {})
        self._bind(params, bindings)
        token = _BOUND.set(bindings)
        try:
            return self(*args, **kwargs)
        finally:
            _BOUND.reset(token)

    # -- persistence -----------------------------------------------------------------------
    def save(self, path: str | os.PathLike) -> None:
        """Write the parameters to ``path`` (.npz) atomically (temporary file, then rename)."""
        flat = flatten_dict(self.parameters())
        with atomic_write(path) as f:
            np.savez(f, **{k: to_numpy(v) for k, v in flat.items()})

    def load(self, path: str | os.PathLike) -> None:
        """Load parameters saved by :meth:`save`; names and shapes must match the module's.

        Raises:
            ValueError: a file that is not a complete ``.npz`` archive (truncated, corrupt, a
                ``.npy`` file), a shape mismatch, or non-finite values.
            TypeError: a parameter stored with a non-floating dtype.
            KeyError: missing or unexpected parameter names.
        """
        loaded = read_npz(path)
        current = flatten_dict(self.parameters())
        missing = sorted(set(current) - set(loaded))
        unexpected = sorted(set(loaded) - set(current))
        if missing or unexpected:
            raise KeyError(f"load({path}): missing {missing}, unexpected {unexpected}")
        for key, value in loaded.items():
            want = current[key]
            if tuple(value.shape) != tuple(want.shape):
                raise ValueError(
                    f"load({path}): {key} has shape {value.shape}, expected {want.shape}"
                )
            if value.dtype.kind != "f":
                raise TypeError(
                    f"load({path}): {key} has dtype {value.dtype}, expected a floating array"
                )
            if not np.all(np.isfinite(value)):
                raise ValueError(f"load({path}): {key} holds non-finite values (NaN or inf)")
            loaded[key] = value.astype(np.asarray(to_numpy(want)).dtype, copy=False)
        self.set_parameters(unflatten_dict(loaded))


def read_npz(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """All arrays of an ``.npz`` archive, read eagerly, with a ValueError naming the file for
    anything that is not a complete archive (no pickled objects are ever loaded)."""
    path = os.fspath(path)
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except IsADirectoryError:
        raise ValueError(f"load({path}): is a folder, not an .npz file") from None
    if raw.startswith(b"\x93NUMPY"):
        raise ValueError(f"load({path}): is a .npy file; expected an .npz archive from save()")
    try:
        with np.load(io.BytesIO(raw), allow_pickle=False) as data:
            if not isinstance(data, np.lib.npyio.NpzFile):
                raise ValueError("not an archive")
            return {k: data[k] for k in data.files}
    except (ValueError, OSError, EOFError, zipfile.BadZipFile, KeyError) as err:
        raise ValueError(
            f"load({path}): not a complete .npz archive (truncated or corrupt?): {err}"
        ) from None


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
