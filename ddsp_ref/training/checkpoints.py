"""Training checkpoints: one atomic ``.npz`` file per step, exact resume, keep the newest N.

``save_checkpoint`` writes ``<save_dir>/ckpt-<step>.npz`` through :func:`ddsp_ref.io.atomic_write`
(temporary file, fsync, rename), so a file under that name is always complete: a writer killed
mid-save leaves only a hidden ``.ckpt-<step>.npz.<pid>.tmp``, which :func:`latest_checkpoint`
never considers. The archive holds plain arrays only (no pickle):

- ``params/<a>/<b>``: the parameter tree, '/'-joined keys, each leaf with its dtype;
- ``opt/<...>``: the optimiser state tree (``opt/step``, ``opt/m/...``, ``opt/v/...`` for Adam);
- ``meta.json``: UTF-8 JSON bytes (a uint8 array) with the format version, the step, the RNG
  state (a numpy Generator's ``bit_generator.state``) and which leaves were Python scalars.

Beside it, ``operative_config-<step>.gin`` (ddsp's name) when a gin config is given. Loaded
arrays are numpy arrays; move them to a device with ``ddsp_ref.backend.to_device``.
"""

from __future__ import annotations

import json
import os
import re
import warnings
import zipfile
from typing import Any

import numpy as np

from ..backend import to_numpy
from ..io import atomic_write
from ..module import flatten_dict, read_npz, unflatten_dict
from ..validation import nonnegative_int, positive_int

__all__ = ["save_checkpoint", "latest_checkpoint", "load_checkpoint", "checkpoint_path"]

_FORMAT = "ddsp_ref.checkpoint"
_VERSION = 1
_META = "meta.json"
_NAME = re.compile(r"ckpt-(\d+)\.npz")


def checkpoint_path(save_dir: str | os.PathLike, step: int) -> str:
    """``<save_dir>/ckpt-<step>.npz``."""
    return os.path.join(os.fspath(save_dir), f"ckpt-{int(step)}.npz")


def _flat_leaves(tree: Any, prefix: str, scalars: dict[str, str]) -> dict[str, np.ndarray]:
    """``{prefix/path: numpy array}`` for a tree of dicts; Python int/float/bool leaves are
    recorded in ``scalars`` so they load back as Python scalars."""
    if not isinstance(tree, dict):
        raise TypeError(f"save_checkpoint: {prefix} must be a dict tree, got {type(tree).__name__}")
    out = {}
    for path, leaf in flatten_dict(tree, prefix).items():
        if isinstance(leaf, (bool, int, float)):
            scalars[path] = type(leaf).__name__
        array = np.asarray(to_numpy(leaf))
        if array.dtype.hasobject:
            raise TypeError(f"save_checkpoint: {path} is not an array of numbers ({leaf!r:.80})")
        out[path] = array
    return out


def _check_keys(tree: Any, where: str) -> None:
    """Reject dict keys that would not survive '/'-joining."""
    if isinstance(tree, dict):
        for key, value in tree.items():
            if not isinstance(key, str) or "/" in key or not key:
                raise ValueError(
                    f"save_checkpoint: {where} key {key!r} must be a string without '/'"
                )
            _check_keys(value, where)


def save_checkpoint(save_dir: str | os.PathLike, step: int, params: dict, opt_state: dict,
                    rng_state: dict | None = None, gin_config: str | None = None,
                    checkpoints_to_keep: int | None = 100) -> str:  # fmt: skip
    """Save one training step atomically and prune old checkpoints.

    Args:
        save_dir: folder (created if needed).
        step: the step number (the file's name); >= 0.
        params: nested dict of arrays (numpy or cupy; stored as numpy, dtypes kept).
        opt_state: nested dict, e.g. ``Adam.init``'s ``{'step', 'm', 'v'}``.
        rng_state: a numpy Generator's ``bit_generator.state`` (JSON-serialisable), or None.
        gin_config: the operative gin config text, written as ``operative_config-<step>.gin``.
        checkpoints_to_keep: keep the newest N ``ckpt-*.npz`` (None keeps all), as ddsp's
            CheckpointManager; operative configs are kept, as in ddsp.

    Returns:
        the path of the checkpoint written.
    """
    step = nonnegative_int(step, "step", "save_checkpoint")
    if checkpoints_to_keep is not None:
        checkpoints_to_keep = positive_int(checkpoints_to_keep, "checkpoints_to_keep",
                                           "save_checkpoint")  # fmt: skip
    _check_keys(params, "params")
    _check_keys(opt_state, "opt_state")
    scalars: dict[str, str] = {}
    arrays = {**_flat_leaves(params, "params", scalars), **_flat_leaves(opt_state, "opt", scalars)}
    meta = {"format": _FORMAT, "version": _VERSION, "step": step, "rng_state": rng_state,
            "scalars": scalars}  # fmt: skip
    try:
        meta_bytes = json.dumps(meta).encode("utf-8")
    except (TypeError, ValueError) as err:
        raise TypeError(f"save_checkpoint: rng_state is not JSON-serialisable: {err}") from None
    arrays[_META] = np.frombuffer(meta_bytes, dtype=np.uint8)
    path = checkpoint_path(save_dir, step)
    with atomic_write(path) as f:
        np.savez(f, **arrays)
    if gin_config is not None:
        gin_path = os.path.join(os.fspath(save_dir), f"operative_config-{step}.gin")
        with atomic_write(gin_path, "w") as f:
            f.write(gin_config)
    if checkpoints_to_keep is not None:
        # The file just written always stays, even when higher steps exist (a restart from an
        # older checkpoint); the others are pruned from the lowest step up.
        others = [old for _, old in _candidates(save_dir) if old != path]
        for old in others[checkpoints_to_keep - 1 :]:
            os.remove(old)
    return path


