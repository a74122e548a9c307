"""Create the TF-checkpoint test fixture with the real ddsp 3.7.0 (run once, in the peer venv).

A development tool: ddsp_ref never imports TensorFlow. This builds tiny solo-instrument
Autoencoders with ddsp's own gin configurables, runs one step of ddsp's ``Trainer`` (so the
weights are not at their initial values and Adam's slots exist), saves with ``Trainer.save``
(the checkpoint users of ddsp have: ``ckpt-<step>.index`` / ``.data-00000-of-00001``) and writes
``operative_config-<step>.gin`` as ddsp's ``train_util.write_gin_config`` does. Then it records,
into ``reference.npz`` beside the checkpoint:

- ``features/<key>``: the inputs (audio, f0_hz, loudness_db);
- ``out/<key>``: the model's outputs with ``training=False`` (every processor's controls and
  signal, ``audio_synth``). FilteredNoise draws fresh uniform noise on every call, so a
  reproduction compares the noise-free outputs directly and checks the rest from TF's own
  ``filtered_noise/signal`` (e.g. the reverb applied to our harmonic + TF's noise);
- ``exact/harmonic/signal``, ``exact/audio_synth``: the same with a float64 phase in place of
  ddsp's float32 one (see ``record_exact``);
- ``adam/{var,m,v}/<i>``, ``adam/step``: each trainable variable (``model.trainable_variables``
  order) and its Adam moments, from the optimizer object;
- ``var/<checkpoint key>``: every variable as TF itself reads it (``tf.train.load_variable``).

Cases (one folder each under ``tests/training/fixtures/tf_ckpt/``):

- ``solo``: models/solo_instrument.gin shrunk (GRU 8, ch 8, one layer per stack, 6 harmonics,
  5 noise bands, trainable Reverb of 64 taps) on 0.2 s of 16 kHz audio;
- ``no_reverb``: models/ae.gin's processor group (no reverb) with an LSTM decoder (6 units),
  trained with keras' legacy Adam (TF < 2.11, what older ddsp checkpoints hold), to cover the
  LSTM's names and the legacy optimizer's slot names;
- ``spectral_norm``: a DilatedConvDecoder (ch 4, two layers, layer norm) with
  ``spectral_norm=True`` into a Harmonic synth alone (deterministic; loudness from the
  features, so the audio is only the loss's target and is not stored), to cover the
  conv stack's names and the spectral normalisation's ``w`` / ``layer/bias`` / ``sn_u``.

Usage (from the repository root)::

    source /tmp/peers/tf-venv/peers_env.sh
    python scripts/make_tf_fixture.py [--out tests/training/fixtures/tf_ckpt] [--cases NAME ...]
"""

import argparse
import importlib
import importlib.util
import os
import shutil
import sys
import types

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION", "python")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

SR = 16000
N_SAMPLES = 3200  # 0.2 s
N_FRAMES = 50  # 250 frames per second
STEP_BINDINGS = """
Trainer.learning_rate = 0.01
Trainer.lr_decay_steps = 10000
Trainer.lr_decay_rate = 0.98
Trainer.grad_clip_norm = 3.0
Trainer.checkpoints_to_keep = 3
"""

COMMON = f"""
import ddsp
import ddsp.training

get_model.model = @models.Autoencoder()
Autoencoder.preprocessor = @preprocessing.F0LoudnessPreprocessor()
F0LoudnessPreprocessor.time_steps = {N_FRAMES}
Autoencoder.encoder = None
Autoencoder.decoder = @decoders.RnnFcDecoder()
RnnFcDecoder.ch = 8
RnnFcDecoder.layers_per_stack = 1
RnnFcDecoder.input_keys = ('ld_scaled', 'f0_scaled')
RnnFcDecoder.output_splits = (('amps', 1), ('harmonic_distribution', 6), ('noise_magnitudes', 5))
Autoencoder.losses = [@losses.SpectralLoss()]
SpectralLoss.fft_sizes = (256, 128, 64)
SpectralLoss.loss_type = 'L1'
SpectralLoss.mag_weight = 1.0
SpectralLoss.logmag_weight = 1.0
Autoencoder.processor_group = @processors.ProcessorGroup()
Harmonic.name = 'harmonic'
Harmonic.n_samples = {N_SAMPLES}
Harmonic.sample_rate = {SR}
Harmonic.normalize_below_nyquist = True
Harmonic.scale_fn = @core.exp_sigmoid
FilteredNoise.name = 'filtered_noise'
FilteredNoise.n_samples = {N_SAMPLES}
FilteredNoise.window_size = 0
FilteredNoise.scale_fn = @core.exp_sigmoid
processors.Add.name = 'add'
"""

