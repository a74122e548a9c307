"""Command line: ``python -m ddsp_ref demo`` renders a phrase to a WAV file; ``prepare`` turns
audio files into a training dataset; ``run`` trains, evaluates or samples a model from gin
configs (ddsp's ``ddsp_run``)."""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="ddsp_ref", description="ddsp_ref command line")
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser(
        "demo",
        help="render a musical phrase with Harmonic + FilteredNoise + "
        "Reverb and write a WAV file (no download needed)",
    )
    demo.add_argument("--output", default="outputs/demo.wav", help="WAV file to write")
    demo.add_argument("--sample-rate", type=int, default=16000)
    demo.add_argument("--seed", type=int, default=0, help="seed of the noise and the room")
    demo.add_argument(
        "--plot",
        nargs="?",
        const="outputs/demo.png",
        default=None,
        help="also save a PNG of the waveform, spectrogram and f0 "
        "(default path outputs/demo.png; needs the plot extra)",
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
    args = parser.parse_args(argv)
    if args.command == "prepare":
        return run_prepare(args)
    if args.command == "run":
        return run_ddsp(args)
    if args.command == "demo":
        from .demo import DemoConfig, run

        run(args.output, DemoConfig(sample_rate=args.sample_rate, seed=args.seed), args.plot)
    return 0


if __name__ == "__main__":
    sys.exit(main())
