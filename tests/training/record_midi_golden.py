"""Record tests/training/golden_midi_3_7_0.npz from ddsp 3.7.0 (TensorFlow): the MIDI encoders
and decoders (outputs and gradients) and the MIDI heuristics.

Not part of the test run (it needs TensorFlow and ddsp); run it in the TF peer environment:
``source /tmp/peers/tf-venv/peers_env.sh; python tests/training/record_midi_golden.py``.

Layer cases are stored as in record_conv_golden.py (``<case>/params/...``, ``out/``, ``cot/``,
``grad/``). note_seq is not installed there: a small stand-in records the notes that ddsp's
``segment_notes`` adds (google.cloud.storage, imported by ddsp.training.models, is stubbed
too). ddsp's ``power_pooled_outliers`` reads ``spectral_ops.LD_RANGE``,
missing in 3.7.0; it is set to ``DB_RANGE`` (80 dB) here, the value ddsp_ref uses.
"""

from __future__ import annotations

import json
import os
import sys
import types

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from record_conv_golden import (  # noqa: E402
    _as_ours,
    _conv,
    _flatten,
    _load_ddsp,
    _record,
    _stack_vars,
)
from record_nn_extras_golden import _norm, _stack_tree  # noqa: E402


def _stub_note_seq():
    class _Notes(list):
        def add(self):
            self.append(types.SimpleNamespace())
            return self[-1]

    class NoteSequence:
        def __init__(self):
            self.notes, self.total_time = _Notes(), 0.0

    sys.modules["note_seq"] = types.SimpleNamespace(NoteSequence=NoteSequence)
    try:  # ddsp.training.models imports train_util -> cloud -> google.cloud.storage
        import google.cloud.storage  # noqa: F401
    except ImportError:
        cloud = types.ModuleType("google.cloud")
        cloud.storage = types.ModuleType("google.cloud.storage")
        sys.modules["google.cloud"], sys.modules["google.cloud.storage"] = cloud, cloud.storage


def _f32(x):
    return np.asarray(x, np.float32)


def record_layers(tf, nn, encoders, decoders, rng, store, specs):
    n_t = 7
    f0 = _f32(rng.uniform(40, 80, (2, n_t, 1)))
    enc = encoders.MidiEncoder(net=nn.FcStack(4, 1))
    feats = {"f0_midi": f0, "loudness": _f32(rng.uniform(-80, 0, (2, n_t, 1)))}
    enc(feats)
    tree = {"net": _stack_tree(enc.net), "norm": _norm(enc.norm), "dense_out": _conv(enc.dense_out)}
    _record(tf, rng, store, "midi_encoder", enc, feats, lambda t: enc(dict(t)), tree)
    for residual in (True, False):
        enc = encoders.HarmonicToMidiEncoder(net=nn.FcStack(4, 1), f0_residual=residual)
        feats = {"f0_midi": f0, "amps": _f32(rng.uniform(-60, 0, (2, n_t, 1))),
                 "hd": _f32(rng.uniform(-30, 0, (2, n_t, 3))),
                 "noise": _f32(rng.uniform(-60, 0, (2, n_t, 4)))}  # fmt: skip
        enc(feats)
        tree = {"net": _stack_tree(enc.net), "norm": _norm(enc.norm),
                "dense_out": _conv(enc.dense_out)}  # fmt: skip
        case = f"harm_encoder_{'res' if residual else 'nores'}"
        _record(tf, rng, store, case, enc, feats, lambda t, e=enc: e(dict(t)), tree)
        specs[case] = dict(f0_residual=residual)
    stack_kw = dict(ch=4, layers_per_stack=1, stacks=1, norm_type="layer", conditional=True)
    q = _f32(np.round(rng.uniform(40, 80, (2, n_t, 1))))
    for name, kw in (("midi_decoder", {}), ("midi_decoder_plain",
                     dict(f0_residual=False, center_loudness=False, norm=False))):  # fmt: skip
        dec = decoders.MidiDecoder(net=nn.DilatedConvStack(**stack_kw), **kw)
        inputs = {"z_pitch": q, "z": _f32(rng.standard_normal((2, n_t, 2)))}
        dec(inputs["z_pitch"], None, inputs["z"])
        tree = {"net": _stack_vars(dec.net, True), "dense_out": _conv(dec.dense_out)}
        if dec.norm is not None:
            tree["norm"] = _norm(dec.norm)
        _record(tf, rng, store, name, dec, inputs,
                lambda t, d=dec: d(t["z_pitch"], None, t["z"]), tree)  # fmt: skip
        specs[name] = kw
    splits = (("f0_midi", 1), ("amplitudes", 1), ("harmonic_distribution", 3), ("magnitudes", 2))
    for name, kw in (("harm_decoder", {}), ("harm_decoder_plain",
                     dict(f0_residual=False, norm=False, midi_zero_silence=False))):  # fmt: skip
        dec = decoders.MidiToHarmonicDecoder(net=nn.FcStack(4, 1), output_splits=splits, **kw)
        qz = q.copy()
        qz[0, :3] = 0.0  # silence: midi_zero_silence maps f0_midi == 0 to 0 Hz
        inputs = {"z_pitch": qz}
        dec(inputs["z_pitch"])
        tree = {"net": _stack_tree(dec.net), "dense_out": _conv(dec.dense_out)}
        if dec.norm is not None:
            tree["norm"] = _norm(dec.norm)
        _record(tf, rng, store, name, dec, inputs, lambda t, d=dec: d(t["z_pitch"]), tree)
        specs[name] = dict(kw, output_splits=splits)