LEGACY_ADAM = ("no_reverb",)
SMALL = ("spectral_norm",)  # cases whose reference.npz leaves out the audio (see make_case)
CASES = {
    "solo": COMMON
    + """
RnnFcDecoder.rnn_channels = 8
RnnFcDecoder.rnn_type = 'gru'
ProcessorGroup.dag = [
  (@synths.Harmonic(), ['amps', 'harmonic_distribution', 'f0_hz']),
  (@synths.FilteredNoise(), ['noise_magnitudes']),
  (@processors.Add(), ['filtered_noise/signal', 'harmonic/signal']),
  (@effects.Reverb(), ['add/signal']),
]
Reverb.name = 'reverb'
Reverb.reverb_length = 64
Reverb.trainable = True
""",
    "no_reverb": COMMON
    + """
RnnFcDecoder.rnn_channels = 6
RnnFcDecoder.rnn_type = 'lstm'
ProcessorGroup.dag = [
  (@synths.Harmonic(), ['amps', 'harmonic_distribution', 'f0_hz']),
  (@synths.FilteredNoise(), ['noise_magnitudes']),
  (@processors.Add(), ['filtered_noise/signal', 'harmonic/signal']),
]
""",
    "spectral_norm": COMMON
    + """
Autoencoder.decoder = @decoders.DilatedConvDecoder()
DilatedConvDecoder.ch = 4
DilatedConvDecoder.kernel_size = 3
DilatedConvDecoder.layers_per_stack = 2
DilatedConvDecoder.stacks = 1
DilatedConvDecoder.norm_type = 'layer'
DilatedConvDecoder.conditioning_keys = None
DilatedConvDecoder.input_keys = ('ld_scaled', 'f0_scaled')
DilatedConvDecoder.output_splits = (('amps', 1), ('harmonic_distribution', 6))
DilatedConvDecoder.spectral_norm = True
ProcessorGroup.dag = [(@synths.Harmonic(), ['amps', 'harmonic_distribution', 'f0_hz'])]
F0LoudnessPreprocessor.compute_loudness = False
""",
}


def install_stubs():
    """Import ddsp.training's model modules without ddsp/training/__init__ (its data and
    cloud modules need packages the peer venv lacks) and with an empty crepe."""
    for name in ("crepe", "hypertune"):
        if importlib.util.find_spec(name) is None:
            sys.modules[name] = types.ModuleType(name)
    try:
        from google.cloud import storage  # noqa: F401
    except Exception:  # pragma: no cover - depends on the venv
        google = sys.modules.get("google") or types.ModuleType("google")
        cloud = types.ModuleType("google.cloud")
        cloud.storage = types.ModuleType("google.cloud.storage")
        sys.modules.setdefault("google.cloud", cloud)
        sys.modules["google.cloud.storage"] = cloud.storage
        google.cloud = cloud
    import ddsp

    pkg = types.ModuleType("ddsp.training")
    pkg.__path__ = [os.path.join(os.path.dirname(ddsp.__file__), "training")]
    sys.modules["ddsp.training"] = pkg
    ddsp.training = pkg
    for sub in ("nn", "preprocessing", "decoders", "encoders", "models", "train_util",
                "trainers"):  # fmt: skip
        setattr(pkg, sub, importlib.import_module("ddsp.training." + sub))
    return ddsp


def make_features(np, seed):
    rng = np.random.default_rng(seed)
    t = np.arange(N_FRAMES) / 250.0
    f0 = 220.0 + 40.0 * np.sin(2 * np.pi * 2.0 * t)[None, :] + rng.normal(0, 2, (2, N_FRAMES))
    ld = -40.0 + 20.0 * np.cos(2 * np.pi * 1.5 * t)[None, :] + rng.normal(0, 3, (2, N_FRAMES))
    ts = np.arange(N_SAMPLES) / SR
    audio = 0.3 * np.sin(2 * np.pi * 220.0 * ts)[None, :] + rng.normal(0, 0.05, (2, N_SAMPLES))
    return {
        "audio": audio.astype(np.float32),
        "f0_hz": f0.astype(np.float32),
        "loudness_db": ld.astype(np.float32),
    }


def flatten_outputs(np, value, prefix, record):
    """Every array of a (nested) outputs dict under '/'-joined keys."""
    if isinstance(value, dict):
        for key, sub in value.items():
            flatten_outputs(np, sub, f"{prefix}/{key}", record)
    elif hasattr(value, "numpy"):
        record[prefix] = np.asarray(value)


def record_outputs(np, tf, model, features, prefix, record):
    out = model({k: tf.constant(v) for k, v in features.items()}, training=False)
    flatten_outputs(np, {k: v for k, v in out.items() if k not in _REPEATS}, prefix, record)
    return out


# Outputs that repeat others ('inputs', 'audio': the features; 'add', 'out', 'reverb': the
# mix, and the reverb's audio, ir and signal = audio_synth); leaving them out keeps the
# fixture small (the ir is among the variables).
_REPEATS = ("inputs", "audio", "add", "out", "reverb")


