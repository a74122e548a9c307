"""``ddsp_ref run`` (ddsp's ``ddsp_run``): train, evaluate or sample a model from gin configs.

Usage::

    ddsp_ref prepare my_recordings/*.wav --output_dir data/violin
    ddsp_ref run --mode train --save_dir runs/violin \\
        --gin_file papers/iclr2020/solo_instrument.gin --gin_file datasets/prepared.gin \\
        --gin_param "DatasetProvider.path='data/violin'"

Gin files are parsed in ddsp's order, later bindings overriding earlier ones:
``optimization/base.gin``, ``eval/basic.gin``, the latest ``operative_config-<step>.gin`` of the
restore folder (a resumed run keeps its model; unknown names skipped), then each ``--gin_file``
and ``--gin_param``. A relative ``--gin_file`` is looked up as given, then in each
``--gin_search_path``, then in the configs shipped with ddsp_ref (``ddsp_ref/training/gin``).

Train mode calls ``train_util.train`` with the gin-bound data provider and a Trainer of
``get_model()``, then saves ``loss_curves.png`` beside ``metrics.jsonl`` (when matplotlib is
installed). Eval and sample modes call ``eval_util.evaluate`` / ``eval_util.sample``.
"""

from __future__ import annotations

import argparse
import contextlib
import glob
import logging
import os
import re
import sys
import tempfile
from typing import Any

from ..gin_support import require_gin
from . import models, train_util, trainers

__all__ = ["GIN_PATH", "parse_gin", "latest_operative_config", "main"]

GIN_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "gin")
_DEFAULT_SAVE_DIR = os.path.join(tempfile.gettempdir(), "ddsp")
_DEFAULT_FILES = ("optimization/base.gin", "eval/basic.gin")
_OPERATIVE = re.compile(r"operative_config-(\d+)\.gin")


def _register_data_providers() -> None:
    """ddsp's gin names ``@data.TFRecordProvider()`` etc.: ``data.py`` registers its providers
    when imported (it is loaded lazily by ``import ddsp_ref.training``)."""
    from . import data, data_multi  # noqa: F401


def _import_gin_modules() -> None:
    """Import what registers the gin names configs use that ``import ddsp`` / ``import
    ddsp.training`` in a config do not load here (ddsp's ``import ddsp`` loads the losses)."""
    import importlib

    importlib.import_module("ddsp_ref.losses")


def latest_operative_config(restore_dir: str | os.PathLike) -> str | None:
    """The highest-step ``operative_config-<step>.gin`` of a folder, or None."""
    restore_dir = os.fspath(restore_dir)
    if not os.path.isdir(restore_dir):
        return None
    found = []
    for name in os.listdir(restore_dir):
        match = _OPERATIVE.fullmatch(name)
        if match:
            found.append((int(match.group(1)), os.path.join(restore_dir, name)))
    return max(found)[1] if found else None


def locate_gin_file(name: str, search_paths: list[str] | tuple[str, ...] = ()) -> str:
    """A gin file as given, else under each search path, else under :data:`GIN_PATH`.

    Raises:
        FileNotFoundError: naming every place tried and the shipped configs.
    """
    tried = [name]
    if os.path.isfile(name):
        return name
    if not os.path.isabs(name):
        for folder in [*search_paths, GIN_PATH]:
            candidate = os.path.join(folder, name)
            tried.append(candidate)
            if os.path.isfile(candidate):
                return candidate
    raise FileNotFoundError(
        f"gin file {name!r} not found (tried {tried}); shipped configs: {shipped_configs()}"
    )


def shipped_configs() -> list[str]:
    """Relative names of the gin files shipped in :data:`GIN_PATH`."""
    paths = glob.glob(os.path.join(GIN_PATH, "**", "*.gin"), recursive=True)
    return sorted(os.path.relpath(p, GIN_PATH).replace(os.sep, "/") for p in paths)


def parse_gin(restore_dir: str | None, gin_files: list[str] = (), gin_params: list[str] = (),
              gin_search_paths: list[str] = ()) -> str | None:  # fmt: skip
    """Clear gin's config, then parse in ddsp's order (see the module docstring).

    Returns:
        the operative config parsed from ``restore_dir``, or None.
    """
    gin = require_gin()
    _register_data_providers()
    _import_gin_modules()
    files = [locate_gin_file(f, gin_search_paths) for f in gin_files]  # fail before parsing
    gin.clear_config()
    known = getattr(gin.config, "_LOCATION_PREFIXES", [])
    for folder in [GIN_PATH, *gin_search_paths]:
        if folder not in known:
            gin.add_config_file_search_path(folder)
    operative = latest_operative_config(restore_dir) if restore_dir else None
    with gin.unlock_config(), _quiet_gin_lookups():
        for name in _DEFAULT_FILES:
            gin.parse_config_file(os.path.join(GIN_PATH, name))
        if operative is not None:
            try:
                gin.parse_config_file(operative, skip_unknown=True)
            except ValueError as err:
                raise ValueError(
                    f"the operative config {operative} of the restore folder does not parse "
                    f"with this build (skipped: unknown functions only): {err}"
                ) from None
        gin.parse_config_files_and_bindings(files, list(gin_params), skip_unknown=True)
    return operative


