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
- Non-trainable parameters (keras' non-trainable weights, e.g. spectral normalisation's
  ``sn_u``) are parameters like the others (saved, restored, bound by ``apply``) that
  :meth:`Module.partition` sets apart, so they get neither gradients nor optimiser state.
- ``module.before_training_forward(params)`` gives the parameters a training forward runs with:
  keras layers that rewrite their weights at the start of a training call (spectral
  normalisation) do it there, functionally. The Trainer applies it before each step; a direct
  call in the training phase (:func:`training_phase`, set by ``Model`` from its ``training``
  argument, like keras' call context) updates the stored parameters in place, as keras does.
- ``module.save(path)`` / ``module.load(path)`` use ``.npz`` files with '/'-joined keys, written
  to a temporary file and renamed, so an interrupted save never leaves a broken file.
"""

from __future__ import annotations

import contextlib
import contextvars
import io
import os
import re
import zipfile
from typing import Any

import numpy as np

from .backend import to_numpy
from .io import atomic_write

# Parameters bound by `Module.apply` for the call in progress: {id(module): own params dict}.
_BOUND: contextvars.ContextVar[dict | None] = contextvars.ContextVar(
    "ddsp_ref_bound_parameters", default=None
)
# keras' training phase of the call in progress (its call context): set by `training_phase`;
# None outside any call that set it.
_TRAINING: contextvars.ContextVar[bool | None] = contextvars.ContextVar(
    "ddsp_ref_training_phase", default=None
)


@contextlib.contextmanager
def training_phase(training: bool = True):
    """Calls inside run in keras' training phase (``training=True`` of a keras call, which
    keras passes down to every nested layer); ``Model.__call__`` enters it from its
    ``training`` argument."""
    token = _TRAINING.set(bool(training))
    try:
        yield
    finally:
        _TRAINING.reset(token)


def in_training_phase() -> bool:
    """Whether the call in progress is a training call (see :func:`training_phase`)."""
    return bool(_TRAINING.get())


def outer_training_phase() -> bool | None:
    """The training phase set by an enclosing call, or None outside any (keras' call context,
    which an inner call without an explicit ``training`` inherits)."""
    return _TRAINING.get()


def in_apply() -> bool:
    """Whether the call in progress runs under :meth:`Module.apply` (which must leave every
    module's stored parameters as they are)."""
    return _BOUND.get() is not None


class Module:
    """Base class of anything that owns parameters or child modules."""

    def __init__(self, name: str | None = None, trainable: bool = False):
        self.name = name if name is not None else _snake_case(type(self).__name__)
        self.trainable = trainable
        self._params: dict[str, Any] = {}
        self._non_trainable: set[str] = set()

    # -- structure -------------------------------------------------------------------------
    def children(self) -> dict[str, Module]:
        """Child modules by name (ProcessorGroup overrides this)."""
        return {}

    def add_parameter(self, name: str, value: Any, trainable: bool = True) -> None:
        """Add the parameter ``name``; ``trainable=False`` makes it state that is saved and
        restored but never differentiated nor updated by an optimiser (see :meth:`partition`)."""
        self._params[name] = value
        if not trainable:
            self._non_trainable.add(name)

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

    def partition(self, params: dict[str, Any]) -> tuple[dict, dict]:
        """``(trainable, non_trainable)``: ``params`` (the structure of :meth:`parameters`)
        split into two trees of the same nesting; sub-trees left empty are dropped.
        :func:`merge_trees` puts them back together."""
        children = self.children()
        trainable: dict[str, Any] = {}
        state: dict[str, Any] = {}
        for key, value in params.items():
            if key in children:
                sub_t, sub_s = children[key].partition(value)
                if sub_t:
                    trainable[key] = sub_t
                if sub_s:
                    state[key] = sub_s
            elif key in self._params:
                (state if key in self._non_trainable else trainable)[key] = value
            else:
                raise self._unknown(key)
        return trainable, state

    def before_training_forward(self, params: dict[str, Any]) -> dict[str, Any]:
        """The parameters (plain arrays, the structure of :meth:`parameters`) that a training
        forward runs with; a new dict, the module is not modified.

        By default each child's own hook; layers that rewrite their weights at the start of a
        training call (spectral normalisation) override it. Nothing is differentiated through
        it: the Trainer applies it, then takes gradients at the parameters it returns."""
        children = self.children()
        out = dict(params)
        for key, value in params.items():
            if key in children:
                out[key] = children[key].before_training_forward(value)
        return out

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


def merge_trees(a: dict, b: dict) -> dict:
    """Nested dicts ``a`` and ``b`` as one tree (the inverse of :meth:`Module.partition`)."""
    out = dict(a)
    for key, value in b.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge_trees(out[key], value)
        else:
            out[key] = value
    return out


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
    """keras' default layer name for a class name (so ddsp's default names carry over):
    ``TWMLoss`` -> ``twm_loss``, ``KDEConsistencyLoss`` -> ``kde_consistency_loss``,
    ``Conv1D`` -> ``conv1d``; a leading underscore becomes ``private_``."""
    words = re.sub(r"(.)([A-Z][a-z0-9]+)", r"\1_\2", name)
    snake = re.sub(r"([a-z])([A-Z])", r"\1_\2", words).lower()
    return "private" + snake if snake.startswith("_") else snake
