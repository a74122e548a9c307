"""ddsp's tutorial 3 (training) with ddsp_ref: overfit a DDSP autoencoder to one example.

F0LoudnessPreprocessor -> RnnFcDecoder (GRU, amps 1 / harmonic_distribution 45 /
noise_magnitudes 45) -> Harmonic + FilteredNoise(window_size 0, initial_bias -10) + Add, trained
with a SpectralLoss (L1, mag + logmag) by a Trainer (Adam, lr 1e-3). The same model is then built
from a gin config (when the ``gin`` extra is installed) and trained with lr 1e-4, as the colab.
The colab's NSynth note is replaced by a phrase of the bundled violin recording, its f0 and
loudness computed with ``spectral_ops`` (the colab's CREPE step).

Prints ``loss_start=<x> loss_end=<y>``: the spectral loss of the model's resynthesis before and
after training (training=False, same noise seed), which the CI test reads.

Run: python examples/3_training.py [--small] [--out DIR] [--steps N]
"""

from __future__ import annotations

import os
import time

import _util
import numpy as np

from ddsp_ref import losses, plotting, processors, spectral_ops, synths
from ddsp_ref.training import decoders, models, preprocessing, trainers

SAMPLE_RATE = 16000
FRAME_RATE = 250
CORPUS = os.path.join(_util._ROOT, "ddsp_ref", "data", "corpus")

GIN_CONFIG = """
import ddsp_ref
import ddsp_ref.training

models.Autoencoder.preprocessor = @preprocessing.F0LoudnessPreprocessor()
preprocessing.F0LoudnessPreprocessor.time_steps = {time_steps}

models.Autoencoder.encoder = None

models.Autoencoder.decoder = @decoders.RnnFcDecoder()
decoders.RnnFcDecoder.rnn_channels = {channels}
decoders.RnnFcDecoder.rnn_type = 'gru'
decoders.RnnFcDecoder.ch = {channels}
decoders.RnnFcDecoder.layers_per_stack = 1
decoders.RnnFcDecoder.input_keys = ('ld_scaled', 'f0_scaled')
decoders.RnnFcDecoder.output_splits = (('amps', 1), ('harmonic_distribution', 45),
                                       ('noise_magnitudes', 45))
decoders.RnnFcDecoder.seed = 0

models.Autoencoder.processor_group = @processors.ProcessorGroup()
processors.ProcessorGroup.dag = [
  (@harmonic/synths.Harmonic(), ['amps', 'harmonic_distribution', 'f0_hz']),
  (@noise/synths.FilteredNoise(), ['noise_magnitudes']),
  (@add/processors.Add(), ['noise/signal', 'harmonic/signal']),
]
harmonic/synths.Harmonic.name = 'harmonic'
harmonic/synths.Harmonic.n_samples = {n_samples}
harmonic/synths.Harmonic.scale_fn = @core.exp_sigmoid
noise/synths.FilteredNoise.name = 'noise'
noise/synths.FilteredNoise.n_samples = {n_samples}
noise/synths.FilteredNoise.window_size = 0
noise/synths.FilteredNoise.scale_fn = @core.exp_sigmoid
noise/synths.FilteredNoise.initial_bias = -10.0
noise/synths.FilteredNoise.seed = 0
add/processors.Add.name = 'add'

models.Autoencoder.losses = [@losses.SpectralLoss()]
losses.SpectralLoss.loss_type = 'L1'
losses.SpectralLoss.mag_weight = 1.0
losses.SpectralLoss.logmag_weight = 1.0
"""


