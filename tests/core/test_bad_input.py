"""Bad input to the public callables of core, synths and streaming: a ValueError / TypeError
that names the argument and what was expected, never a silent wrong result; Python lists
work wherever arrays do."""

from __future__ import annotations

import numpy as np
import pytest

from ddsp_ref import core, streaming, synths

F, H = 4, 3
f0 = np.full((1, F, 1), 200.0)
amp = np.full((1, F, 1), 0.5)
dist = np.ones((1, F, H))
fe = np.full((1, 32, 2), 300.0)
ae = np.ones((1, 32, 2))
audio = np.zeros((1, 64))

BAD = [
    ("center_crop 0", lambda: core.center_crop(audio, 0), "frame_size"),
    ("center_crop longer than audio", lambda: core.center_crop(audio, 200), "frame_size"),
    ("sinc_filter window -1", lambda: core.sinc_filter(audio, amp, window_size=-1), "window_size"),
    ("sinc_impulse_response sr 0", lambda: core.sinc_impulse_response(amp, 8, 0), "sample_rate"),
    ("resample 29.5", lambda: core.resample(f0, 29.5), "n_timesteps"),
    ("resample '64'", lambda: core.resample(f0, "64"), "n_timesteps"),
    ("resample method", lambda: core.resample(f0, 64, "bicubic"), "method"),
    ("resample no frames", lambda: core.resample(np.zeros((1, 0, 1)), 64), "no frames"),
    ("oscillator_bank rank", lambda: core.oscillator_bank(fe, ae[None]), "amplitude_envelopes"),
    ("oscillator_bank 2-D", lambda: core.oscillator_bank(fe[..., 0], ae), "frequency_envelopes"),
    ("oscillator_bank sr<0", lambda: core.oscillator_bank(fe, ae, -16000), "sample_rate"),
    ("oscillator_bank sr nan", lambda: core.oscillator_bank(fe, ae, np.nan), "sample_rate"),
    ("oscillator_bank empty", lambda: core.oscillator_bank(fe[:, :0], ae[:, :0]), "no samples"),
    ("remove_above_nyquist sr<0", lambda: core.remove_above_nyquist(fe, ae, -1), "sample_rate"),
    ("normalize_harmonics sr 0", lambda: core.normalize_harmonics(dist, f0, 0), "sample_rate"),
    ("angular_cumsum chunk 0", lambda: core.angular_cumsum(fe, 0), "chunk_size"),
    ("get_harmonic_frequencies -1", lambda: core.get_harmonic_frequencies(f0, -1), "n_harmonics"),
    (
        "harmonic_oscillator_bank phase",
        lambda: core.harmonic_oscillator_bank(fe[..., :1], ae, np.zeros(3)),
        "initial_phase",
    ),  # fmt: skip
    (
        "harmonic_synthesis n_samples",
        lambda: core.harmonic_synthesis(f0, amp, harmonic_distribution=dist, n_samples=0),
        "n_samples",
    ),  # fmt: skip
    (
        "harmonic_synthesis sr str",
        lambda: core.harmonic_synthesis(f0, amp, n_samples=64, sample_rate="16000"),
        "sample_rate",
    ),  # fmt: skip
    (
        "harmonic_synthesis method",
        lambda: core.harmonic_synthesis(f0, amp, n_samples=64, amp_resample_method="area"),
        "amp_resample_method",
    ),  # fmt: skip
    (
        "harmonic_synthesis no frames",
        lambda: core.harmonic_synthesis(f0[:, :0], amp[:, :0], n_samples=64),
        "n_frames",
    ),  # fmt: skip
    (
        "harmonic_synthesis batch",
        lambda: core.harmonic_synthesis(
            np.full((2, F, 1), 200.0), np.full((3, F, 1), 0.5), n_samples=64
        ),
        "batch",
    ),  # fmt: skip
    (
        "harmonic_synthesis f0 channels",
        lambda: core.harmonic_synthesis(dist, amp, n_samples=64),
        "frequencies",
    ),  # fmt: skip
    (
        "streaming sr 0",
        lambda: core.streaming_harmonic_synthesis(f0, amp, dist, n_samples=64, sample_rate=0),
        "sample_rate",
    ),  # fmt: skip
    (
        "wavetable_synthesis sr 0",
        lambda: core.wavetable_synthesis(f0, amp, dist, n_samples=64, sample_rate=0),
        "sample_rate",
    ),  # fmt: skip
    (
        "wavetable_synthesis batch",
        lambda: core.wavetable_synthesis(f0.repeat(2, 0), amp, np.ones((3, F, 8)), n_samples=64),
        "batch",
    ),  # fmt: skip
    ("Wavetable sr 0", lambda: synths.Wavetable(sample_rate=0), "sample_rate"),
    ("Harmonic n_samples", lambda: synths.Harmonic(n_samples=-5), "n_samples"),
    ("Harmonic method", lambda: synths.Harmonic(amp_resample_method="x"), "amp_resample_method"),
    ("Sinusoidal sr nan", lambda: synths.Sinusoidal(sample_rate=np.nan), "sample_rate"),
    ("FilteredNoise window", lambda: synths.FilteredNoise(window_size=-3), "window_size"),
    (
        "Sinusoidal mismatch",
        lambda: synths.Sinusoidal(n_samples=64)(np.zeros((1, F, 2)), np.zeros((1, F, 3))),
        "n_sinusoids|broadcastable",
    ),  # fmt: skip
    ("HarmonicStream hop", lambda: streaming.HarmonicStream(synths.Harmonic(), 0), "hop_size"),
    ("harmonic_synthesis f0 None", lambda: core.harmonic_synthesis(None, amp), "frequencies"),
    ("sinc threshold nan", lambda: core.sinc(audio, np.nan), "threshold"),
    ("pad_axis scalar", lambda: core.pad_axis(1.0, (1, 1)), "x"),
    ("diff scalar axis", lambda: core.diff(np.float32(1.0)), "axis"),
    (
        "frequency_impulse_response scalar",
        lambda: core.frequency_impulse_response(1.0),
        "magnitudes",
    ),  # fmt: skip
    (
        "frequency_filter 1-D magnitudes",
        lambda: core.frequency_filter(audio, np.ones(5)),
        "magnitudes",
    ),  # fmt: skip
    (
        "harmonic_distribution_to_wavetable scalar",
        lambda: core.harmonic_distribution_to_wavetable(1.0),
        "harmonic_distribution",
    ),  # fmt: skip
    ("exp_sigmoid threshold nan", lambda: core.exp_sigmoid(f0, threshold=np.nan), "threshold"),
    ("exp_sigmoid exponent 0", lambda: core.exp_sigmoid(f0, exponent=0.0), "exponent"),
    ("log_scale min 0", lambda: core.log_scale(f0, 0.0, 1.0), "min_x"),
    ("power_to_db range inf", lambda: core.power_to_db(f0, range_db=np.inf), "range_db"),
    ("unit_to_midi midi_min str", lambda: core.unit_to_midi(f0, "20"), "midi_min"),
    ("linear_lookup phase channels", lambda: core.linear_lookup(fe, ae), "phase"),
]


