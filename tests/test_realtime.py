"""Real-time timbre transfer (ddsp_ref.realtime) and the noise / reverb streams: every stream,
run block by block, equals its one-shot op; the whole engine equals ``model(features)`` on
features computed offline over the whole signal, for blocks of one hop, of a non-divisor of
the length and longer than the file, in float32 and float64; silence, quiet input, reset and
bad input."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.signal

from ddsp_ref import effects, processors, synths
from ddsp_ref.autodiff import tree_map
from ddsp_ref.realtime import (
    FeatureStream,
    StreamingTransfer,
    quantile_loudness_map,
    stateless_decoder,
    stream_file,
)
from ddsp_ref.spectral_ops import compute_f0, compute_loudness
from ddsp_ref.streaming import FilteredNoiseStream, ReverbStream
from ddsp_ref.synths import NoiseSource
from ddsp_ref.training.decoders import RnnFcDecoder
from ddsp_ref.training.models import Autoencoder
from ddsp_ref.training.preprocessing import F0LoudnessPreprocessor

SR, HOP = 16000, 64
N_SAMPLES = int(1.3 * SR) + 17  # 326 frames, the last one partial


def pieces_of(n, sizes):
    """Boundaries cutting range(n) into pieces of the given sizes, cycled."""
    bounds, i = [0], 0
    while bounds[-1] < n:
        bounds.append(min(n, bounds[-1] + sizes[i % len(sizes)]))
        i += 1
    return list(zip(bounds[:-1], bounds[1:]))


# -- noise ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_noise_source_pieces_equal_one_draw(dtype):
    whole = NoiseSource(7).uniform(np, (1, 1000), dtype)
    source = NoiseSource(7)
    parts = [source.uniform(np, (1, b - a), dtype) for a, b in pieces_of(1000, [64, 1, 3, 333])]
    np.testing.assert_array_equal(np.concatenate(parts, axis=1), whole)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n_bands, window_size", [(65, 0), (8, 0), (3, 0), (33, 17)])
@pytest.mark.parametrize("sizes", [[1], [3, 7, 2], [1000]])
def test_filtered_noise_stream_equals_one_shot(dtype, n_bands, window_size, sizes):
    n_frames = 23
    mags = np.random.default_rng(1).normal(size=(1, n_frames, n_bands)).astype(dtype)
    synth = synths.FilteredNoise(n_samples=n_frames * HOP, window_size=window_size, seed=5)
    one_shot = np.asarray(synth(mags))
    stream = FilteredNoiseStream(synths.FilteredNoise(window_size=window_size, seed=5), HOP)
    out = [stream.process(mags[:, a:b]) for a, b in pieces_of(n_frames, sizes)]
    out = np.concatenate(out + [stream.flush()], axis=1)
    assert out.shape == one_shot.shape and out.dtype == one_shot.dtype
    tol = 1e-6 if dtype == np.float32 else 1e-13
    np.testing.assert_allclose(out, one_shot, rtol=0, atol=tol * np.max(np.abs(one_shot)))


def test_filtered_noise_stream_explicit_noise_batch_against_direct_convolution():
    """Batch 2, given noise: each hop block convolved (np.convolve, float64) with its frame's
    zero-phase, Hann-windowed IR, overlap-added, delayed by ddsp's (ir_size - 1) // 2 - 1."""
    rng = np.random.default_rng(2)
    n_frames, n_bands = 9, 5
    mags = rng.normal(size=(2, n_frames, n_bands))
    noise = rng.uniform(-1, 1, size=(2, n_frames * HOP))
    synth = synths.FilteredNoise(window_size=0, scale_fn=None)
    stream = FilteredNoiseStream(synth, HOP)
    out = [stream.process(mags[:, a:b], noise[:, a * HOP : b * HOP])
           for a, b in pieces_of(n_frames, [2, 3])]  # fmt: skip
    out = np.concatenate(out + [stream.flush()], axis=1)
    ir_size = 2 * (n_bands - 1)
    full = np.zeros((2, n_frames * HOP + ir_size - 1))
    window = scipy.signal.get_window("hann", ir_size)  # periodic, as TF's
    for b in range(2):
        for k in range(n_frames):
            ir = np.roll(np.fft.irfft(mags[b, k], ir_size), ir_size // 2) * window
            full[b, k * HOP : k * HOP + HOP + ir_size - 1] += np.convolve(
                noise[b, k * HOP : (k + 1) * HOP], ir
            )
    start = (ir_size - 1) // 2 - 1
    np.testing.assert_allclose(out, full[:, start : start + n_frames * HOP], atol=1e-12)


# -- reverb ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("sizes", [[1], [64, 7, 1500], [5000]])
def test_reverb_stream_equals_one_shot_and_direct_convolution(dtype, sizes):
    n = 3000
    audio = np.random.default_rng(3).normal(size=(1, n)).astype(dtype)
    reverb = effects.Reverb(trainable=True, reverb_length=700, seed=4)
    reverb.set_parameters({"ir": np.random.default_rng(5).normal(size=700).astype(dtype)})
    one_shot = np.asarray(reverb(audio))
    stream = ReverbStream(reverb)
    out = np.concatenate([stream.process(audio[:, a:b]) for a, b in pieces_of(n, sizes)], 1)
    assert out.dtype == dtype
    ir = np.asarray(reverb.parameters()["ir"], np.float64).copy()
    ir[0] = 0.0  # the dry tap is masked; the dry signal is added
    direct = np.convolve(audio[0].astype(np.float64), ir)[:n] + audio[0]
    scale = np.max(np.abs(direct))
    tol = 2e-6 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(out[0], direct, rtol=0, atol=tol * scale)
    np.testing.assert_allclose(out, one_shot, rtol=0, atol=tol * scale)


def test_reverb_stream_non_trainable_needs_ir_and_reset_forgets_the_tail():
    reverb = effects.Reverb(trainable=False, add_dry=False)
    with pytest.raises(ValueError, match="needs its `ir`"):
        ReverbStream(reverb)
    stream = ReverbStream(reverb, ir=np.array([0.0, 0.5, 0.25]))
    np.testing.assert_allclose(stream.process(np.array([[1.0, 0.0]])), [[0.0, 0.5]])
    stream.reset()
    np.testing.assert_allclose(stream.process(np.array([[0.0, 0.0]])), [[0.0, 0.0]])


# -- features -------------------------------------------------------------------------------------
def tone(n, amplitude=0.3):
    t = np.arange(n) / SR
    f0 = 220.0 * (1 + 0.03 * np.sin(2 * np.pi * 2 * t))
    return (amplitude * np.sin(2 * np.pi * np.cumsum(f0) / SR) * np.minimum(1, 5 * t)).astype(
        np.float32
    )


def offline_features(audio, dtype=np.float32):
    """The one-shot features of timbre_transfer: zero-padded to whole hops, centre padding,
    f0 by frame-wise pYIN, the first ceil(n / hop) frames."""
    n_frames = -(-audio.size // HOP)
    padded = np.pad(audio, (0, n_frames * HOP - audio.size)).astype(dtype)
    f0, confidence = compute_f0(padded, 250, False)
    loudness = compute_loudness(padded, SR, 250)
    return {"f0_hz": f0[:n_frames], "f0_confidence": confidence[:n_frames],
            "loudness_db": loudness[:n_frames]}  # fmt: skip


@pytest.mark.parametrize("n, sizes", [
    (N_SAMPLES, [HOP]), (N_SAMPLES, [7 * HOP, HOP, 3 * HOP]), (N_SAMPLES, [10**6]),
    (100, [100]), (513, [512, 1]),
])  # fmt: skip
@pytest.mark.parametrize("amplitude", [0.3, 1e-6, 0.0])
def test_feature_stream_equals_one_shot(n, sizes, amplitude):
    audio = tone(n, amplitude)
    expected = offline_features(audio)
    stream = FeatureStream()
    parts = [stream.process(audio[a:b]) for a, b in pieces_of(n, sizes)] + [stream.flush()]
    for key, value in expected.items():
        got = np.concatenate([p[key] for p in parts])
        assert got.shape == value.shape, key
        # pYIN's batched FFTs round a few float32 ulps differently for other frame counts.
        atol = {"f0_hz": 1e-3, "f0_confidence": 1e-5, "loudness_db": 1e-4}[key]
        np.testing.assert_allclose(got, value, rtol=1e-6, atol=atol, err_msg=key)


# -- the engine -----------------------------------------------------------------------------------
SPLITS = (("amps", 1), ("harmonic_distribution", 12), ("noise_magnitudes", 8))


def make_model(n_frames, noise=True, reverb=True, rnn_type="gru", dtype=np.float32, n_bands=8):
    """A tiny solo_instrument: F0LoudnessPreprocessor -> RnnFcDecoder -> Harmonic +
    FilteredNoise(window_size 0) + Add -> Reverb(trainable); seeded, so equal models. With
    float64, the parameters are float64 too (a float32 IR would be transformed in float32)."""
    n = n_frames * HOP
    splits = SPLITS[:2] + ((("noise_magnitudes", n_bands),) if noise else ())
    decoder = RnnFcDecoder(rnn_channels=16, rnn_type=rnn_type, ch=16, layers_per_stack=1,
                           input_keys=("ld_scaled", "f0_scaled"), output_splits=splits,
                           seed=0)  # fmt: skip
    dag = [
        (synths.Harmonic(n_samples=n, sample_rate=SR), ["amps", "harmonic_distribution", "f0_hz"])
    ]
    last = "harmonic/signal"
    if noise:
        noise_synth = synths.FilteredNoise(n_samples=n, window_size=0, seed=3)
        add = processors.Add(name="add")
        dag += [(noise_synth, ["noise_magnitudes"]),
                (add, ["filtered_noise/signal", "harmonic/signal"])]  # fmt: skip
        last = "add/signal"
    if reverb:
        dag += [(effects.Reverb(trainable=True, reverb_length=3000, seed=1), [last])]
    model = Autoencoder(
        preprocessor=F0LoudnessPreprocessor(time_steps=n_frames, compute_loudness=False),
        decoder=decoder, processor_group=processors.ProcessorGroup(dag),
    )  # fmt: skip
    if reverb:  # a louder IR than the initialiser's, so the reverb's part is visible
        ir = np.random.default_rng(9).normal(0, 0.01, 3000) * np.exp(-np.arange(3000) / 600)
        model.processor_group._modules["reverb"].set_parameters({"ir": ir.astype(np.float32)})
    if dtype == np.float64:  # build the decoder (no noise drawn), make every parameter float64
        model.decoder({k: np.zeros((1, 1, 1), np.float32) for k in ("f0_scaled", "ld_scaled")})
        model.set_parameters(tree_map(lambda x: np.asarray(x, np.float64), model.parameters()))
    return model


def one_shot(audio, model, dtype=np.float32, pitch_shift=0.0, loudness_shift=0.0):
    features = offline_features(audio, dtype)
    f0 = (np.asarray(features["f0_hz"], np.float64) * 2.0**pitch_shift).astype(np.float32)
    loudness = np.asarray(features["loudness_db"], np.float64) + loudness_shift
    batch = {"f0_hz": f0.astype(dtype)[None],
             "loudness_db": loudness.astype(np.float32).astype(dtype)[None]}  # fmt: skip
    return np.asarray(model(batch, training=False)["audio_synth"])[0, : audio.size]


def assert_close(out, expected, dtype):
    assert out.shape == expected.shape and out.dtype == dtype
    # float32: the f0 frames differ by float32 ulps (see the feature test) and the oscillator
    # phase integrates the difference; float64 agrees to rounding.
    tol = 2e-4 if dtype == np.float32 else 1e-9
    scale = np.max(np.abs(expected))
    np.testing.assert_allclose(out, expected, rtol=0, atol=tol * max(scale, 1e-30))


@pytest.fixture(scope="module")
def reference():
    audio = tone(N_SAMPLES)
    return audio, {
        d: one_shot(audio, make_model(326, dtype=d), d) for d in (np.float32, np.float64)
    }


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("block_ms", [4, 28, 2000])  # one hop; 7 hops (326 % 7 != 0); > file
def test_stream_file_equals_one_shot(reference, dtype, block_ms):
    audio, expected = reference
    out = stream_file(audio, SR, make_model(1, dtype=dtype), block_ms=block_ms, dtype=dtype)
    assert_close(out, expected[dtype], dtype)
    assert np.std(expected[dtype]) > 0.01


def test_blocks_keep_their_length_and_latency_is_zeros(reference):
    audio, expected = reference
    stream = StreamingTransfer(make_model(1), block_ms=32)
    assert stream.block_size == 512 and stream.latency_samples == 512  # f0's half frame
    padded = np.pad(audio, (0, 326 * HOP - audio.size))
    out = [stream.process(padded[a:b]) for a, b in pieces_of(padded.size, [512])]
    assert [o.size for o in out] == [b - a for a, b in pieces_of(padded.size, [512])]
    assert not np.any(out[0][:512])  # the latency
    tail = stream.flush()
    assert tail.size == 512
    joined = np.concatenate(out + [tail])[512 : 512 + audio.size]
    assert_close(joined, expected[np.float32], np.float32)


def test_reset_starts_a_new_signal(reference):
    audio, expected = reference
    stream = StreamingTransfer(make_model(1), block_ms=16)
    for a, b in pieces_of(4096, [256]):
        stream.process(np.random.default_rng(a).normal(size=b - a))
    stream.reset()
    padded = np.pad(audio, (0, 326 * HOP - audio.size))
    out = [stream.process(padded[a:b]) for a, b in pieces_of(padded.size, [256])]
    out = np.concatenate(out + [stream.flush()])[512 : 512 + audio.size]
    assert_close(out, expected[np.float32], np.float32)


@pytest.mark.parametrize("amplitude", [0.0, 1e-5])
def test_silence_and_quiet_input(amplitude):
    audio = tone(5000, amplitude)
    expected = one_shot(audio, make_model(-(-5000 // HOP)))
    out = stream_file(audio, SR, make_model(1), block_ms=12)
    assert np.all(np.isfinite(out))
    assert_close(out, expected, np.float32)


def test_pitch_loudness_shift_and_loudness_map():
    audio = tone(6000)
    n_frames = -(-6000 // HOP)
    expected = one_shot(audio, make_model(n_frames), pitch_shift=-1.0, loudness_shift=-7.5)
    out = stream_file(audio, SR, make_model(1), block_ms=8, pitch_shift=-1.0,
                      loudness_shift=-3.0, loudness_map=lambda db: db - 4.5)  # fmt: skip
    assert_close(out, expected, np.float32)


def test_quantile_loudness_map_equals_the_offline_fit_on_the_calibration_notes():
    from ddsp_ref.training.postprocessing import detect_notes, fit_quantile_transform
    from ddsp_ref.training.quantile import QuantileTransformer

    calibration = offline_features(tone(SR))
    dataset = QuantileTransformer().fit(np.random.default_rng(0).uniform(-70, -10, (500, 1)))
    loudness_map = quantile_loudness_map(calibration, dataset)
    loudness = np.asarray(calibration["loudness_db"], np.float64)
    mask, _ = detect_notes(loudness, calibration["f0_confidence"])
    assert mask.sum() > 100
    offline = fit_quantile_transform(loudness, mask, inv_quantile=dataset)[:, 0]
    np.testing.assert_allclose(loudness_map(loudness)[mask], offline[mask], rtol=1e-12)
    # Per frame: a frame maps the same alone as within the file.
    np.testing.assert_allclose(loudness_map(loudness[7:8]), loudness_map(loudness)[7:8])
    with pytest.raises(ValueError, match="no note frames"):
        quantile_loudness_map(offline_features(np.zeros(SR, np.float32)), dataset)


@pytest.mark.parametrize("noise, reverb, rnn_type", [
    (False, False, "gru"), (True, False, "gru"), (False, True, "lstm"),
])  # fmt: skip
def test_other_solo_shapes(noise, reverb, rnn_type):
    audio = tone(4000)
    n_frames = -(-4000 // HOP)
    models = [make_model(n, noise, reverb, rnn_type, np.float64) for n in (n_frames, 1)]
    expected = one_shot(audio, models[0], np.float64)
    out = stream_file(audio, SR, models[1], block_ms=20, dtype=np.float64)
    assert_close(out, expected, np.float64)


def test_noise_filter_longer_than_a_hop_adds_latency():
    """129 bands: a 256-tap FIR whose delay compensation (126 samples) exceeds the hop by 62."""
    audio = tone(5000)
    expected = one_shot(audio, make_model(-(-5000 // HOP), n_bands=129))
    stream = StreamingTransfer(make_model(1, n_bands=129), block_ms=8)
    assert stream.latency_samples == 512 + 62
    out = stream_file(audio, SR, make_model(1, n_bands=129), block_ms=8)
    assert_close(out, expected, np.float32)


def test_stream_file_resamples_other_rates():
    from ddsp_ref.training.data_preparation.audio import resample

    audio = tone(24000)  # read as 24 kHz: 1 s, 16000 samples at the model's rate
    at_16k = resample(audio.astype(np.float64), 24000, SR).astype(np.float32)
    expected = one_shot(at_16k, make_model(250))
    out = stream_file(audio, 24000, make_model(1), block_ms=64)
    assert_close(out, expected, np.float32)
    assert np.std(out) > 0.01


def test_stateless_decoder_same_tree_and_same_outputs_in_pieces():
    decoder = make_model(1).decoder
    rng = np.random.default_rng(0)
    feats = {
        k: rng.uniform(0, 1, (1, 30, 1)).astype(np.float32) for k in ("f0_scaled", "ld_scaled")
    }
    whole = decoder(feats)
    twin = stateless_decoder(decoder)
    shapes = lambda t: {k: shapes(v) for k, v in t.items()} if isinstance(t, dict) else t.shape  # noqa: E731
    assert shapes(twin.parameters()) == shapes(decoder.parameters())
    state, parts = np.zeros((1, 16), np.float32), []
    for a, b in pieces_of(30, [1, 4, 11]):
        out = twin({k: v[:, a:b] for k, v in feats.items()} | {"state": state})
        state = out["state"]
        parts.append(out["harmonic_distribution"])
    np.testing.assert_allclose(np.concatenate(parts, 1), whole["harmonic_distribution"],
                               rtol=1e-6, atol=1e-6)  # fmt: skip


def test_flush_without_input_and_bad_input():
    stream = StreamingTransfer(make_model(1), block_ms=4)
    assert stream.flush().size == 0
    with pytest.raises(ValueError, match="whole number of hops"):
        stream.process(np.zeros(100))
    with pytest.raises(ValueError, match="NaN"):
        stream.process(np.full(64, np.nan))
    with pytest.raises(ValueError, match="whole number of hops"):
        StreamingTransfer(make_model(1), block_ms=10)
    model = make_model(1)
    model.processor_group = processors.ProcessorGroup(
        [(synths.Sinusoidal(n_samples=64), ["amps", "harmonic_distribution"])]
    )
    with pytest.raises(ValueError, match="unsupported processor"):
        StreamingTransfer(model)
    model = make_model(1)
    model.preprocessor = None
    with pytest.raises(TypeError, match="F0LoudnessPreprocessor"):
        StreamingTransfer(model)