def _candidates(folder: str | os.PathLike) -> list[tuple[int, str]]:
    """``(step, path)`` of files named exactly ``ckpt-<step>.npz``, newest first."""
    folder = os.fspath(folder)
    found = []
    for name in os.listdir(folder):
        match = _NAME.fullmatch(name)
        if match and os.path.isfile(os.path.join(folder, name)):
            found.append((int(match.group(1)), os.path.join(folder, name)))
    return sorted(found, reverse=True)


def _is_complete(path: str) -> bool:
    """A zip archive whose central directory (written last) is intact and holds the meta."""
    try:
        with zipfile.ZipFile(path) as archive:
            return f"{_META}.npy" in archive.namelist()
    except (OSError, zipfile.BadZipFile, ValueError):
        return False


def latest_checkpoint(restore_dir: str | os.PathLike) -> str | None:
    """The path of the highest-step complete checkpoint in ``restore_dir``, or None if there is
    none (or no such folder). Temporary files and other names are ignored; a damaged file
    under a checkpoint name is skipped with a warning."""
    if not os.path.isdir(restore_dir):
        return None
    for _, path in _candidates(restore_dir):
        if _is_complete(path):
            return path
        warnings.warn(
            f"latest_checkpoint: skipping {path}: not a complete checkpoint", stacklevel=2
        )
    return None


def resolve_checkpoint(path_or_dir: str | os.PathLike, where: str = "checkpoint") -> str:
    """The checkpoint file a path designates: the file itself, or the latest complete
    ``ckpt-<step>.npz`` of a folder.

    Raises:
        FileNotFoundError: no such file, or a folder without a complete checkpoint (the
            message starts with ``where``).
    """
    path = os.fspath(path_or_dir)
    if os.path.isdir(path):
        found = latest_checkpoint(path)
        if found is None:
            raise FileNotFoundError(
                f"{where}: no checkpoint: no complete ckpt-<step>.npz in {path}"
            )
        return found
    if not os.path.exists(path):
        raise FileNotFoundError(f"{where}: no such checkpoint file: {path}")
    return path


def load_checkpoint(path_or_dir: str | os.PathLike) -> tuple[int, dict, dict, dict | None]:
    """Load a checkpoint file, or the latest one of a folder.

    Returns:
        ``(step, params, opt_state, rng_state)``: trees of numpy arrays with the saved dtypes
        (Python scalars where Python scalars were saved), and the RNG state dict or None.

    Raises:
        FileNotFoundError: no such file, or a folder without a complete checkpoint.
        ValueError: a truncated or corrupt file, or an archive that is not a checkpoint.
    """
    path = resolve_checkpoint(path_or_dir, "load_checkpoint")
    arrays = read_npz(path)
    meta = _read_meta(path, arrays.pop(_META, None))
    trees: dict[str, dict] = {"params": {}, "opt": {}}
    for key, array in arrays.items():
        head, _, rest = key.partition("/")
        if head not in trees or not rest:
            raise ValueError(f"load_checkpoint({path}): unexpected entry {key!r}")
        kind = meta["scalars"].get(key)
        value = {"int": int, "float": float, "bool": bool}[kind](array) if kind else array
        trees[head][rest] = value
    params, opt_state = unflatten_dict(trees["params"]), unflatten_dict(trees["opt"])
    return int(meta["step"]), params, opt_state, meta["rng_state"]


def _read_meta(path: str, raw: np.ndarray | None) -> dict:
    if raw is None:
        raise ValueError(f"load_checkpoint({path}): no {_META} entry: not a ddsp_ref checkpoint")
    try:
        meta = json.loads(raw.astype(np.uint8).tobytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ValueError(f"load_checkpoint({path}): unreadable {_META}: {err}") from None
    if not isinstance(meta, dict) or meta.get("format") != _FORMAT:
        raise ValueError(f"load_checkpoint({path}): not a ddsp_ref checkpoint")
    if meta.get("version") != _VERSION:
        raise ValueError(
            f"load_checkpoint({path}): checkpoint format version {meta.get('version')!r}; "
            f"this ddsp_ref reads version {_VERSION}"
        )
    return meta
