"""ddsp's train_autoencoder demo with ddsp_ref: prepare a dataset from audio, save its
statistics, train a DDSP autoencoder with ``ddsp_ref.training``, resynthesize, and pack the
checkpoint, its operative gin config and the statistics for timbre transfer.

The audio is a violin recording of the bundled corpus (``ddsp_ref/data/corpus/``) instead of
uploaded files. The model is ddsp's ``tiny_instrument`` (F0LoudnessPreprocessor ->
RnnFcDecoder(GRU, no FC layers; amps 1, harmonic_distribution 60, noise_magnitudes 65) ->
Harmonic + FilteredNoise + Add + trainable Reverb, SpectralLoss); ddsp's demo trains
``solo_instrument`` for 30k steps on a GPU, far beyond what this CPU example does by default.
Rerunning the command continues from the last checkpoint.

Run: python examples/train_autoencoder.py [--small] [--out DIR] [--num_steps N]
"""

from __future__ import annotations

import os
import shutil
import time

import _util

from ddsp_ref import effects, losses, plotting, processors, synths
from ddsp_ref.training import (
    data,
    decoders,
    models,
    postprocessing,
    preprocessing,
    train_util,
    trainers,
)
from ddsp_ref.training.data_preparation import prepare_dataset

SAMPLE_RATE = 16000
FRAME_RATE = 250
CORPUS = os.path.join(_util._ROOT, "ddsp_ref", "data", "corpus")


def source_audio(out: _util.Outputs, small: bool) -> list[str]:
    """The files to prepare: a whole corpus recording, or 3 s of it in small mode."""
    path = os.path.join(CORPUS, "violin_ode_to_joy.flac")
    if not small:
        return [path]
    import soundfile

    audio, sr = soundfile.read(path, dtype="float32")
    return [out.wav("source_excerpt", audio[: 3 * sr], "the 3 s prepared", sample_rate=sr)]


def build_model(example_secs: float, rnn_channels: int, reverb_length: int):
    """ddsp's tiny_instrument Autoencoder, sized for ``example_secs`` examples."""
    n_samples, time_steps = int(example_secs * SAMPLE_RATE), int(example_secs * FRAME_RATE)
    dag = [
        (synths.Harmonic(n_samples=n_samples, sample_rate=SAMPLE_RATE),
         ["amps", "harmonic_distribution", "f0_hz"]),
        (synths.FilteredNoise(n_samples=n_samples, window_size=0), ["noise_magnitudes"]),
        (processors.Add(name="add"), ["filtered_noise/signal", "harmonic/signal"]),
        (effects.Reverb(name="reverb", reverb_length=reverb_length, trainable=True),
         ["add/signal"]),
    ]  # fmt: skip
    decoder = decoders.RnnFcDecoder(
        rnn_channels=rnn_channels, rnn_type="gru", ch=512, layers_per_stack=0,
        input_keys=("ld_scaled", "f0_scaled"),
        output_splits=(("amps", 1), ("harmonic_distribution", 60), ("noise_magnitudes", 65)),
        seed=0,
    )  # fmt: skip
    return models.Autoencoder(
        preprocessor=preprocessing.F0LoudnessPreprocessor(time_steps=time_steps),
        decoder=decoder,
        processor_group=processors.ProcessorGroup(dag=dag),
        losses=[losses.SpectralLoss(loss_type="L1", mag_weight=1.0, logmag_weight=1.0)],
    )


def loss_history(save_dir: str) -> list[tuple[int, float]]:
    import json

    path = os.path.join(save_dir, "metrics.jsonl")
    if not os.path.exists(path):
        return []
    with open(path) as f:
        rows = [json.loads(line) for line in f if line.strip()]
    return [(r["step"], r["total_loss"]) for r in rows]


