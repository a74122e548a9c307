"""``ddsp_ref export`` / ``ddsp_export``: a trained model to a folder a plugin or app can load.

ddsp's ``ddsp_export`` writes a TensorFlow SavedModel and converts it to TFJS and TFLite. This
one writes, into ``--save_dir`` (default ``<model_path>/<name or 'export'>``):

- ``reverb_ir_<sr>_hz.wav`` (``--reverb``): the reverb's impulse response, 16-bit PCM, as ddsp;
- ``metadata.json`` (``--metadata``): ddsp's fields (note pitch and power ranges of the
  training data, harmonics, noise bands, rates, version, export time);
- the inference module's model folder (``save_model``: ``operative_config-<step>.gin``,
  ``ckpt-<step>.npz``, ``inference_model.json``), read back by
  ``ddsp_ref.training.inference.load_model``; in place of the SavedModel.

TFJS and TFLite need TensorFlow: ``--tfjs`` / ``--tflite`` default to false here and are refused
when true. Usage::

    ddsp_export --model_path=runs/vst --inference_model=vst_stateless_predict_controls \\
        --dataset_path=data/violin
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import sys
from typing import Any

import numpy as np

from ..gin_support import require_gin
from . import inference

__all__ = [
    "add_arguments",
    "run",
    "main",
    "get_data_provider",
    "get_metadata_dict",
    "get_inference_model",
    "export_impulse_response",
]

INFERENCE_MODELS = {
    "autoencoder": "AutoencoderInference",
    "vst_extract_features": "VSTExtractFeatures",
    "vst_predict_controls": "VSTPredictControls",
    "vst_stateless_predict_controls": "VSTStatelessPredictControls",
    "vst_synthesize": "VSTSynthesize",
    "vst_synthesize_harmonic": "VSTSynthesizeHarmonic",
    "vst_synthesize_noise": "VSTSynthesizeNoise",
}
# ddsp's flag default, which names no class there either (its export fails with a KeyError).
_DDSP_DEFAULT = "streaming_f0_pw"


class ExportError(ValueError):
    """A request this exporter cannot fulfil (bad flags, a model without what is asked)."""


def _bool(value: str) -> bool:
    lowered = str(value).strip().lower()
    if lowered in ("1", "true", "t", "yes"):
        return True
    if lowered in ("0", "false", "f", "no"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {value!r}")


def _add_bool(parser: argparse.ArgumentParser, name: str, default: bool, help: str) -> None:
    """absl's boolean flag forms: ``--name``, ``--name=true|false``, ``--noname``."""
    parser.add_argument(
        f"--{name}",
        nargs="?",
        const=True,
        default=default,
        type=_bool,
        help=f"{help} (default {str(default).lower()})",
    )
    parser.add_argument(f"--no{name}", dest=name, action="store_false", help=argparse.SUPPRESS)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """ddsp_export's flags; ``--tfjs`` / ``--tflite`` default to false (see the module)."""
    parser.add_argument("--name", default="", help="export folder name (default 'export')")
    parser.add_argument("--model_path", default="", help="checkpoint folder or checkpoint file")
    parser.add_argument("--save_dir", default="", help="output folder (default: see above)")
    parser.add_argument(
        "--inference_model",
        default=_DDSP_DEFAULT,
        choices=[_DDSP_DEFAULT, *INFERENCE_MODELS],
        help="the ddsp_ref.training.inference class (snake_case name); ddsp's "
        "default streaming_f0_pw names no class and is refused",
    )
    parser.add_argument(
        "--gin_param",
        action="append",
        default=[],
        help="gin binding for the inference class, e.g. "
        "AutoencoderInference.length_seconds=8 (repeatable)",
    )
    _add_bool(parser, "debug", False, "do not save the model")
    _add_bool(parser, "tfjs", False, "TFJS conversion: needs TensorFlow, refused when true")
    _add_bool(parser, "tflite", False, "TFLite conversion: needs TensorFlow, refused when true")
    parser.add_argument(
        "--metadata_file",
        default=None,
        help="metadata to pack into a TFLite model: refused (no TFLite)",
    )
    _add_bool(parser, "metadata", True, "write metadata.json")
    parser.add_argument(
        "--dataset_path",
        default=None,
        help="prepared dataset folder or TFRecord pattern for the metadata "
        "(default: the config's train.data_provider)",
    )
    _add_bool(parser, "reverb", True, "write the reverb impulse response as a WAV")
    parser.add_argument(
        "--reverb_sample_rate",
        type=int,
        default=44100,
        help="also write the IR labelled with this rate (see --resample_reverb)",
    )
    _add_bool(
        parser,
        "resample_reverb",
        False,
        "ddsp_ref only: resample the IR to --reverb_sample_rate; ddsp writes the "
        "original samples under the new rate",
    )