class _DropPathNotFound(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("Path not found")


@contextlib.contextmanager
def _quiet_gin_lookups():
    """Silence gin's 'Path not found' errors: it logs one for every include it then finds on
    a search path."""
    root, drop = logging.getLogger(), _DropPathNotFound()
    root.addFilter(drop)
    try:
        yield
    finally:
        root.removeFilter(drop)


def _require_binding(name: str, hint: str) -> None:
    gin = require_gin()
    try:
        gin.query_parameter(name)
    except ValueError:
        raise ValueError(f"{name} is not bound: {hint}") from None


def _check_device(device: str) -> None:
    if device == "gpu":
        try:
            import cupy  # noqa: F401
        except ImportError as err:
            raise ImportError("--device gpu needs cupy: pip install 'ddsp_ref[gpu]'") from err


class _DeviceTrainer:
    """A trainer whose batches (and the model's parameters) are moved to ``device`` once per
    batch; every other attribute is the wrapped trainer's."""

    def __init__(self, trainer: Any, device: str):
        self._trainer, self._device = trainer, device

    def __getattr__(self, name: str) -> Any:
        return getattr(self._trainer, name)

    def _move(self, tree: Any) -> Any:
        from ..autodiff import tree_map
        from ..backend import to_device

        return tree_map(lambda x: to_device(x, self._device), tree)

    def build(self, batch: dict) -> None:
        model = self._trainer.model
        model.set_parameters(self._move(model.parameters()))  # those created before any call
        self._trainer.build(self._move(batch))

    def train_step(self, batch: dict) -> dict:
        return self._trainer.train_step(self._move(batch))


def _train(args: argparse.Namespace, save_dir: str, restore_dir: str) -> None:
    gin = require_gin()
    _require_binding(
        "train.data_provider",
        "add a dataset config, e.g. --gin_file=datasets/prepared.gin "
        "--gin_param=\"DatasetProvider.path='/path/to/dataset'\"",
    )
    model = models.get_model()
    # Under mpiexec with several processes: data parallel (docs/mpi.md); otherwise None.
    strategy = train_util.get_strategy()
    trainer = trainers.get_trainer_class()(model, strategy=strategy)
    if args.device == "gpu":
        trainer = _DeviceTrainer(trainer, "gpu")
    train_util.train(
        data_provider=gin.REQUIRED,
        trainer=trainer,
        save_dir=save_dir,
        restore_dir=restore_dir,
        early_stop_loss_value=args.early_stop_loss_value,
    )
    if strategy is None or strategy.is_chief:
        _plot(save_dir)


def _plot(save_dir: str) -> None:
    """``loss_curves.png`` from ``metrics.jsonl``, when both matplotlib and metrics exist."""
    if not os.path.isfile(os.path.join(save_dir, train_util.METRICS_FILE)):
        return
    from ..plotting import plot_loss_curves

    try:
        path = plot_loss_curves(save_dir)
    except ImportError as err:
        print(f"ddsp_ref run: no loss curves: {err}", file=sys.stderr)
        return
    print(f"ddsp_ref run: loss curves in {path}", file=sys.stderr)


def _evaluate(args: argparse.Namespace, save_dir: str, restore_dir: str) -> None:
    from . import eval_util

    gin = require_gin()
    binding = "evaluate" if args.mode == "eval" else "sample"
    _require_binding(f"{binding}.data_provider", "add a dataset config (datasets/*.gin)")
    from .summaries import make_summary_writer

    model = models.get_model()
    function = eval_util.evaluate if args.mode == "eval" else eval_util.sample
    # Scalars, audio and spectrogram images also go to TensorBoard when tensorboardX is there.
    with make_summary_writer(save_dir) as writer:
        function(data_provider=gin.REQUIRED, model=model, save_dir=save_dir,
                 restore_dir=restore_dir, run_once=args.run_once,
                 summary_writer=writer)  # fmt: skip


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """ddsp_run's flags (TPU, cluster and hypertune flags excepted) plus ``--device``."""
    flags = [
        ("--mode", dict(choices=("train", "eval", "sample"), default="train")),
        ("--save_dir", dict(default=_DEFAULT_SAVE_DIR, help="checkpoints and metrics go here")),
        ("--restore_dir", dict(default="", help="restore from here (default: save_dir)")),
        ("--gin_file", dict(action="append", default=[], help=_GIN_FILE_HELP)),
        ("--gin_param", dict(action="append", default=[], help="a binding (repeatable)")),
        ("--gin_search_path", dict(action="append", default=[], help="folder of gin files")),
        ("--early_stop_loss_value", dict(type=float, default=None, help=_EARLY_STOP_HELP)),
        ("--run_once", dict(action="store_true", help="eval/sample the latest checkpoint once")),
        ("--device", dict(choices=("cpu", "gpu"), default="cpu", help=_DEVICE_HELP)),
    ]
    for name, options in flags:
        parser.add_argument(name, **options)


_GIN_FILE_HELP = (
    "gin config (repeatable); a relative name is looked up as given, in each --gin_search_path, "
    "then in the configs shipped with ddsp_ref"
)
_EARLY_STOP_HELP = "stop training once total_loss is at or below this value"
_DEVICE_HELP = "gpu: train on cupy arrays (the gpu extra)"


def run(args: argparse.Namespace) -> int:
    """Run a parsed command line; returns the exit status (2 on a configuration error)."""
    save_dir = os.path.expanduser(args.save_dir)
    restore_dir = os.path.expanduser(args.restore_dir) if args.restore_dir else save_dir
    try:
        _check_device(args.device)
        if args.device == "gpu" and args.mode != "train":
            raise ValueError("--device gpu is supported in train mode only")
        operative = parse_gin(restore_dir, args.gin_file, args.gin_param, args.gin_search_path)
        if operative:
            print(f"ddsp_ref run: using the operative config {operative}", file=sys.stderr)
        if args.mode == "train":
            _train(args, save_dir, restore_dir)
        else:
            _evaluate(args, save_dir, restore_dir)
    except (ValueError, FileNotFoundError, ImportError, KeyError) as err:
        print(f"ddsp_ref run: error: {err}", file=sys.stderr)
        return 2
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``ddsp_run`` console script."""
    parser = argparse.ArgumentParser(prog="ddsp_run", description=__doc__.splitlines()[0])
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