@pytest.mark.parametrize("label, call, name", BAD, ids=[b[0] for b in BAD])
def test_bad_input_is_named(label, call, name):
    with pytest.raises((ValueError, TypeError), match=name):
        call()


COMPLEX = [
    lambda: core.oscillator_bank(fe + 0j, ae),
    lambda: core.harmonic_synthesis(f0, amp + 0j, n_samples=64),
    lambda: core.resample(f0 + 0j, 64),
    lambda: core.wavetable_synthesis(f0, amp, dist + 0j, n_samples=64),
    lambda: synths.Harmonic(n_samples=64)(amp, dist + 1j, f0),
    lambda: core.safe_divide(f0 + 0j, amp),
    lambda: core.safe_log(f0 + 0j),
    lambda: core.soft_limit(f0 + 0j),
    lambda: core.diff(f0 + 0j),
    lambda: core.unit_to_midi(amp, midi_min=np.ones(2) + 1j),
]


@pytest.mark.parametrize("call", COMPLEX)
def test_complex_input_is_rejected(call):
    with pytest.raises(TypeError, match="must be real"):
        call()


def test_processors_accept_python_lists():
    """Lists give the numbers of the same float32 arrays."""
    lists = [x.tolist() for x in (amp, dist, f0)]
    harmonic = synths.Harmonic(n_samples=64)
    np.testing.assert_array_equal(
        harmonic(*lists), harmonic(*[np.asarray(x, np.float32) for x in lists])
    )
    sinusoidal = synths.Sinusoidal(n_samples=64)
    np.testing.assert_array_equal(
        sinusoidal(dist.tolist(), dist.tolist()),
        sinusoidal(dist.astype(np.float32), dist.astype(np.float32)),
    )
    wavetable = synths.Wavetable(n_samples=64)
    tables = np.sin(np.arange(8) / 8 * 2 * np.pi)[None, None].repeat(F, 1)
    np.testing.assert_array_equal(
        wavetable(amp.tolist(), tables.tolist(), f0.tolist()),
        wavetable(amp.astype(np.float32), tables.astype(np.float32), f0.astype(np.float32)),
    )
    noise = synths.FilteredNoise(n_samples=64, seed=1)
    again = synths.FilteredNoise(n_samples=64, seed=1)
    np.testing.assert_array_equal(noise(dist.tolist()), again(dist.astype(np.float32)))
    samples = np.linspace(-1, 1, 8)[None, :, None]
    np.testing.assert_array_equal(
        synths.TensorToAudio()(samples.tolist()), samples[..., 0].astype(np.float32)
    )
    stream = streaming.HarmonicStream(harmonic, hop_size=16)
    np.testing.assert_array_equal(
        stream.process(*lists),
        streaming.HarmonicStream(harmonic, 16).process(*[np.float32(x) for x in (amp, dist, f0)]),
    )


def test_utilities_reject_wrong_types():
    with pytest.raises(TypeError, match="nested_dict must be a dict"):
        core.nested_keys([1, 2])
    with pytest.raises(TypeError, match="nested_key must be a str"):
        core.leaf_key(3)
    with pytest.raises(TypeError, match="nested_key must be a str"):
        core.nested_lookup(["a"], {"a": 1})