def load_example(seconds: float) -> dict:
    """One example: violin audio from 0.5 s and its f0 / loudness at 250 Hz ([1, ...] each)."""
    import soundfile

    audio, sr = soundfile.read(os.path.join(CORPUS, "violin_ode_to_joy.flac"), dtype="float32")
    assert sr == SAMPLE_RATE
    audio = audio[SAMPLE_RATE // 2 : SAMPLE_RATE // 2 + int(seconds * SAMPLE_RATE)]
    f0_hz, confidence = spectral_ops.compute_f0(audio, FRAME_RATE, padding="same")
    loudness_db = spectral_ops.compute_loudness(audio, SAMPLE_RATE, FRAME_RATE, padding="same")
    print(f"example: {seconds:g} s of violin, {len(f0_hz)} frames, mean f0 {f0_hz.mean():.0f} Hz")
    return {
        "audio": audio[None],
        "f0_hz": np.asarray(f0_hz, np.float32)[None],
        "f0_confidence": np.asarray(confidence, np.float32)[None],
        "loudness_db": np.asarray(loudness_db, np.float32)[None],
    }


def build_model(time_steps: int, n_samples: int, channels: int) -> models.Autoencoder:
    """The colab's model, in Python."""
    preprocessor = preprocessing.F0LoudnessPreprocessor(time_steps=time_steps)
    decoder = decoders.RnnFcDecoder(
        rnn_channels=channels, rnn_type="gru", ch=channels, layers_per_stack=1,
        input_keys=("ld_scaled", "f0_scaled"),
        output_splits=(("amps", 1), ("harmonic_distribution", 45), ("noise_magnitudes", 45)),
        seed=0,
    )  # fmt: skip
    harmonic = synths.Harmonic(n_samples=n_samples, sample_rate=SAMPLE_RATE, name="harmonic")
    noise = synths.FilteredNoise(
        n_samples=n_samples, window_size=0, initial_bias=-10.0, seed=0, name="noise"
    )
    add = processors.Add(name="add")
    dag = [
        (harmonic, ["amps", "harmonic_distribution", "f0_hz"]),
        (noise, ["noise_magnitudes"]),
        (add, ["noise/signal", "harmonic/signal"]),
    ]
    processor_group = processors.ProcessorGroup(dag=dag, name="processor_group")
    spectral_loss = losses.SpectralLoss(loss_type="L1", mag_weight=1.0, logmag_weight=1.0)
    return models.Autoencoder(
        preprocessor=preprocessor, encoder=None, decoder=decoder,
        processor_group=processor_group, losses=[spectral_loss],
    )  # fmt: skip


def n_parameters(model) -> int:
    from ddsp_ref.autodiff import tree_flatten

    return int(sum(np.size(p) for p in tree_flatten(model.parameters())[0]))


def resynthesis_loss(model, batch: dict) -> tuple[float, dict]:
    """Spectral loss of the model's audio (training=False) against the target."""
    outputs = model(batch, training=False)
    loss = losses.SpectralLoss(loss_type="L1", mag_weight=1.0, logmag_weight=1.0)
    return float(loss(batch["audio"], model.get_audio_from_outputs(outputs))), outputs


def train(model, batch: dict, steps: int, learning_rate: float, label: str) -> list[float]:
    trainer = trainers.Trainer(model, learning_rate=learning_rate)
    trainer.build(batch)
    history, start = [], time.perf_counter()
    for step in range(steps):
        history.append(trainer.train_step(batch)["total_loss"])
        if step % max(steps // 10, 1) == 0 or step == steps - 1:
            print(f"  [{label}] step {step + 1:4d}  spectral loss {history[-1]:.4f}")
    seconds = time.perf_counter() - start
    print(f"  [{label}] {steps} steps in {seconds:.1f} s ({seconds / max(steps, 1):.2f} s/step)")
    return history


def loss_figure(histories: dict):
    fig, axes = _util.figure(figsize=(7, 4))
    for label, history in histories.items():
        axes[0, 0].plot(np.arange(1, len(history) + 1), history, label=label)
    axes[0, 0].set_xlabel("step")
    axes[0, 0].set_ylabel("spectral loss")
    axes[0, 0].legend()
    return fig


def main() -> None:
    def extra(parser):
        parser.add_argument("--steps", type=int, default=None, help="training steps")

    args = _util.parse_args("3_training", __doc__, extra)
    out = _util.Outputs(args.out, SAMPLE_RATE)
    seconds, channels = (1.0, 64) if args.small else (4.0, 256)
    steps = args.steps or (20 if args.small else 300)
    time_steps, n_samples = int(seconds * FRAME_RATE), int(seconds * SAMPLE_RATE)
    batch = load_example(seconds)
    out.wav("target", batch["audio"], "the example the model overfits")

    model = build_model(time_steps, n_samples, channels)
    loss_start, _ = resynthesis_loss(model, batch)
    print(f"model: {n_parameters(model)} parameters; training {steps} steps, lr 1e-3")
    histories = {"python, lr 1e-3": train(model, batch, steps, 1e-3, "python")}
    loss_end, outputs = resynthesis_loss(model, batch)
    print(f"loss_start={loss_start:.6f} loss_end={loss_end:.6f}")

    audio = model.get_audio_from_outputs(outputs)
    out.wav("resynthesis", audio, "the trained model's resynthesis")
    out.figure("target_spec", plotting.specplot(batch["audio"]), "target spectrogram")
    out.figure("resynthesis_spec", plotting.specplot(audio), "compare with target_spec.png")
    out.figure(
        "controls",
        plotting.plot_controls(outputs, frame_rate=FRAME_RATE, title="decoder controls"),
        "amplitudes, harmonic distribution, f0 and noise the decoder learned",
    )

    gin_history = train_from_gin(batch, time_steps, n_samples, channels, steps, model)
    if gin_history is not None:
        histories["gin, lr 1e-4"] = gin_history
        first = histories["python, lr 1e-3"][0]
        print(f"gin model's first loss {gin_history[0]:.4f} vs Python's {first:.4f} (same seeds)")
    out.figure("losses", loss_figure(histories), "spectral loss per step")
    _util.note("listen to target.wav against resynthesis.wav; loss_end should be below loss_start")


def train_from_gin(batch, time_steps, n_samples, channels, steps, python_model):
    """The same model from a gin config (lr 1e-4 as the colab); None without gin."""
    try:
        import gin
    except ImportError:
        print("gin is not installed (pip install 'ddsp_ref[gin]'): skipping the gin model")
        return None
    gin.clear_config()
    gin.parse_config(
        GIN_CONFIG.format(time_steps=time_steps, n_samples=n_samples, channels=channels)
    )
    # ddsp's Autoencoder is gin.configurable, so the colab calls models.Autoencoder() here;
    # ddsp_ref's is gin.register'ed (Python calls ignore bindings), so ask gin for the
    # configurable (the same call on both libraries).
    model = gin.get_configurable("models.Autoencoder")()
    model(batch)  # sizes the layers
    same = n_parameters(model) == n_parameters(python_model)
    print(f"gin model: {n_parameters(model)} parameters (same architecture as Python: {same})")
    history = train(model, batch, max(steps // 4, 2), 1e-4, "gin")
    gin.clear_config()
    return history


if __name__ == "__main__":
    main()
