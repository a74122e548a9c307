"""OnlineF0PowerPreprocessor: frame counts per padding, power against a numpy formula, f0 from
the pitch tracker (no gradient), dataset f0 (vst.gin), audio_16k, and ddsp's ValueErrors."""

from __future__ import annotations

import numpy as np
import pytest

import ddsp_ref
from ddsp_ref import processors, synths
from ddsp_ref.autodiff import ops, value_and_grad
from ddsp_ref.losses import SpectralLoss
from ddsp_ref.spectral_ops import compute_f0
from ddsp_ref.training.decoders import DilatedConvDecoder
from ddsp_ref.training.models import Autoencoder
from ddsp_ref.training.optimizers import Adam
from ddsp_ref.training.preprocessing import OnlineF0PowerPreprocessor

SR = 16000
KEYS = ["f0_hz", "pw_db", "f0_scaled", "pw_scaled", "f0_confidence"]


def sine(n, hz=440.0, amp=0.5):
    return (amp * np.sin(2 * np.pi * hz * np.arange(n) / SR))[None].astype(np.float32)


def np_power_db(audio, frame_size, hop, padding):
    """Frame power [dB] with ddsp's padding: 'center' frame_size // 2 zeros each side, 'same'
    zeros at the end up to (ceil(n / hop) - 1) * hop + frame_size, 'valid' none; then
    max(10 log10(max(mean(x^2), 1e-8)), -80)."""
    x = np.asarray(audio, np.float64)[0]
    n = x.size
    if padding == "center":
        x = np.pad(x, (frame_size // 2, frame_size // 2))
    elif padding == "same":
        n_frames = -(-n // hop)
        x = np.pad(x, (0, (n_frames - 1) * hop + frame_size - n))
    count = (x.size - frame_size) // hop + 1
    ms = np.array([np.mean(x[i * hop : i * hop + frame_size] ** 2) for i in range(count)])
    return np.maximum(10 * np.log10(np.maximum(ms, 1e-8)), -80.0)


# 4096 samples at 250 Hz (hop 64), frame 1024: center n // hop + 1 = 65, same ceil(n / hop) =
# 64, valid (n - 1024) // hop + 1 = 49.
@pytest.mark.parametrize("padding,n_frames", [("center", 65), ("same", 64), ("valid", 49)])
def test_frame_counts_power_and_f0(padding, n_frames):
    audio = sine(4096)
    out = OnlineF0PowerPreprocessor(padding=padding)({"audio": audio})
    assert list(out) == KEYS
    for key in KEYS[:4]:
        assert out[key].shape == (1, n_frames, 1), key
    assert out["f0_confidence"].shape == (1, n_frames)
    np.testing.assert_allclose(out["pw_db"][0, :, 0], np_power_db(audio, 1024, 64, padding),
                               rtol=1e-4, atol=1e-3)  # fmt: skip
    f0, conf = compute_f0(audio, 250, False, padding)
    np.testing.assert_array_equal(out["f0_hz"][..., 0], f0)
    np.testing.assert_array_equal(out["f0_confidence"], conf)
    assert np.all(np.abs(out["f0_hz"][0, n_frames // 4 : -n_frames // 4] - 440.0) < 2.0)
    midi = 12 * np.log2(np.asarray(out["f0_hz"], np.float64) / 440.0) + 69
    np.testing.assert_allclose(out["f0_scaled"], midi / 127, rtol=1e-5)
    np.testing.assert_allclose(out["pw_scaled"], np.asarray(out["pw_db"]) / 80 + 1, rtol=1e-5)


def test_frame_size_and_rate_of_the_vst_config():
    # vst.gin: 50 Hz frames (hop 320), 1024-sample power frames, n_samples 64320 with centring
    # -> 64320 // 320 + 1 = 202 frames; dataset f0 (compute_f0=False) passes through.
    pre = OnlineF0PowerPreprocessor(frame_rate=50, frame_size=1024, padding="center",
                                    compute_f0=False)  # fmt: skip
    rng = np.random.default_rng(0)
    f0 = rng.uniform(100, 500, (2, 202)).astype(np.float32)
    conf = rng.random((2, 202)).astype(np.float32)
    audio = 0.1 * rng.standard_normal((2, 64320)).astype(np.float32)
    out = pre({"audio": audio, "f0_hz": f0, "f0_confidence": conf})
    np.testing.assert_array_equal(out["f0_hz"][..., 0], f0)
    np.testing.assert_array_equal(out["f0_confidence"], conf)
    assert out["pw_db"].shape == (2, 202, 1)
    np.testing.assert_allclose(out["pw_db"][1, :, 0], np_power_db(audio[1:], 1024, 320, "center"),
                               rtol=1e-4, atol=1e-3)  # fmt: skip


def test_audio_16k_is_used_when_present():
    pre = OnlineF0PowerPreprocessor(padding="same", compute_f0=False)
    f0, conf = np.full((1, 32), 200.0), np.ones((1, 32))
    out = pre({"audio": sine(8000), "audio_16k": sine(2048, amp=0.1), "f0_hz": f0,
               "f0_confidence": conf})  # fmt: skip
    np.testing.assert_allclose(out["pw_db"][0, :, 0],
                               np_power_db(sine(2048, amp=0.1), 1024, 64, "same"),
                               rtol=1e-4, atol=1e-3)  # fmt: skip


def test_dataset_power_and_crepe_path_are_accepted():
    pw = np.linspace(-60, -10, 65)[None]
    f0, conf = np.full((1, 65), 300.0), np.ones((1, 65))
    pre = OnlineF0PowerPreprocessor(compute_power=False, compute_f0=False,
                                    crepe_saved_model_path="/no/such/model")  # fmt: skip
    out = pre({"audio": sine(4096), "pw_db": pw, "f0_hz": f0, "f0_confidence": conf})
    np.testing.assert_array_equal(out["pw_db"][..., 0], pw)


def test_frame_count_mismatch_and_missing_features_raise():
    pre = OnlineF0PowerPreprocessor(compute_f0=False)
    audio = sine(4096)
    with pytest.raises(ValueError, match="'f0_hz' does not have 65 frames"):
        pre({"audio": audio, "f0_hz": np.ones((1, 64)), "f0_confidence": np.ones((1, 64))})
    with pytest.raises(ValueError, match="f0_confidence"):
        pre({"audio": audio, "f0_hz": np.ones((1, 65))})
    with pytest.raises(ValueError, match="pw_db"):
        OnlineF0PowerPreprocessor(compute_power=False)({"audio": audio})
    with pytest.raises(ValueError, match="padding"):
        OnlineF0PowerPreprocessor(padding="causal")
    # 'valid' power frames of 512 samples outnumber the tracker's 1024-sample frames (CREPE's
    # size, as in ddsp): (4096 - 512) // 64 + 1 = 57 expected, 49 f0 frames
    with pytest.raises(ValueError, match="'f0_hz' does not have 57 frames"):
        OnlineF0PowerPreprocessor(frame_size=512, padding="valid")({"audio": audio})
    with pytest.raises(ValueError):
        OnlineF0PowerPreprocessor(frame_rate=32000)  # hop 16000 // 32000 = 0


def test_power_is_differentiable_and_f0_is_not():
    pre = OnlineF0PowerPreprocessor(padding="same")
    audio = sine(2048).astype(np.float64) + 0.01

    def loss(a, use_f0):
        out = pre({"audio": a})
        total = ops.sum(out["pw_scaled"])
        return total + ops.sum(out["f0_scaled"]) if use_f0 else total

    g_pw = ddsp_ref.grad(lambda a: loss(a, False))(audio)
    g_both = ddsp_ref.grad(lambda a: loss(a, True))(audio)
    assert np.max(np.abs(g_pw)) > 0
    np.testing.assert_array_equal(g_both, g_pw)  # the pitch tracker is a stop-gradient


def test_vst_style_autoencoder_trains():
    # vst.gin's front end (50 Hz frames, centre padding, one extra hop of audio, dataset f0)
    # feeding a small DilatedConvDecoder and a Harmonic synth (linear amplitude resampling, as
    # vst.gin: 53 frames do not divide 16320 samples for 'window'): Adam steps lower the loss.
    n, frames = 16320, 52  # 16320 // 320 + 1
    t = np.arange(n) / SR
    audio = (0.4 * np.sin(2 * np.pi * 220 * t) + 0.2 * np.sin(2 * np.pi * 440 * t))[None]
    feats = {"audio": audio.astype(np.float32), "f0_hz": np.full((1, frames), 220.0, np.float32),
             "f0_confidence": np.ones((1, frames), np.float32)}  # fmt: skip
    decoder = DilatedConvDecoder(ch=16, layers_per_stack=2, stacks=1,
                                 input_keys=("pw_scaled", "f0_scaled"), conditioning_keys=None,
                                 output_splits=(("amps", 1), ("harmonic_distribution", 6)),
                                 seed=0)  # fmt: skip
    harmonic = synths.Harmonic(n_samples=n, sample_rate=SR, amp_resample_method="linear")
    model = Autoencoder(
        preprocessor=OnlineF0PowerPreprocessor(frame_rate=50, compute_f0=False),
        decoder=decoder,
        processor_group=processors.ProcessorGroup(
            [(harmonic, ["amps", "harmonic_distribution", "f0_hz"])]
        ),
        losses=SpectralLoss(logmag_weight=1.0),
    )
    outputs = model(feats)
    assert outputs["pw_scaled"].shape == (1, frames, 1) and outputs["audio_synth"].shape == (1, n)
    params = model.parameters()
    step = value_and_grad(lambda p: model.apply(p, feats)[1]["total_loss"])
    adam, history = Adam(learning_rate=0.003), []
    state = adam.init(params)
    for _ in range(5):
        value, grads = step(params)
        history.append(float(value))
        params, state = adam.update(params, grads, state)
    # the first Adam step may overshoot on the spectral loss; the trend is down
    assert history[-1] < 0.9 * history[0], history
    assert history[-1] < history[-2] < history[-3], history


def test_gin_builds_the_preprocessor():
    gin = pytest.importorskip("gin")
    gin.clear_config()

    @gin.configurable("test_online_holder")
    def holder(preprocessor=None):
        return preprocessor

    try:
        gin.parse_config(
            "import ddsp_ref\n"
            "OnlineF0PowerPreprocessor.frame_rate = 50\n"
            "OnlineF0PowerPreprocessor.compute_f0 = False\n"
            "test_online_holder.preprocessor = @preprocessing.OnlineF0PowerPreprocessor()\n"
        )
        pre = holder()
    finally:
        gin.clear_config()
    assert isinstance(pre, OnlineF0PowerPreprocessor)
    assert pre.hop_size == 320 and not pre.compute_f0 and pre.padding == "center"
