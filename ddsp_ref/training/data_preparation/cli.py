"""``ddsp_ref prepare``: the command line of ``prepare_dataset`` (ddsp_prepare_tfrecord's flags)."""

from __future__ import annotations

import argparse
import sys


def _bool(text: str) -> bool:
    value = text.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """ddsp_prepare_tfrecord's flags and defaults, plus --scheduler and --num_workers."""
    parser.add_argument("inputs", nargs="+", help="audio files, folders or glob patterns")
    parser.add_argument("--output_dir", required=True, help="dataset folder to create or resume")
    parser.add_argument("--sample_rate", type=int, default=16000, help="audio rate [Hz]")
    parser.add_argument("--frame_rate", type=int, default=250, help="feature rate [Hz]")
    parser.add_argument("--example_secs", type=float, default=4, help="example length [s]")
    parser.add_argument("--hop_secs", type=float, default=1, help="hop between examples [s]")
    parser.add_argument("--eval_split_fraction", type=float, default=0.0)
    parser.add_argument("--chunk_secs", type=float, default=20, help="0: no chunking")
    parser.add_argument("--center", type=_bool, default=False, nargs="?", const=True)
    parser.add_argument("--viterbi", type=_bool, default=True, nargs="?", const=True)
    parser.add_argument("--num_shards", type=int, default=None, help="shards per split")
    parser.add_argument(
        "--scheduler", default=None, help="Dask scheduler address (tcp://HOST:PORT)"
    )
    parser.add_argument(
        "--num_workers", type=int, default=None, help="local processes (default: all cores)"
    )


def run(args: argparse.Namespace) -> int:
    """Prepare the dataset; print a summary and every skipped input with its reason."""
    from .pipeline import prepare_dataset

    try:
        manifest = prepare_dataset(
            args.inputs,
            args.output_dir,
            sample_rate=args.sample_rate,
            frame_rate=args.frame_rate,
            example_secs=args.example_secs,
            hop_secs=args.hop_secs,
            eval_split_fraction=args.eval_split_fraction,
            chunk_secs=args.chunk_secs,
            center=args.center,
            viterbi=args.viterbi,
            num_shards=args.num_shards,
            scheduler=args.scheduler,
            num_workers=args.num_workers,
        )
    except (ValueError, FileExistsError, ImportError) as e:
        print(f"ddsp_ref prepare: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(
            "\nddsp_ref prepare: interrupted; finished files are kept, run the same command "
            "again to resume",
            file=sys.stderr,
        )
        return 130
    for item in manifest["skipped"]:
        print(f"skipped {item['path']}: {item['reason']}")
    splits = manifest["splits"]
    print(
        f"{args.output_dir}: {manifest['n_files']} files, {manifest['audio_hours'] * 60:.2f} min "
        f"of audio, {splits['train']['n_examples']} train / {splits['eval']['n_examples']} eval "
        f"examples, {len(manifest['skipped'])} inputs skipped"
    )
    return 0
