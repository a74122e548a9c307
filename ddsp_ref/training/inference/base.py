"""What every inference module shares: reading the operative config, restoring a checkpoint
into a model configured differently from training, and the exported model folder.

The exported folder (``save_model``) replaces ddsp's SavedModel, which needs TensorFlow:

- ``operative_config-<step>.gin``: the gin config the module was built from (the training
  config with the inference bindings applied: new lengths, reverb removed, ...);
- ``ckpt-<step>.npz``: the restored parameters (ddsp_ref's checkpoint format; absent for the
  synthesis-only modules, which have none);
- ``inference_model.json``: which inference class and which constructor arguments.

``inference.load_model(folder)`` (``loading.py``) rebuilds the module from it. An
``AutoencoderInference`` folder is also an ordinary model folder: ``AutoencoderInference(folder)``
and ``model_dir.load_model(folder)`` read it.
"""

from __future__ import annotations

import json
import os
import re
import sys
from typing import Any

from ...backend import array_namespace
from ...gin_support import require_gin
from ...module import flatten_dict, unflatten_dict

__all__ = ["parse_operative_config", "MODEL_FILE", "ExportMixin"]

MODEL_FILE = "inference_model.json"
FORMAT = "ddsp_ref.inference_model"
VERSION = 1
_STEP = re.compile(r"ckpt-(\d+)")


def parse_operative_config(ckpt_dir: str | os.PathLike) -> str:
    """Parse the latest ``operative_config-<step>.gin`` of a checkpoint folder (or of the
    folder of a checkpoint file / prefix), as ddsp does: added to the current gin config
    (not cleared first, so bindings made before, e.g. ``--gin_param``, stay unless the
    config rebinds them), unknown names skipped.

    Returns:
        the config file parsed (ddsp returns None; it prints the path).

    Raises:
        FileNotFoundError: no operative config in the folder nor beside the file.
        ImportError: gin-config is not installed.
    """
    from ..model_dir import latest_operative_config

    gin = require_gin()
    from ... import training  # noqa: F401  (registers ddsp's gin names)

    path = os.fspath(ckpt_dir)
    folder = path if os.path.isdir(path) else os.path.dirname(path) or "."
    config = latest_operative_config(folder)
    print(f"Parsing from operative_config {config}")
    with gin.unlock_config():
        gin.parse_config_file(config, skip_unknown=True)
    return config


def query(name: str, where: str, hint: str = "") -> Any:
    """``gin.query_parameter(name)`` with a macro (``%sample_rate``) replaced by its value, or
    a ValueError naming what the config lacks."""
    gin = require_gin()
    try:
        value = gin.query_parameter(name)
    except ValueError:
        raise ValueError(
            f"{where}: the operative config has no binding for {name!r}{hint}"
        ) from None
    is_macro = getattr(value, "config_key", (None, None))[-1] == "gin.macro"
    return value.scoped_configurable_fn() if is_macro else value


def processor_by_name(group: Any, name: str, where: str, hint: str = "") -> Any:
    """The processor called ``name`` in a ProcessorGroup (ddsp: ``group.<name>``)."""
    named = dict(zip(group.processor_names, group.processors))
    if name not in named:
        raise ValueError(
            f"{where}: the processor group has no {name!r} processor (has {sorted(named)}){hint}"
        )
    return named[name]


def parse_bindings(lines: list[str]) -> None:
    gin = require_gin()
    with gin.unlock_config():
        gin.parse_config(lines)


def restore_partial(
    model: Any, ckpt: str | os.PathLike, verbose: bool, restore_keys: list[str] | None = None
) -> str:
    """Restore ``model`` from ddsp_ref's or ddsp's checkpoint, ignoring checkpoint parameters
    the model has no place for (a removed reverb): TF's ``expect_partial``. Every parameter
    of the model (of ``restore_keys`` sub-modules, if given) must be in the checkpoint.

    Returns:
        the checkpoint file read.
    """
    from ..models import _restored_like

    where = f"{type(model).__name__}.restore"
    path, loaded = model._checkpoint_params(ckpt)
    current = model.parameters()
    if restore_keys is not None:
        current = {k: v for k, v in current.items() if k in restore_keys}
        absent = [k for k in restore_keys if k not in loaded or k not in current]
        if absent:
            raise KeyError(
                f"{where}: restore_keys {absent} are not sub-modules with parameters in both "
                f"the checkpoint {path} (has {sorted(loaded)}) and the model"
            )
    flat_current = flatten_dict(current)
    flat_loaded = flatten_dict(loaded)
    unused = sorted(set(flat_loaded) - set(flat_current))
    kept = unflatten_dict({k: v for k, v in flat_loaded.items() if k in flat_current})
    restored = flatten_dict(_restored_like(kept, current, path, where))
    # C order once here: the fused RNN op would copy a transposed (Fortran-order) kernel, as
    # keras' orthogonal initialiser leaves it in a checkpoint, on every call.
    model.set_parameters(
        unflatten_dict({k: array_namespace(v).ascontiguousarray(v) for k, v in restored.items()})
    )
    if verbose:
        skipped = f"; not used: {unused}" if unused else ""
        print(f"{where}: restored {sorted(current)} from {path}{skipped}", file=sys.stderr)
    return path


def checkpoint_step(path: str | None) -> int:
    """The step in a checkpoint's name (``ckpt-300.npz``, ``.../ckpt-300``), else 0."""
    match = _STEP.search(os.path.basename(path or ""))
    return int(match.group(1)) if match else 0


class ExportMixin:
    """``save_model(save_dir)`` for the inference modules (see the module docstring).

    A module sets ``self._export_kwargs`` (its constructor arguments but ``ckpt``),
    ``self._config_text`` (``gin.config_str()`` once configured) and ``self._step``; and
    overrides :meth:`export_params` when it has parameters to save.
    """

    def export_params(self) -> dict | None:
        """The parameters ``save_model`` writes (None: no checkpoint file)."""
        return None

    def save_model(self, save_dir: str | os.PathLike) -> str:
        """Write the model folder described in :mod:`ddsp_ref.training.inference.base`:
        ``operative_config-<step>.gin``, ``ckpt-<step>.npz`` (if the module has parameters)
        and ``inference_model.json``. ddsp writes a TensorFlow SavedModel here, which ddsp_ref
        cannot produce; ``load_model(save_dir)`` reads this folder back.

        Returns:
            ``save_dir``.
        """
        from ...io import atomic_write
        from ..checkpoints import save_checkpoint

        save_dir = os.fspath(save_dir)
        os.makedirs(save_dir, exist_ok=True)
        params = self.export_params()
        if params is not None:
            save_checkpoint(
                save_dir,
                self._step,
                params,
                {},
                gin_config=self._config_text,
                checkpoints_to_keep=None,
            )
        else:
            with atomic_write(
                os.path.join(save_dir, f"operative_config-{self._step}.gin"), "w"
            ) as f:
                f.write(self._config_text)
        info = {
            "format": FORMAT,
            "version": VERSION,
            "class": type(self).__name__,
            "kwargs": self._export_kwargs,
            "step": self._step,
        }
        with atomic_write(os.path.join(save_dir, MODEL_FILE), "w") as f:
            json.dump(info, f, indent=1, sort_keys=True)
        return save_dir