def resynthesize(out: _util.Outputs, model, provider) -> None:
    batch = provider.examples([0])
    outputs = model(batch, training=False)
    audio = model.get_audio_from_outputs(outputs)
    loss = losses.SpectralLoss(loss_type="L1", mag_weight=1.0, logmag_weight=1.0)
    print(f"resynthesis spectral loss on example 0: {float(loss(batch['audio'], audio)):.4f}")
    out.wav("original", batch["audio"], "example 0 of the dataset")
    out.wav("resynthesis", audio, "the autoencoder's reconstruction of it")
    fig, axes = _util.figure(2, 1, figsize=(10, 6))
    plotting.specplot(batch["audio"], ax=axes[0, 0])
    plotting.specplot(audio, ax=axes[1, 0])
    axes[0, 0].set_title("original")
    axes[1, 0].set_title("resynthesis")
    out.figure("original_vs_resynthesis", fig, "spectrograms of the two WAVs")
    out.figure("controls", plotting.plot_controls(outputs, frame_rate=FRAME_RATE), "decoder output")


def main() -> None:
    def extra(parser):
        parser.add_argument("--num_steps", type=int, default=None, help="train up to this step")
        parser.add_argument("--batch_size", type=int, default=None)

    args = _util.parse_args("train_autoencoder", __doc__, extra)
    out = _util.Outputs(args.out, SAMPLE_RATE)
    example_secs = 1.0 if args.small else 4.0
    num_steps = args.num_steps or (4 if args.small else 300)
    batch_size = args.batch_size or (2 if args.small else 8)

    # 1. Prepare the dataset (ddsp_prepare_tfrecord; `ddsp_ref prepare` on the command line).
    dataset_dir = out.path("dataset")
    start = time.perf_counter()
    manifest = prepare_dataset(
        source_audio(out, args.small), dataset_dir, example_secs=example_secs, hop_secs=1,
        chunk_secs=0, num_workers=1, progress=None,  # unchunked: no zero-padded tail examples
    )  # fmt: skip
    provider = data.DatasetProvider(dataset_dir)
    print(f"prepared {provider.n_examples} examples of {example_secs:g} s in {dataset_dir} "
          f"({time.perf_counter() - start:.1f} s; format {manifest['format']})")  # fmt: skip

    # 2. Dataset statistics, used by timbre transfer to adjust the input's pitch and loudness.
    stats_path = out.path("dataset_statistics.json")
    stats = postprocessing.save_dataset_statistics(provider, stats_path)
    print(f"wrote {stats_path}: mean pitch {stats['mean_pitch']:.1f} MIDI, "
          f"mean loudness {stats['mean_loudness']:.1f} dB")  # fmt: skip

    # 3. Train (resumes from the latest checkpoint in train/).
    save_dir = out.path("train")
    model = build_model(example_secs, 32 if args.small else 256, 4000 if args.small else 48000)
    trainer = trainers.Trainer(model, learning_rate=1e-3, checkpoints_to_keep=3)
    train_util.train(provider, trainer, batch_size=batch_size, num_steps=num_steps,
                     steps_per_summary=max(num_steps // 10, 1), steps_per_save=num_steps,
                     save_dir=save_dir, restore_dir=save_dir)  # fmt: skip
    history = loss_history(save_dir)
    print(f"trained to step {trainer.step}; total_loss by summary: "
          + ", ".join(f"{step}: {loss:.3f}" for step, loss in history[-10:]))  # fmt: skip

    # 4. Resynthesize, and 5. pack what timbre transfer needs.
    resynthesize(out, model, provider)
    pack = out.path("model")
    shutil.rmtree(pack, ignore_errors=True)
    os.makedirs(pack)
    checkpoint = train_util.get_latest_checkpoint(save_dir)
    config = os.path.join(save_dir, f"operative_config-{trainer.step}.gin")  # with gin only
    for path in (checkpoint, config, stats_path):
        if os.path.exists(path):
            shutil.copy(path, pack)
    archive = shutil.make_archive(pack, "zip", pack)
    print(f"wrote {archive}: {sorted(os.listdir(pack))}")
    _util.note("listen to original.wav against resynthesis.wav; more --num_steps sound closer")


if __name__ == "__main__":
    main()