def _check_request(args: argparse.Namespace) -> None:
    """Refuse what needs TensorFlow, before anything is written."""
    if args.tfjs or args.tflite or args.metadata_file:
        raise ExportError(
            "TFJS and TFLite conversion (--tfjs, --tflite, --metadata_file) need TensorFlow, "
            "which ddsp_ref does not use: pass --tfjs=false --tflite=false. The export folder "
            "(model checkpoint + operative config, loaded by "
            "ddsp_ref.training.inference.load_model) is what ddsp_ref writes instead"
        )
    if args.inference_model == _DDSP_DEFAULT:
        raise ExportError(
            f"--inference_model={_DDSP_DEFAULT} (ddsp's default) names no inference class in "
            f"ddsp 3.7.0 (its export fails there too); choose one of {sorted(INFERENCE_MODELS)}"
        )
    if not args.model_path:
        raise ExportError("--model_path is required: a checkpoint folder or checkpoint file")


def get_data_provider(dataset_path: str | None, model_path: str) -> Any:
    """The dataset of the metadata statistics: ``dataset_path`` (a ``ddsp_ref prepare``
    folder, else a TFRecord pattern as ddsp), or the config's ``train.data_provider``."""
    from . import data

    if dataset_path is not None:
        path = os.path.expanduser(dataset_path)
        if os.path.isfile(os.path.join(path, "manifest.json")):
            return data.DatasetProvider(path)
        if os.path.isdir(path):
            raise ExportError(
                f"--dataset_path={dataset_path}: a folder without manifest.json (not a "
                "`ddsp_ref prepare` dataset); give a prepared dataset or a TFRecord pattern"
            )
        return data.TFRecordProvider(path)
    inference.parse_operative_config(model_path)
    try:
        binding = require_gin().query_parameter("train.data_provider")
    except ValueError:
        raise ExportError(
            "metadata: no dataset: pass --dataset_path (a prepared dataset folder or TFRecord "
            "pattern), or --metadata=false; the operative config binds no train.data_provider"
        ) from None
    return binding.scoped_configurable_fn()


def get_metadata_dict(data_provider: Any, model_path: str) -> dict:
    """ddsp's ``metadata.json`` fields: note pitch (MIDI and Hz) and power (dB) ranges of the
    dataset (``postprocessing.compute_dataset_statistics`` with the config's ``frame_size``
    and ``frame_rate`` for power), version, export time, harmonics, noise bands and rates.

    ``version`` is ddsp_ref's; ``ddsp_version`` (not in ddsp's file) the ddsp release whose
    API and numbers ddsp_ref follows.

    Raises:
        ExportError: a config without vst.gin's ``frame_size`` / ``frame_rate`` /
            ``sample_rate`` macros or a decoder's ``output_splits`` (as ddsp, which fails).
    """
    import ddsp_ref

    from ..core import midi_to_hz
    from .inference.base import query
    from .postprocessing import compute_dataset_statistics

    inference.parse_operative_config(model_path)
    where, hint = "metadata", " (metadata needs a models/vst/vst.gin model; or --metadata=false)"
    try:
        decoder_type = query("Autoencoder.decoder", where, hint).config_key[-1].split(".")[-1]
        splits = dict(query(f"{decoder_type}.output_splits", where, hint))
        frame_size = int(query("%frame_size", where, hint))
        frame_rate = int(query("%frame_rate", where, hint))
        sample_rate = int(query("%sample_rate", where, hint))
    except ValueError as err:
        raise ExportError(str(err)) from None
    stats = compute_dataset_statistics(
        data_provider, power_frame_size=frame_size, power_frame_rate=frame_rate
    )
    lo, hi = float(stats["mean_min_pitch_note"]), float(stats["mean_max_pitch_note"])
    return {
        "mean_min_pitch_note": lo,
        "mean_max_pitch_note": hi,
        "mean_min_pitch_note_hz": float(midi_to_hz(lo)),
        "mean_max_pitch_note_hz": float(midi_to_hz(hi)),
        "mean_min_power_note": float(stats["mean_min_power_note"]),
        "mean_max_power_note": float(stats["mean_max_power_note"]),
        "version": ddsp_ref.__version__,
        "ddsp_version": "3.7.0",
        "export_time": datetime.datetime.now().isoformat(),
        "num_harmonics": int(splits["harmonic_distribution"]),
        "num_noise_amps": int(splits["noise_magnitudes"]),
        "frame_rate": frame_rate,
        "frame_size": frame_size,
        "sample_rate": sample_rate,
    }


def get_inference_model(ckpt: str, inference_model: str, gin_params: list[str] = ()) -> Any:
    """The inference module ``inference_model`` (ddsp_export's name) built from ``ckpt``,
    after parsing ``gin_params`` (e.g. ``AutoencoderInference.length_seconds = 8``)."""
    gin = require_gin()
    with gin.unlock_config():
        gin.parse_config_files_and_bindings(None, list(gin_params))
    return inference.MODULES[INFERENCE_MODELS[inference_model]](ckpt)