def _controls(rng, n=300):
    """A melody with jumps, a vibrato, a glide, silence and amplitude dips."""
    midi = np.concatenate([np.full(60, 60.8), 62 + 0.3 * np.sin(np.arange(50) / 3),
                           np.zeros(20), np.linspace(64, 67, 40), np.full(5, 69.0),
                           np.full(60, 67.0), np.full(65, 55.2)])[:n]  # fmt: skip
    f0 = np.where(midi > 0, 440.0 * 2 ** ((midi - 69) / 12), 0.0)
    amps = np.exp(rng.normal(-2.0, 0.3, n))
    amps[[70, 71, 150, 151, 152, 230]] = 1e-4  # dips between notes
    amps[110:130] = 1e-5
    return _f32(f0[:, None]), _f32(amps[:, None])


def record_heuristics(tf, ddsp, heuristics, rng, store):
    ddsp.spectral_ops.LD_RANGE = ddsp.spectral_ops.DB_RANGE  # missing in 3.7.0 (see above)
    f0, amps = _controls(rng)
    controls = {"f0_hz": tf.constant(f0), "harmonic": {"controls": {"amplitudes": amps}}}
    store["heur/f0_hz"], store["heur/amplitudes"] = f0, amps
    store["heur/amp_outliers"] = heuristics.amp_pooled_outliers(controls)
    store["heur/amp_outliers_w7"] = heuristics.amp_pooled_outliers(controls, 7, 1.5, "front")
    store["heur/freq_change"] = heuristics.strided_freq_change(controls)
    store["heur/freq_change_end"] = heuristics.strided_freq_change(controls, (3, 5), "end")
    store["heur/midi_heuristic"] = heuristics.midi_heuristic(controls)
    for glue in (False, True):
        vec = rng.random(40) < 0.6
        store[f"heur/short_in_{glue}"] = vec.copy()
        store[f"heur/short_out_{glue}"] = heuristics.remove_short(vec, 3, glue)
    for pick in ("mean_f0", "median_f0"):
        seq = heuristics.segment_notes(heuristics.midi_heuristic, getattr(heuristics, pick),
                                       heuristics.median_amps, controls, 250)  # fmt: skip
        store[f"heur/notes_{pick}"] = np.array([[n.pitch, n.start_time, n.end_time, n.velocity]
                                                for n in seq.notes], np.float64)  # fmt: skip
        store[f"heur/total_{pick}"] = np.float64(seq.total_time)
    vec = _f32(rng.normal(3.0, 2.0, 9))
    for mode in ("front", "center", "end"):
        for w in (1, 4, 5):
            store[f"heur/pad_{mode}_{w}"] = heuristics.pad_for_frame(vec, mode, w)
    store["heur/pad_in"] = vec
    arr = _f32(rng.standard_normal((23, 2)))
    store["heur/window_in"] = arr
    store["heur/window_0"] = heuristics.window_array(arr, 100, 0.08)
    store["heur/window_1"] = heuristics.window_array(arr.T.copy(), 50, 0.1, 0.5, ax=1)
    roll = (rng.random((12, 4)) < 0.6).astype(np.float32)
    store["heur/roll"] = roll
    store["heur/active"] = heuristics.get_active_frame_indices(roll)
    t = np.arange(16000) / 16000.0
    audio = 0.5 * np.sin(2 * np.pi * 220 * t) * (np.abs(np.sin(2 * np.pi * 2 * t)) > 0.2)
    audio = _f32(audio + 1e-3 * rng.standard_normal(16000))
    store["heur/audio"] = audio
    store["heur/power_outliers"] = heuristics.power_pooled_outliers({"audio": audio})
    store["heur/midi_heuristic_power"] = heuristics.midi_heuristic_power(
        {"audio": audio, "f0_hz": tf.constant(_f32(np.full((251, 1), 220.0)))}
    )