def record_exact(np, tf, ddsp, model, out, record):
    """TF's harmonic audio with a float64 phase, and the model's audio built from it.

    ddsp accumulates the phase in float32 (``tf.cumsum`` of float32 increments, or its
    ``angular_cumsum``): over the 0.2 s here that drifts by ~1e-4 rad, so ``out/harmonic/signal``
    is accurate only at its start. Here ddsp's own code makes the sample-rate envelopes from
    the Harmonic's recorded controls (``get_harmonic_frequencies``, ``resample`` with its
    default and 'window' methods, ``remove_above_nyquist``) and only the oscillator bank runs
    in float64 numpy: ``sum_k a_k[n] sin(cumsum(2 pi f_k / sr)[n])`` (inclusive cumsum, as
    ddsp). ``exact/audio_synth`` is the rest of the processor group (the reverb, if any) on
    that plus TF's filtered noise.
    """
    controls = out["harmonic"]["controls"]
    n_harmonics = int(controls["harmonic_distribution"].shape[-1])
    freqs = ddsp.core.get_harmonic_frequencies(controls["f0_hz"], n_harmonics)
    amps = controls["amplitudes"] * controls["harmonic_distribution"]
    freq_env = ddsp.core.resample(freqs, N_SAMPLES)
    amp_env = ddsp.core.resample(amps, N_SAMPLES, method="window")
    amp_env = ddsp.core.remove_above_nyquist(freq_env, amp_env, SR)
    phase = np.cumsum(2.0 * np.pi * np.asarray(freq_env, np.float64) / SR, axis=1)
    harmonic = np.sum(np.asarray(amp_env, np.float64) * np.sin(phase), axis=-1)
    record["exact/harmonic/signal"] = harmonic.astype(np.float32)
    audio = tf.constant(harmonic.astype(np.float32)) + out["filtered_noise"]["signal"]
    for processor in model.processor_group.processors:
        if processor.name == "reverb":
            audio = processor(audio)
    record["exact/audio_synth"] = np.asarray(audio)


def record_adam(np, tf, model, optimizer, record):
    """Adam's moments of each trainable variable, in ``model.trainable_variables`` order, next
    to the variable's value (which identifies its checkpoint key)."""
    legacy = isinstance(optimizer, tf.keras.optimizers.legacy.Optimizer)
    for i, var in enumerate(model.trainable_variables):
        if legacy:
            m, v = optimizer.get_slot(var, "m"), optimizer.get_slot(var, "v")
        else:
            index = optimizer._index_dict[optimizer._var_key(var)]
            m, v = optimizer._momentums[index], optimizer._velocities[index]
        record[f"adam/var/{i:03d}"] = var.numpy()
        record[f"adam/m/{i:03d}"] = m.numpy()
        record[f"adam/v/{i:03d}"] = v.numpy()
    record["adam/step"] = np.asarray(optimizer.iterations.numpy())


def make_case(name, config, out_dir, np, tf):
    import gin
    from ddsp.training import models, train_util, trainers

    gin.clear_config()
    gin.parse_config(config + STEP_BINDINGS)
    tf.random.set_seed(0)
    strategy = train_util.get_strategy()
    with strategy.scope():
        model = models.get_model()
        trainer = trainers.Trainer(model, strategy)
        if name in LEGACY_ADAM:  # TF < 2.11's optimizer, with per-variable slot names
            schedule = trainer.optimizer.learning_rate
            trainer.optimizer = tf.keras.optimizers.legacy.Adam(schedule)
    batch = {k: tf.constant(v) for k, v in make_features(np, 0).items()}
    trainer.build(batch)
    trainer.train_step(batch)  # one Adam step: weights off their initial values, slots filled
    case_dir = os.path.join(out_dir, name)
    shutil.rmtree(case_dir, ignore_errors=True)
    os.makedirs(case_dir)
    trainer.save(case_dir)
    step = int(trainer.step.numpy())
    with open(os.path.join(case_dir, f"operative_config-{step}.gin"), "w") as f:
        f.write(gin.operative_config_str())

    record = {}
    features = make_features(np, 1)
    for key, value in features.items():
        record[f"features/{key}"] = value
    out = record_outputs(np, tf, model, features, "out", record)
    if name in SMALL:  # the audio is only the loss's target here; the signal repeats
        del record["features/audio"], record["out/harmonic/signal"]
    if "filtered_noise" in out:
        record_exact(np, tf, sys.modules["ddsp"], model, out, record)
    record_adam(np, tf, model, trainer.optimizer, record)
    prefix = tf.train.latest_checkpoint(case_dir)
    for key, _shape in tf.train.list_variables(prefix):
        record[f"var/{key}"] = np.asarray(tf.train.load_variable(prefix, key))
    np.savez_compressed(os.path.join(case_dir, "reference.npz"), **record)
    print(name, "step", step, "->", prefix)
    for key, shape in tf.train.list_variables(prefix):
        print("   ", key, shape)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default="tests/training/fixtures/tf_ckpt")
    parser.add_argument(
        "--cases",
        nargs="*",
        choices=sorted(CASES),
        default=sorted(CASES),
        help="cases to (re)make; the others' folders are left as they are",
    )
    args = parser.parse_args()
    import numpy as np
    import tensorflow as tf

    install_stubs()
    os.makedirs(args.out, exist_ok=True)
    for name in args.cases:
        make_case(name, CASES[name], args.out, np, tf)


if __name__ == "__main__":
    main()
