"""``ddsp_ref transfer IN -o OUT``: timbre transfer of an audio file from the command line.

Any sample rate in; the model's rate (16 kHz) out, with the input's duration. Without
``--model`` the shipped violin model plays the performance. ``--stream --block-ms N`` renders
block by block as a live input would be (``ddsp_ref.realtime``).
"""

from __future__ import annotations

import argparse
import os
import time

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("input", help="audio file (WAV, FLAC, OGG...; any sample rate)")
    parser.add_argument("-o", "--output", required=True, help="WAV file to write")
    parser.add_argument("--model", default=None,
                        help="model folder (checkpoint + operative gin config + dataset "
                             "statistics; ddsp's TF checkpoints too); default: the shipped "
                             "violin model")  # fmt: skip
    parser.add_argument(
        "--no-adjust", dest="adjust", action="store_false",
        help="skip the octave shift, loudness matching and quiet rests",
    )  # fmt: skip
    parser.add_argument("--quiet", type=float, default=20.0,
                        help="dB removed from frames outside notes (default 20)")  # fmt: skip
    parser.add_argument("--autotune", type=float, default=0.0,
                        help="0..1: pull pitch towards the best-fitting major scale")  # fmt: skip
    parser.add_argument("--pitch-shift", type=float, default=0.0, help="octaves")
    parser.add_argument("--loudness-shift", type=float, default=0.0, help="dB")
    parser.add_argument("--stream", action="store_true",
                        help="render block by block (real-time engine)")  # fmt: skip
    parser.add_argument("--block-ms", type=float, default=64.0,
                        help="block length for --stream [ms] (default 64)")  # fmt: skip
    parser.add_argument("--seed", type=int, default=None,
                        help="seed of the model's noise, for a reproducible rendering")  # fmt: skip
    parser.add_argument("--plot", default=None, help="also save a PNG of the features")


def run(args: argparse.Namespace) -> int:
    import numpy as np
    import soundfile

    from .data_preparation.audio import AudioError, load_audio
    from .model_dir import load_model
    from .transfer import TransferSettings, timbre_transfer

    try:
        audio, sample_rate, _ = load_audio(args.input)
    except AudioError as error:
        raise SystemExit(f"ddsp_ref transfer: {args.input}: {error}") from None
    settings = TransferSettings(adjust=args.adjust, quiet=args.quiet, autotune=args.autotune,
                                pitch_shift=args.pitch_shift,
                                loudness_shift=args.loudness_shift)  # fmt: skip
    model, statistics = load_model(args.model, seed=args.seed)
    start = time.perf_counter()
    if args.stream:
        from ..realtime import stream_file

        # The stream applies only the per-frame settings (docs/realtime.md): as one-shot with
        # --no-adjust and frame-wise f0.
        out = stream_file(audio, sample_rate, model, block_ms=args.block_ms,
                          pitch_shift=args.pitch_shift, loudness_shift=args.loudness_shift)
        info = {"octaves": "none (streaming: no whole-file adjustments)"}
    else:
        out, info = timbre_transfer(audio, sample_rate, model, statistics, settings)
    seconds = time.perf_counter() - start
    folder = os.path.dirname(os.path.abspath(args.output))
    os.makedirs(folder, exist_ok=True)
    soundfile.write(args.output, np.asarray(out, np.float32), 16000)
    duration = len(out) / 16000
    print(f"wrote {args.output}: {duration:.2f} s at 16000 Hz (input {len(audio) / sample_rate:.2f}"
          f" s at {sample_rate} Hz), octave shift {info.get('octaves')}, rendered in "
          f"{seconds:.1f} s ({duration / max(seconds, 1e-9):.1f}x real time)")  # fmt: skip
    if args.plot and "features" in info:
        from ..plotting import plot_transfer
        from .data_preparation.audio import resample

        audios = [(resample(audio, sample_rate, 16000), "input"), (out, "transfer")]
        plot_transfer(audios, info["features"], path=args.plot)
        print(f"wrote {args.plot}")
    return 0