MODEL = dict(n_frames=20, n_samples=1280, splits=(("amplitudes", 1), ("harmonic_distribution", 4),
             ("magnitudes", 3)))  # fmt: skip
# Deterministic outputs compared with ddsp_ref (the filtered noise is random in both).
MODEL_KEYS = ("amps", "hd", "noise", "z_pitch", "q_pitch", "f0_midi_pred", "f0_hz_pred",
              "amps_pred", "hd_pred", "noise_pred", "pianoroll", "f0_scaled",
              "ld_scaled")  # fmt: skip


def _model_losses(tf, ddsp):
    """The tiny model's losses, built alike on both sides (see test_midi_autoencoder.py)."""

    class Closeness(ddsp.losses.Loss):  # mean |x| (one input) or mean |x - y|
        def call(self, x, y=None):
            return tf.reduce_mean(tf.abs(x if y is None else x - y))

    spectral = dict(fft_sizes=(256, 64), loss_type="L1")
    group = ddsp.losses.LossGroup(dag=[
        (ddsp.losses.SpectralLoss(**spectral, name="harm_spectral"), ["audio", "harmonic/signal"]),
        (ddsp.losses.SpectralLoss(**spectral, name="midi_harm_spectral"),
         ["audio", "midi_synth_params/harmonic/signal"]),
        (ddsp.losses.ParamLoss(weight=0.1, name="amps_rec"), ["amps", "amps_pred"]),
        (ddsp.losses.ParamLoss(weight=0.5, name="f0_rec"), ["f0_midi", "f0_midi_pred"]),
    ])  # fmt: skip
    return dict(
        reconstruction_losses=group,
        qpitch_f0rec_loss=Closeness(name="q_f0"),
        pitch_f0rec_loss=Closeness(name="p_f0"),
        pitch_qpitch_loss=Closeness(name="p_q"),
    )
    # No midi_slowness_loss: ddsp 3.7.0's add_slowness_loss fails for batch > 1 (it compares
    # note_lengths[..., 0], [batch], with note_pitches[..., 0], [batch, notes]).


