"""Train the shipped violin model: ddsp's ``tiny_instrument`` on the bundled violin corpus.

Recipe (recorded in ``ddsp_ref/data/models/violin/README.md``):

1. ``ddsp_ref prepare`` three violin phrases of the bundled corpus (ode to joy, greensleeves,
   twinkle) into ``<work>/violin_train``; the fourth (the minuet, whose notes lie inside the
   others' range) into ``<work>/violin_eval``, held out.
2. ddsp's ``papers/iclr2020/tiny_instrument.gin`` model: F0LoudnessPreprocessor(1000) ->
   RnnFcDecoder(GRU 256, layers_per_stack 0; amps 1, harmonic_distribution 60,
   noise_magnitudes 65) -> Harmonic + FilteredNoise(window 0) + Add + Reverb(48000, trainable),
   SpectralLoss(L1, mag 1 + logmag 1).
3. Adam at ``--learning_rate`` with ddsp's decay and clipping, ``--batch_size``, ``--num_steps``;
   resumable (rerun the same command to continue).
4. ``--ship DIR``: write the latest checkpoint's parameters (no optimizer state), the model's
   operative gin config (from ``papers/iclr2020/tiny_instrument.gin``, checked to describe the
   same parameters) and the training set's statistics (for timbre transfer) into DIR.

Run: python scripts/train_shipped_model.py --work /tmp/violin --num_steps 1500
On a GPU machine without the corpus tools: first ``--pack outputs/violin_train.npz`` here (the
prepared examples in one file), then there ``--data outputs/violin_train.npz --device gpu``.
``--max_seconds`` stops (with a checkpoint) after that much training time.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys

import numpy as np

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
sys.path.insert(0, ROOT)  # benchmarks.bench_models holds the model builder
CORPUS = os.path.join(ROOT, "ddsp_ref", "data", "corpus")
# The held-out phrase's notes (MIDI 66-79) lie inside the training phrases' range (62-83), so
# the check measures generalisation to unseen audio, not to unseen pitches.
TRAIN_FILES = ("violin_ode_to_joy.flac", "violin_greensleeves.flac", "violin_twinkle.flac")
EVAL_FILES = ("violin_minuet_in_g.flac",)


def build_model():
    """ddsp's tiny_instrument Autoencoder, built in Python (no gin needed, e.g. on a GPU machine):
    the one builder of ``benchmarks/bench_models.py``; :func:`ship` checks that the shipped gin
    config describes the same parameters."""
    from benchmarks.bench_models import build_trainer

    return build_trainer("tiny").model


def build_model_from_gin():
    """The same model from the shipped ``papers/iclr2020/tiny_instrument.gin``."""
    from ddsp_ref.training import ddsp_run, models

    ddsp_run.parse_gin(None, ["papers/iclr2020/tiny_instrument.gin"])
    return models.Autoencoder()


def prepare(work: str) -> tuple[str, str]:
    train_dir, eval_dir = os.path.join(work, "violin_train"), os.path.join(work, "violin_eval")
    for out, files in ((train_dir, TRAIN_FILES), (eval_dir, EVAL_FILES)):
        if not os.path.exists(os.path.join(out, "manifest.json")):
            paths = [os.path.join(CORPUS, f) for f in files]
            cmd = [sys.executable, "-m", "ddsp_ref", "prepare", "--output_dir", out, *paths]
            subprocess.run(cmd, check=True)
    return train_dir, eval_dir


def ship(work: str, ship_dir: str) -> None:
    """The latest checkpoint of ``<work>/train`` as a model folder ``ship_dir`` (see step 4)."""
    import gin

    from ddsp_ref.autodiff import tree_flatten
    from ddsp_ref.module import flatten_dict
    from ddsp_ref.training import checkpoints, data, postprocessing
    from ddsp_ref.training.model_dir import STATISTICS_FILE

    step, params, _, _ = checkpoints.load_checkpoint(os.path.join(work, "train"))
    model = build_model_from_gin()
    batch = {"audio": np.zeros((1, 64000), np.float32),
             "f0_hz": np.full((1, 1000), 220.0, np.float32),
             "loudness_db": np.full((1, 1000), -40.0, np.float32)}  # fmt: skip
    model(batch, training=False)
    built = {k: v.shape for k, v in flatten_dict(model.parameters()).items()}
    saved = {k: v.shape for k, v in flatten_dict(params).items()}
    if built != saved:
        raise SystemExit(f"ship: the gin model {built} differs from the checkpoint {saved}")
    operative = gin.operative_config_str()
    os.makedirs(ship_dir, exist_ok=True)
    for old in os.listdir(ship_dir):
        if old.startswith(("ckpt-", "operative_config-")):
            os.remove(os.path.join(ship_dir, old))
    checkpoints.save_checkpoint(ship_dir, step, params, {"step": step}, gin_config=operative)
    provider = data.DatasetProvider(prepare(work)[0])
    postprocessing.save_dataset_statistics(provider, os.path.join(ship_dir, STATISTICS_FILE))
    n = sum(int(np.size(p)) for p in tree_flatten(params)[0])
    print(f"shipped step {step} ({n} parameters) to {ship_dir}")


class _OnDevice:
    """A provider whose batches are moved to the GPU (cupy) as they are drawn."""

    def __init__(self, provider):
        self.provider = provider

    def get_batch(self, *args, **kwargs):
        import cupy

        for batch in self.provider.get_batch(*args, **kwargs):
            yield {k: cupy.asarray(v) for k, v in batch.items()}


def _pack(train_dir: str, path: str) -> None:
    """The prepared training examples in one .npz (16 kHz audio, f0, loudness)."""
    from ddsp_ref.training import data

    provider = data.DatasetProvider(train_dir)
    rows = provider.examples(range(provider.n_examples))
    keys = ("audio", "f0_hz", "f0_confidence", "loudness_db")
    np.savez(path, **{k: np.asarray(rows[k], np.float32) for k in keys})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", default="/tmp/violin")
    parser.add_argument("--num_steps", type=int, default=1500)
    parser.add_argument("--batch_size", type=int, default=8)
    parser.add_argument("--learning_rate", type=float, default=1e-3)
    parser.add_argument("--steps_per_save", type=int, default=100)
    parser.add_argument("--pack", help="write the prepared examples to this .npz and exit")
    parser.add_argument("--ship", help="write the latest checkpoint as a model folder and exit")
    parser.add_argument("--data", help="train on a packed .npz instead of preparing")
    parser.add_argument("--device", choices=("cpu", "gpu"), default="cpu")
    parser.add_argument("--max_seconds", type=float, default=None)
    args = parser.parse_args()

    from ddsp_ref.training import data, train_util, trainers

    if args.ship:
        ship(args.work, args.ship)
        return
    if args.pack:
        _pack(prepare(args.work)[0], args.pack)
        return
    if args.data:
        with np.load(args.data) as packed:
            provider = data.InMemoryProvider({k: packed[k] for k in packed.files})
    else:
        provider = data.DatasetProvider(prepare(args.work)[0])
    save_dir = os.path.join(args.work, "train")
    model = build_model()
    if args.device == "gpu":
        import cupy

        from ddsp_ref.autodiff import tree_map

        model.set_parameters(tree_map(cupy.asarray, model.parameters()))  # the reverb's IR
        provider = _OnDevice(provider)
    trainer = trainers.Trainer(model, learning_rate=args.learning_rate,
                               checkpoints_to_keep=3)  # fmt: skip
    if args.max_seconds is not None:
        _stop_after(trainer, args.max_seconds)
    try:
        train_util.train(provider, trainer, batch_size=args.batch_size,
                         num_steps=args.num_steps, steps_per_summary=25,
                         steps_per_save=args.steps_per_save, save_dir=save_dir,
                         restore_dir=save_dir)  # fmt: skip
    except _TimeUp:
        trainer.save(save_dir)
        print(f"time budget reached at step {trainer.step}; saved", flush=True)


class _TimeUp(Exception):
    pass


def _stop_after(trainer, seconds: float) -> None:
    """Make ``trainer.train_step`` raise :class:`_TimeUp` once ``seconds`` have passed since
    its first call (the step in progress completes first)."""
    import time

    step, start = trainer.train_step, []

    def timed_step(batch):
        if not start:
            start.append(time.perf_counter())
        elif time.perf_counter() - start[0] > seconds:
            raise _TimeUp
        return step(batch)

    trainer.train_step = timed_step


if __name__ == "__main__":
    main()
