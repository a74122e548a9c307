"""Command line: ``demo`` (the main job: speech to violin with the shipped model, and a check of
the model on a held-out phrase), ``transfer`` (timbre transfer of a file), ``run`` (train,
evaluate or sample a model from gin configs: ddsp's ``ddsp_run``), ``prepare`` (audio files to
a training dataset), ``export`` (a trained model to a deployable folder: ddsp's
``ddsp_export``), ``render`` (a phrase synthesized from generated controls)."""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="ddsp_ref", description="ddsp_ref command line")
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser(
        "demo",
        help="the main job: turn the bundled speech into a violin with the shipped model, "
        "resynthesize a held-out violin phrase and measure it, write WAVs and a PNG",
    )
    demo.add_argument("--out-dir", default="outputs/demo", help="folder for the WAVs and PNG")
    demo.add_argument("--model", default=None, help="model folder (default: the shipped one)")
    demo.add_argument("--no-plot", dest="plot", action="store_false", help="skip the PNG")
    transfer = sub.add_parser(
        "transfer", help="timbre transfer of an audio file with a trained model"
    )
    from .training.transfer_cli import add_arguments as add_transfer_arguments

    add_transfer_arguments(transfer)
    render = sub.add_parser(
        "render",
        help="render a musical phrase with Harmonic + FilteredNoise + "
        "Reverb and write a WAV file (no model, no download)",
    )
    render.add_argument("--output", default="outputs/render.wav", help="WAV file to write")
    render.add_argument("--sample-rate", type=int, default=16000)
    render.add_argument("--seed", type=int, default=0, help="seed of the noise and the room")
    render.add_argument(
        "--plot",
        nargs="?",
        const="outputs/render.png",
        default=None,
        help="also save a PNG of the waveform, spectrogram and f0 "
        "(default path outputs/render.png; needs the plot extra)",
    )
    prepare = sub.add_parser(
        "prepare",
        help="audio files, folders or patterns to a training dataset (f0, confidence, "
        "loudness; ddsp_prepare_tfrecord's flags), on all cores or a Dask cluster",
    )
    from .training.data_preparation.cli import add_arguments
    from .training.data_preparation.cli import run as run_prepare

    add_arguments(prepare)
    run_parser = sub.add_parser(
        "run",
        help="train, evaluate or sample a model from gin configs (ddsp_run's flags: --mode, "
        "--save_dir, --gin_file, --gin_param ...)",
    )
    from .training.ddsp_run import add_arguments as add_run_arguments
    from .training.ddsp_run import run as run_ddsp

    add_run_arguments(run_parser)
    export_parser = sub.add_parser(
        "export",
        help="a trained model to a folder for plugins and apps: reverb IR WAV, metadata.json "
        "and the inference module's model folder (ddsp_export's flags; no TFJS/TFLite)",
    )
    from .training.ddsp_export import add_arguments as add_export_arguments

    add_export_arguments(export_parser)
    args = parser.parse_args(argv)
    if args.command == "prepare":
        return run_prepare(args)
    if args.command == "transfer":
        from .training.transfer_cli import run as run_transfer

        return run_transfer(args)
    if args.command == "run":
        return run_ddsp(args)
    if args.command == "export":
        from .training.ddsp_export import run as run_export

        return run_export(args)
    if args.command == "demo":
        from .training.transfer_demo import main as run_demo

        return run_demo(args)
    if args.command == "render":
        from .demo import DemoConfig, run

        run(args.output, DemoConfig(sample_rate=args.sample_rate, seed=args.seed), args.plot)
    return 0


if __name__ == "__main__":
    sys.exit(main())
