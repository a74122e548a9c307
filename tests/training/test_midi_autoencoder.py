"""MidiAutoencoder and ZMidiAutoencoder: parity with ddsp 3.7.0 on a tiny model with ddsp's
weights (record_midi_golden.py), losses and gradients, Trainer steps, float64 gradient checks,
the piano-roll path, the Z variant, helpers and bad input."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from ddsp_ref import check_grads, losses
from ddsp_ref.autodiff import ops
from ddsp_ref.module import flatten_dict
from ddsp_ref.training import nn, preprocessing
from ddsp_ref.training.decoders import DilatedConvDecoder
from ddsp_ref.training.decoders_midi import MidiToHarmonicDecoder
from ddsp_ref.training.encoders import AggregateFeaturesEncoder
from ddsp_ref.training.encoders_midi import HarmonicToMidiEncoder
from ddsp_ref.training.midi_autoencoder import MidiAutoencoder, ZMidiAutoencoder
from ddsp_ref.training.trainers import Trainer

from .test_midi_layers import _tree, case, close

SPLITS = (("amplitudes", 1), ("harmonic_distribution", 4), ("magnitudes", 3))
KEYS = ("amps", "hd", "noise", "z_pitch", "q_pitch", "f0_midi_pred", "f0_hz_pred", "amps_pred",
        "hd_pred", "noise_pred", "pianoroll", "f0_scaled", "ld_scaled")  # fmt: skip


class Closeness(losses.Loss):
    """mean |x| (one input) or mean |x - y| (as the recorder's)."""

    def call(self, x, y=None):
        return ops.mean(ops.abs(x if y is None else x - y))


def _losses(slowness=None):
    spectral = dict(fft_sizes=(256, 64), loss_type="L1")
    group = losses.LossGroup(dag=[
        (losses.SpectralLoss(**spectral, name="harm_spectral"), ["audio", "harmonic/signal"]),
        (losses.SpectralLoss(**spectral, name="midi_harm_spectral"),
         ["audio", "midi_synth_params/harmonic/signal"]),
        (losses.ParamLoss(weight=0.1, name="amps_rec"), ["amps", "amps_pred"]),
        (losses.ParamLoss(weight=0.5, name="f0_rec"), ["f0_midi", "f0_midi_pred"]),
    ])  # fmt: skip
    return dict(reconstruction_losses=group, qpitch_f0rec_loss=Closeness(name="q_f0"),
                pitch_f0rec_loss=Closeness(name="p_f0"), pitch_qpitch_loss=Closeness(name="p_q"),
                midi_slowness_loss=slowness)  # fmt: skip


def _model(cls=MidiAutoencoder, n_frames=20, n_samples=1280, encoder=True, **kw):
    synthcoder = DilatedConvDecoder(ch=4, layers_per_stack=1, stacks=1, conditioning_keys=None,
                                    output_splits=SPLITS, seed=0)  # fmt: skip
    enc = HarmonicToMidiEncoder(net=nn.FcStack(4, 1, seed=1), seed=2) if encoder else None
    dec = MidiToHarmonicDecoder(net=kw.pop("dec_net", None) or nn.FcStack(4, 1, seed=3), seed=4,
                                output_splits=(("f0_midi", 1),) + SPLITS)  # fmt: skip
    pre = preprocessing.F0LoudnessPreprocessor(time_steps=n_frames, compute_loudness=False)
    kw = {**_losses(), "reverb": False, **kw}
    model = cls(synthcoder=synthcoder, midi_encoder=enc, midi_decoder=dec, preprocessor=pre, **kw)
    for proc in model.processor_group.processors:
        if hasattr(proc, "n_samples"):
            proc.n_samples = n_samples  # ddsp's group renders 4 s; the tests render less
    return model


def _feats(c):
    return {k: c[k] for k in ("audio", "f0_hz", "loudness_db")}


def test_midi_autoencoder_matches_ddsp():
    c = case("model")
    model = _model()
    feats = _feats(c)
    model(feats, training=True)  # build
    params = _tree(c, "params/")
    assert sorted(flatten_dict(model.parameters())) == sorted(flatten_dict(params))
    from ddsp_ref.autodiff import value_and_grad

    def fun(p):
        _, ls = model.apply(p, feats)
        return ls["total_loss"], ls

    (total, ls), grads = value_and_grad(fun, has_aux=True)(params)
    outputs, _ = model.apply(params, feats)
    for k in KEYS:
        close(outputs[k], c[f"out/{k}"], rtol=1e-4, atol=1e-3 if k == "f0_hz_pred" else 2e-4)
    # The harmonic signals: the phase is a float32 cumulative sum of the frequencies, and the
    # f0s agree to ~1e-6 relative, so the difference grows along the 1280 samples (0 at the
    # start) to ~5e-4 of signals peaking near 0.15.
    for got, want in (
        (outputs["harmonic"]["signal"], c["out/harmonic"]),
        (outputs["midi_synth_params"]["harmonic"]["signal"], c["out/midi_harmonic"]),
    ):
        close(got[:, :128], want[:, :128], rtol=1e-3, atol=1e-5)
        close(got, want, rtol=1e-3, atol=1e-3)
    want_losses = {k[5:]: v for k, v in c.items() if k.startswith("loss/")}
    assert sorted(ls) == sorted(want_losses)
    for k, v in want_losses.items():
        close(ls[k], v, rtol=1e-4, atol=1e-6)
    # The pitches change, so the straight-through path and the quantisation both matter.
    assert len(np.unique(c["out/q_pitch"])) == 3
    want, got = flatten_dict(_tree(c, "grad/params/")), flatten_dict(grads)
    assert sorted(want) == sorted(got)
    for k in want:
        scale = np.abs(want[k]).max()
        close(got[k], want[k], rtol=5e-3, atol=5e-4 * max(scale, 1e-2))


def test_outputs_losses_and_stop_gradient():
    c = case("model")
    model = _model()
    feats = _feats(c)
    out = model(feats, training=False)
    assert model.losses_dict == {}  # inference: no losses
    assert out["synth_audio"].shape == (2, 1280) and out["midi_audio"].shape == (2, 1280)
    assert out["pianoroll"].shape == (2, 20, 128) and "z_vel" not in out
    np.testing.assert_array_equal(out["q_vel"], 0.0 * out["q_vel"])
    np.testing.assert_array_equal(out["f0_loss_weights"], np.ones((2, 20, 1)))
    assert model.get_audio_from_outputs(out) is out["synth_audio"]
    # sg_before_midiae: the MIDI branch's losses do not reach the synthcoder.
    model(feats)
    params = model.parameters()
    from ddsp_ref.autodiff import grad

    def midi_only(p):
        _, ls = model.apply(p, feats)
        return ls["q_f0"] + ls["p_q"] + ls["p_f0"] + ls["midi_harm_spectral"]

    g = grad(midi_only)(params)
    assert np.abs(g["midi_decoder"]["dense_out"]["kernel"]).max() > 1e-4
    assert all(np.all(v == 0) for v in flatten_dict(g["synthcoder"]).values())
    assert any(np.any(v != 0) for v in flatten_dict(g["midi_encoder"]).values())
    m2 = _model(sg_before_midiae=False)
    m2(feats)
    g2 = grad(lambda p: m2.apply(p, feats)[1]["midi_harm_spectral"])(params)
    assert np.abs(g2["synthcoder"]["dense_out"]["kernel"]).max() > 1e-4


def test_trainer_steps_lower_the_loss():
    c = case("model")
    model = _model(reverb=True, seed=0)
    feats = _feats(c)
    trainer = Trainer(model, learning_rate=3e-3)
    trainer.build(feats)
    assert "processor_group" in model.parameters()  # the trainable reverb
    losses_seen = [trainer.train_step(feats)["total_loss"] for _ in range(6)]
    assert losses_seen[-1] < losses_seen[0]


def _slowness_reference(z, q):
    """A direct float64 formula: mean over [batch, frames] of z where the frame's note (a run
    of constant q, q > 0) is shorter than 40 frames."""
    z, q = np.asarray(z, np.float64)[..., 0], np.asarray(q)[..., 0]
    mask = np.zeros_like(z)
    for b in range(q.shape[0]):
        starts = [0] + [t for t in range(1, q.shape[1] - 1) if q[b, t] != q[b, t - 1]]
        # ddsp's get_note_mask ignores a change at the last frame (see nn.notes)
        bounds = starts + [q.shape[1]]
        for s, e in zip(bounds[:-1], bounds[1:]):
            if e - s < 40 and q[b, s:e].mean() > 0:
                mask[b, s:e] = 1.0
    return np.mean(z * mask)


def test_slowness_loss_uses_each_notes_length():
    class Slowness(losses.Loss):
        def call(self, z_pitch, mask):
            return ops.mean(z_pitch[..., 0] * mask)

    c = case("model")
    q = np.concatenate([np.full(45, 60.0), np.full(10, 0.0), np.full(5, 62.0)])
    q = np.stack([q, q[::-1]])[..., None]
    z = np.random.default_rng(0).normal(60, 1, q.shape)
    model = _model(midi_slowness_loss=Slowness(name="slowness"))
    model._losses_dict = {}
    model.add_slowness_loss(model.slowness_loss, z, q)
    close(model.losses_dict["slowness"], _slowness_reference(z, q), rtol=1e-6, atol=1e-9)
    # In a training call the loss is there, named after the loss object.
    _, ls = model(_feats(c), return_losses=True)
    assert "slowness" in ls and np.isfinite(float(ls["slowness"]))


def test_ground_truth_pianoroll_path():
    c = case("model")
    model = _model(encoder=False)
    feats = _feats(c)
    roll = np.zeros((2, 20, 128), np.float32)
    keys = np.array([[60] * 10 + [72] * 10, [64] * 20])
    for b in range(2):
        roll[b, np.arange(20), keys[b]] = 0.8
    feats["note_active_velocities"] = roll
    out, ls = model(feats, return_losses=True)
    np.testing.assert_array_equal(out["q_pitch"][..., 0], keys)
    # f0_loss_weights: |f0_midi - key| < 2 (f0 is 261 Hz = MIDI 59.98 for 8 frames, ...)
    f0_midi = 69 + 12 * np.log2(c["f0_hz"][..., 0] / 440.0)
    np.testing.assert_array_equal(out["f0_loss_weights"][..., 0],
                                  (np.abs(f0_midi - keys) < 2).astype(np.float32))  # fmt: skip
    assert "z_pitch" not in out and "p_q" not in ls and "q_f0" in ls
    roll_out = out["pianoroll"]
    np.testing.assert_array_equal(np.argmax(roll_out, -1), keys)
    with pytest.raises(KeyError, match="note_active_velocities"):
        model(_feats(c))


def test_pianoroll_helpers_hand_counted():
    q = np.array([[[60.0], [20.0], [20.5], [0.0], [127.9], [128.0]]])
    roll = MidiAutoencoder.midi_to_pianoroll(q, None)
    # 20.0 is not above the threshold (key 0); 20.5 truncates to 20; 128 is outside (no key).
    assert roll.shape == (6, 128)  # ddsp squeezes the batch of one too
    assert [int(np.argmax(r)) if r.any() else -1 for r in roll] == [60, 0, 20, 0, 127, -1]
    notes, vel = MidiAutoencoder.pianoroll_to_midi(np.eye(4, dtype=np.float32)[None] * 0.5)
    assert notes[0, :, 0].tolist() == [0, 1, 2, 3] and vel[0, :, 0].tolist() == [0.5] * 4


@pytest.mark.parametrize("n_frames", [1, 4])
def test_float64_gradients(n_frames):
    rng = np.random.default_rng(1)
    n_samples = 64 * n_frames
    group = losses.LossGroup(dag=[
        (losses.ParamLoss(name="amps_rec"), ["amps", "amps_pred"]),
        (losses.ParamLoss(loss_type="L2", name="hd_rec"), ["hd", "hd_pred"]),
    ])  # fmt: skip
    model = _model(n_frames=n_frames, n_samples=n_samples, reconstruction_losses=group)
    feats = {"audio": rng.standard_normal((1, n_samples)),
             "f0_hz": rng.uniform(200, 400, (1, n_frames, 1)),
             "loudness_db": rng.uniform(-60, -20, (1, n_frames, 1))}  # fmt: skip
    model(feats)
    params = model.parameters()
    params = {k: {n: np.asarray(v, np.float64) for n, v in flatten_dict(t).items()}
              for k, t in params.items()}  # fmt: skip
    from ddsp_ref.module import unflatten_dict

    params = {k: unflatten_dict(v) for k, v in params.items()}

    # The MIDI encoder's gradient goes through the straight-through rounding, which is not the
    # derivative finite differences see (that parity is checked against ddsp above); every
    # other parameter's gradient is a true derivative: check each subset of them. The
    # synthcoder reaches z_pitch only through the stop-gradient, so p_q and p_f0 (functions of
    # z_pitch) are left out where it varies.
    names = ("synthcoder", "midi_decoder")
    for r in (1, 2):
        for subset in itertools.combinations(names, r):
            keys = ["amps_rec", "hd_rec", "q_f0"] + ([] if "synthcoder" in subset else ["p_f0"])

            def fun(*sub, subset=subset, keys=keys):
                p = dict(params, **dict(zip(subset, sub)))
                out, ls = model.apply(p, feats)
                assert out["amps"].dtype == np.float64
                sig = out["midi_synth_params"]["harmonic"]["signal"]
                extra = [ops.sum(out["harmonic"]["signal"] ** 2), ops.sum(sig**2)]
                return ops.stack([ls[k] for k in keys] + extra)

            check_grads(fun, *[params[k] for k in subset])


def test_z_midi_autoencoder_runs_trains_and_pools_notes():
    c = case("model")
    feats = _feats(c)
    dec_net = nn.DilatedConvStack(ch=4, layers_per_stack=1, stacks=1, norm_type="layer",
                                  conditional=True, seed=5)  # fmt: skip
    model = _model(
        ZMidiAutoencoder, dec_net=dec_net,
        z_global_encoders=[AggregateFeaturesEncoder(ch=2, seed=6)],
        z_note_encoder=AggregateFeaturesEncoder(ch=3, seed=7),
        z_preconditioning_stack=nn.FcStackOut(4, 1, 5, seed=8),
    )  # fmt: skip
    out, ls = model(feats, return_losses=True)
    assert out["z_global"].shape == (2, 20, 2) and out["z_notes"].shape == (2, 20, 6)
    assert {"amps_scaled", "hd_scaled", "noise_scaled"} <= set(out)
    # z_notes: the note encoder's z averaged over each note of q_pitch (std next to it); its z
    # is constant over time, so each note's mean is that value and its std 0.
    z_note = model.z_note_encoder(out)["z"]
    q = np.asarray(out["q_pitch"])
    sounding = np.ones(q.shape[:2], bool)  # every frame belongs to a note (q > 0 here)
    assert (q > 0).all()
    close(np.asarray(out["z_notes"])[..., :3][sounding], np.asarray(z_note)[sounding],
          rtol=1e-5, atol=1e-6)  # fmt: skip
    close(np.asarray(out["z_notes"])[..., 3:], 0.0, rtol=0, atol=1e-3)
    children = set(model.children())
    assert {"z_global_encoders_0", "z_note_encoder", "z_preconditioning_stack"} <= children
    trainer = Trainer(model, learning_rate=3e-3)
    trainer.build(feats)
    first = trainer.train_step(feats)["total_loss"]
    for _ in range(4):
        last = trainer.train_step(feats)["total_loss"]
    assert last < first


def test_bad_input_and_gin_names():
    gin = pytest.importorskip("gin")
    model = _model()
    with pytest.raises(TypeError, match="MidiAutoencoder: features must be a dict"):
        model([1, 2])
    no_dec = MidiAutoencoder(synthcoder=model.synthcoder, midi_encoder=model.midi_encoder,
                             preprocessor=model.preprocessor, reverb=False)  # fmt: skip
    with pytest.raises(ValueError, match="a midi_decoder is required"):
        no_dec(_feats(case("model")))
    gin.clear_config()

    @gin.configurable("test_midiae_holder")
    def holder(a, b):
        return a, b

    try:
        gin.parse_config(
            "import ddsp_ref\n"
            "MidiAutoencoder.reverb = False\n"
            "ZMidiAutoencoder.mask_f0_loss = False\n"
            "test_midiae_holder.a = @models.MidiAutoencoder()\n"
            "test_midiae_holder.b = @models.ZMidiAutoencoder()\n"
        )
        a, b = holder()
    finally:
        gin.clear_config()
    assert type(a).__name__ == "MidiAutoencoder" and "reverb" not in str(a.processor_group.dag)
    assert type(b).__name__ == "ZMidiAutoencoder" and b.mask_f0_loss is False


def test_silence_gives_finite_outputs_losses_and_gradients():
    model = _model(n_frames=8, n_samples=512)
    feats = {"audio": np.zeros((1, 512), np.float32), "f0_hz": np.zeros((1, 8, 1), np.float32),
             "loudness_db": np.full((1, 8, 1), -120.0, np.float32)}  # fmt: skip
    model(feats)
    from ddsp_ref.autodiff import value_and_grad

    loss, grads = value_and_grad(lambda p: model.apply(p, feats)[1]["total_loss"])(
        model.parameters())  # fmt: skip
    assert np.isfinite(float(loss))
    assert all(np.isfinite(v).all() for v in flatten_dict(grads).values())
    out = model(feats, training=False)
    np.testing.assert_array_equal(np.asarray(out["f0_midi"]), 0.0)  # hz_to_midi(0 Hz) = 0
    assert np.isfinite(np.asarray(out["midi_audio"])).all()
