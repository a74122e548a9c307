"""Train the shipped violin model: ddsp's ``tiny_instrument`` on the bundled violin corpus.

Recipe (recorded in ``ddsp_ref/data/models/violin/README.md``):

1. ``ddsp_ref prepare`` three violin phrases of the bundled corpus (ode to joy, minuet,
   greensleeves: 1.66 min, 102 examples of 4 s) into ``<work>/violin_train``; the fourth
   (twinkle) into ``<work>/violin_eval``, held out.
2. ddsp's ``papers/iclr2020/tiny_instrument.gin`` model: F0LoudnessPreprocessor(1000) ->
   RnnFcDecoder(GRU 256, layers_per_stack 0; amps 1, harmonic_distribution 60,
   noise_magnitudes 65) -> Harmonic + FilteredNoise(window 0) + Add + Reverb(48000, trainable),
   SpectralLoss(L1, mag 1 + logmag 1).
3. Adam at ``--learning_rate`` with ddsp's decay and clipping, ``--batch_size``, ``--num_steps``;
   resumable (rerun the same command to continue).
4. Copy the final checkpoint, the dataset statistics and this recipe into ``--ship_dir``.

Run: python scripts/train_shipped_model.py --work /tmp/violin --num_steps 1500
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys

import numpy as np

CORPUS = os.path.join(os.path.dirname(__file__), "..", "ddsp_ref", "data", "corpus")
TRAIN_FILES = ("violin_ode_to_joy.flac", "violin_minuet_in_g.flac", "violin_greensleeves.flac")
EVAL_FILES = ("violin_twinkle.flac",)


def build_model():
    """ddsp's tiny_instrument Autoencoder, built in Python (same values as the gin file)."""
    from ddsp_ref import effects, losses, processors, synths
    from ddsp_ref.training import decoders, models, preprocessing

    dag = [
        (synths.Harmonic(n_samples=64000, sample_rate=16000), ["amps", "harmonic_distribution", "f0_hz"]),
        (synths.FilteredNoise(n_samples=64000, window_size=0), ["noise_magnitudes"]),
        (processors.Add(name="add"), ["filtered_noise/signal", "harmonic/signal"]),
        (effects.Reverb(name="reverb", reverb_length=48000, trainable=True), ["add/signal"]),
    ]
    return models.Autoencoder(
        preprocessor=preprocessing.F0LoudnessPreprocessor(time_steps=1000),
        decoder=decoders.RnnFcDecoder(
            rnn_channels=256, rnn_type="gru", ch=512, layers_per_stack=0,
            input_keys=("ld_scaled", "f0_scaled"),
            output_splits=(("amps", 1), ("harmonic_distribution", 60), ("noise_magnitudes", 65)),
        ),
        processor_group=processors.ProcessorGroup(dag=dag),
        losses=[losses.SpectralLoss(loss_type="L1", mag_weight=1.0, logmag_weight=1.0)],
    )  # fmt: skip


def prepare(work: str) -> tuple[str, str]:
    train_dir, eval_dir = os.path.join(work, "violin_train"), os.path.join(work, "violin_eval")
    for out, files in ((train_dir, TRAIN_FILES), (eval_dir, EVAL_FILES)):
        if not os.path.exists(os.path.join(out, "manifest.json")):
            paths = [os.path.join(CORPUS, f) for f in files]
            cmd = [sys.executable, "-m", "ddsp_ref", "prepare", "--output_dir", out, *paths]
            subprocess.run(cmd, check=True)
    return train_dir, eval_dir


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", default="/tmp/violin")
    parser.add_argument("--num_steps", type=int, default=1500)
    parser.add_argument("--batch_size", type=int, default=8)
    parser.add_argument("--learning_rate", type=float, default=1e-3)
    parser.add_argument("--steps_per_save", type=int, default=100)
    args = parser.parse_args()

    from ddsp_ref.training import data, train_util, trainers

    train_dir, _ = prepare(args.work)
    save_dir = os.path.join(args.work, "train")
    trainer = trainers.Trainer(build_model(), learning_rate=args.learning_rate, checkpoints_to_keep=3)
    provider = data.DatasetProvider(train_dir)
    train_util.train(provider, trainer, batch_size=args.batch_size, num_steps=args.num_steps,
                     steps_per_summary=25, steps_per_save=args.steps_per_save,
                     save_dir=save_dir, restore_dir=save_dir)  # fmt: skip


if __name__ == "__main__":
    main()