def record_model(tf, ddsp, nn, encoders, decoders, rng, store):
    from ddsp.training import preprocessing
    from ddsp.training.models import midi_autoencoder

    n_t, n_s = MODEL["n_frames"], MODEL["n_samples"]
    synthcoder = decoders.DilatedConvDecoder(ch=4, layers_per_stack=1, stacks=1,
                                             conditioning_keys=None,
                                             output_splits=MODEL["splits"])  # fmt: skip
    model = midi_autoencoder.MidiAutoencoder(
        synthcoder=synthcoder, midi_encoder=encoders.HarmonicToMidiEncoder(nn.FcStack(4, 1)),
        midi_decoder=decoders.MidiToHarmonicDecoder(
            nn.FcStack(4, 1), output_splits=(("f0_midi", 1),) + MODEL["splits"]),
        reverb=False, preprocessor=preprocessing.F0LoudnessPreprocessor(
            time_steps=n_t, compute_loudness=False), **_model_losses(tf, ddsp))  # fmt: skip
    for proc in model.processor_group.processors:
        proc.n_samples = n_s
    t = np.arange(n_s) / 16000.0
    f0 = np.concatenate([np.full(8, 261.0), np.full(7, 330.0), np.full(5, 392.0)])
    feats = {"audio": _f32(0.3 * np.sin(2 * np.pi * 300 * t) + 0.01 * rng.standard_normal(n_s)),
             "f0_hz": _f32(np.stack([f0, f0[::-1] * 1.01])[..., None]),
             "loudness_db": _f32(rng.uniform(-60, -20, (2, n_t, 1)))}  # fmt: skip
    feats["audio"] = np.stack([feats["audio"], feats["audio"][::-1]])
    model(dict(feats), training=True)  # build
    tree = {"synthcoder": {"dilated_conv_stack": _stack_vars(synthcoder.dilated_conv_stack, False),
                           "dense_out": _conv(synthcoder.dense_out)},
            "midi_encoder": {"net": _stack_tree(model.midi_encoder.net),
                             "norm": _norm(model.midi_encoder.norm),
                             "dense_out": _conv(model.midi_encoder.dense_out)},
            "midi_decoder": {"net": _stack_tree(model.midi_decoder.net),
                             "norm": _norm(model.midi_decoder.norm),
                             "dense_out": _conv(model.midi_decoder.dense_out)}}  # fmt: skip
    flat = dict(_flatten(tree))
    for v in flat.values():
        v.assign(0.3 * rng.standard_normal(v.shape).astype(np.float32))
    with tf.GradientTape() as tape:
        outputs, losses = model(dict(feats), training=True, return_losses=True)
    grads = tape.gradient(losses["total_loss"], list(flat.values()))
    for k, v in feats.items():
        store[f"model/{k}"] = v
    for (k, v), g in zip(flat.items(), grads):
        store[f"model/params/{k}"] = _as_ours(k, v.numpy())
        store[f"model/grad/params/{k}"] = _as_ours(k, tf.convert_to_tensor(g).numpy())
    for k in MODEL_KEYS:
        store[f"model/out/{k}"] = np.asarray(outputs[k])
    store["model/out/harmonic"] = outputs["harmonic"]["signal"].numpy()
    store["model/out/midi_harmonic"] = outputs["midi_synth_params"]["harmonic"]["signal"].numpy()
    for k, v in losses.items():
        store[f"model/loss/{k}"] = np.float32(v)


def main() -> None:
    import tensorflow as tf

    _stub_note_seq()
    nn, decoders, encoders = _load_ddsp()
    import ddsp
    from ddsp.training import heuristics

    rng = np.random.default_rng(20261201)
    store, specs = {}, {}
    record_layers(tf, nn, encoders, decoders, rng, store, specs)
    record_heuristics(tf, ddsp, heuristics, rng, store)
    record_model(tf, ddsp, nn, encoders, decoders, rng, store)
    store["spec"] = np.array(json.dumps(specs))
    path = os.path.join(HERE, "golden_midi_3_7_0.npz")
    np.savez_compressed(path, **store)
    print(f"recorded {len(store)} arrays, {os.path.getsize(path)} bytes")


if __name__ == "__main__":
    main()