def export_impulse_response(
    model_path: str, save_dir: str, target_sr: int | None = None, resample: bool = False
) -> list[str]:
    """Write the reverb's impulse response (``get_controls(...)['ir']``, tap 0 included, as
    ddsp) as ``reverb_ir_<sr>_hz.wav``: 16-bit PCM of ``trunc(ir * 32767)`` (ddsp's
    note_seq conversion; values beyond +-1 are clipped where ddsp's would wrap around).

    With ``target_sr``, a second file ``reverb_ir_<target_sr>_hz.wav``. ddsp 3.7.0 writes the
    same samples there, labelled with the new rate (its ``librosa.resample`` is called from
    ``target_sr`` to ``target_sr``); that is the default here too. ``resample=True`` resamples
    them (``scipy.signal.resample_poly``) so the IR keeps its duration.

    Returns:
        the files written.
    """
    from ..validation import positive_int
    from .inference.base import processor_by_name
    from .models import Autoencoder

    inference.parse_operative_config(model_path)
    model = Autoencoder()
    group = model.processor_group
    reverb = processor_by_name(group, "reverb", "--reverb", "; pass --reverb=false")
    model.restore(model_path, verbose=False, restore_keys=["processor_group"])
    sr = int(processor_by_name(group, "harmonic", "--reverb").sample_rate)
    ir = np.asarray(reverb.get_controls(audio=np.zeros((1, 1), np.float32))["ir"], np.float64)[0]
    print(f"Reverb Impulse Response is {ir.shape[0] / sr} seconds long")
    written = [_write_ir(save_dir, ir, sr)]
    if target_sr is not None:
        target_sr = positive_int(target_sr, "reverb_sample_rate", "export_impulse_response")
        if resample:
            from math import gcd

            from scipy.signal import resample_poly

            g = gcd(sr, target_sr)
            ir = resample_poly(ir, target_sr // g, sr // g)
        written.append(_write_ir(save_dir, ir, target_sr))
    return written


def _write_ir(save_dir: str, ir: np.ndarray, sr: int) -> str:
    import io

    import soundfile

    from ..io import atomic_write

    path = os.path.join(save_dir, f"reverb_ir_{sr}_hz.wav")
    pcm = (np.clip(ir, -1.0, 1.0) * np.iinfo(np.int16).max).astype(np.int16)
    buffer = io.BytesIO()
    soundfile.write(buffer, pcm, sr, format="WAV", subtype="PCM_16")
    with atomic_write(path) as f:
        f.write(buffer.getvalue())
    return path


def _save_dir(args: argparse.Namespace, model_path: str) -> str:
    """ddsp's rule: ``--save_dir``, else ``<dir of the checkpoint file>/<name>`` or
    ``<model_path>/<name>`` (name defaults to 'export')."""
    if args.save_dir:
        return os.path.expanduser(args.save_dir)
    name = args.name or "export"
    if not os.path.isdir(model_path):
        return os.path.join(os.path.dirname(model_path), name)
    return os.path.join(model_path, name)


def export(args: argparse.Namespace) -> str:
    """Run the export a parsed command line asks for; returns the export folder."""
    _check_request(args)
    model_path = os.path.expandvars(os.path.expanduser(args.model_path))
    if os.path.exists(os.path.join(model_path, "saved_model.pb")):
        raise ExportError(
            f"{model_path} is a TensorFlow SavedModel, which ddsp_ref cannot read; export from "
            "the checkpoint folder it was made from"
        )
    if not os.path.exists(model_path) and not os.path.exists(model_path + ".index"):
        raise FileNotFoundError(f"--model_path: no such checkpoint folder or file: {model_path}")
    save_dir = _save_dir(args, model_path)
    os.makedirs(save_dir, exist_ok=True)
    if args.reverb:
        export_impulse_response(model_path, save_dir, args.reverb_sample_rate, args.resample_reverb)
    if args.metadata:
        from ..io import atomic_write

        provider = get_data_provider(args.dataset_path, model_path)
        metadata = get_metadata_dict(provider, model_path)
        with atomic_write(os.path.join(save_dir, "metadata.json"), "w") as f:
            f.write(json.dumps(metadata))
    print(f"\nConverting to a ddsp_ref model folder:\nInput: {model_path}\nOutput: {save_dir}\n")
    model = get_inference_model(model_path, args.inference_model, args.gin_param)
    if not args.debug:
        model.save_model(save_dir)
    return save_dir


def run(args: argparse.Namespace) -> int:
    """:func:`export`; returns the exit status (2 on a bad request or a missing file)."""
    try:
        save_dir = export(args)
    except (ValueError, FileNotFoundError, ImportError, KeyError) as err:
        print(f"ddsp_export: error: {err}", file=sys.stderr)
        return 2
    print(f"ddsp_export: wrote {sorted(os.listdir(save_dir))} to {save_dir}", file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``ddsp_export`` console script."""
    parser = argparse.ArgumentParser(prog="ddsp_export", description=__doc__.splitlines()[0])
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
