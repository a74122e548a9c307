"""ddsp's tutorial 1 (synths and effects) with ddsp_ref: the Harmonic, FilteredNoise and
Wavetable synths; Reverb (given and trainable impulse responses), ExpDecayReverb and
FilteredNoiseReverb; FIRFilter; ModDelay as chorus, flanger and vibrato.

The effects process the opening of the bundled violin recording
(``ddsp_ref/data/corpus/violin_ode_to_joy.flac``).

Run: python examples/1_synths_and_effects.py [--small] [--out DIR]
"""

from __future__ import annotations

import os

import _util
import numpy as np

import ddsp_ref
from ddsp_ref import plotting

SAMPLE_RATE = 16000
HOP_SIZE = 64
CORPUS = os.path.join(_util._ROOT, "ddsp_ref", "data", "corpus")


def load_violin(n_samples: int) -> np.ndarray:
    """[1, n_samples] of the violin corpus, from 0.5 s (its lead-in is silent)."""
    import soundfile

    audio, sr = soundfile.read(os.path.join(CORPUS, "violin_ode_to_joy.flac"), dtype="float32")
    assert sr == SAMPLE_RATE
    return audio[SAMPLE_RATE // 2 : SAMPLE_RATE // 2 + n_samples][None]


def synths(out: _util.Outputs, n_frames: int) -> None:
    n_samples = n_frames * HOP_SIZE
    # Harmonic: a falling tone whose spectrum tilts down (20 harmonics, raw network-like inputs).
    amps = np.linspace(0.5, -1.5, n_frames)[None, :, None]
    n_harmonics = 20
    harmonic_distribution = np.ones([1, n_frames, 1]) * np.linspace(1.0, -1.0, n_harmonics)
    f0_hz = np.linspace(300.0, 200.0, n_frames)[None, :, None]
    harmonic = ddsp_ref.synths.Harmonic(n_samples=n_samples, sample_rate=SAMPLE_RATE)
    audio = harmonic(amps, harmonic_distribution, f0_hz)
    out.wav("harmonic", audio, "Harmonic: 300 -> 200 Hz, fading")
    out.figure("harmonic_spec", plotting.specplot(audio), "evenly spaced harmonics gliding down")

    # FilteredNoise: a band of noise whose centre sweeps up (magnitudes already scaled).
    n_bands = 100
    centre = np.linspace(5, n_bands - 5, n_frames)[:, None]
    magnitudes = np.exp(-0.5 * ((np.arange(n_bands)[None, :] - centre) / 3.0) ** 2)[None]
    noise = ddsp_ref.synths.FilteredNoise(n_samples=n_samples, scale_fn=None, seed=0)
    audio = noise(magnitudes)
    out.wav("filtered_noise", audio, "FilteredNoise: a noise band sweeping up")
    out.figure("filtered_noise_spec", plotting.specplot(audio), "the band rising to 8 kHz")

    # Wavetable: crossfade sine -> square -> sawtooth at 110 Hz (one-period tables, 2048 points).
    phase = np.linspace(0.0, 1.0, 2048, endpoint=False)
    sine = np.sin(2 * np.pi * phase)
    square = np.sign(sine)
    saw = 2.0 * phase - 1.0
    t = np.linspace(0.0, 2.0, n_frames)[:, None]
    weights = np.stack(
        [np.clip(1 - t, 0, 1), 1 - np.abs(1 - t), np.clip(t - 1, 0, 1)], axis=1
    )  # [frames, 3, 1]
    tables = (weights * np.stack([sine, square, saw])[None]).sum(1)[None]  # [1, frames, 2048]
    wavetable = ddsp_ref.synths.Wavetable(n_samples=n_samples, scale_fn=None)
    audio = wavetable(0.3 * np.ones([1, n_frames, 1]), tables, 110.0 * np.ones([1, n_frames, 1]))
    out.wav("wavetable", audio, "Wavetable: sine -> square -> sawtooth")
    out.figure(
        "wavetable_spec", plotting.specplot(audio), "harmonics appearing as the table morphs"
    )


def reverbs(out: _util.Outputs, audio: np.ndarray, small: bool) -> None:
    reverb_length = 8000 if small else 48000
    rng = np.random.default_rng(0)
    t = np.arange(reverb_length) / SAMPLE_RATE
    ir = (rng.normal(size=reverb_length) * np.exp(-t / 0.15) * 0.03)[None]  # [1, n]; RT60 ~ 1 s
    wet = ddsp_ref.effects.Reverb()(audio, ir)
    out.wav("reverb", wet, "Reverb with a given decaying-noise impulse response")
    out.figure("reverb_ir", plotting.waveform(ir, SAMPLE_RATE, "impulse response"), "the IR")

    trainable = ddsp_ref.effects.Reverb(trainable=True, reverb_length=reverb_length)
    print(f"trainable Reverb: parameter 'ir' {trainable.parameters()['ir'].shape} (learned)")
    out.wav("reverb_trainable_init", trainable(audio), "trainable Reverb at its random init")

    exp_decay = ddsp_ref.effects.ExpDecayReverb(reverb_length=reverb_length)
    wet = exp_decay(audio, gain=np.array([[-2.0]]), decay=np.array([[4.0]]))
    out.wav("exp_decay_reverb", wet, "ExpDecayReverb(gain -2, decay 4)")

    fnr = ddsp_ref.effects.FilteredNoiseReverb(reverb_length=reverb_length, n_frames=100, seed=0)
    mags = np.linspace(2.0, -6.0, 100)[None, :, None] * np.ones([1, 1, 16])  # darker tail
    mags[..., 8:] -= 4.0  # less energy in the upper filter banks
    outputs = fnr(audio, mags, return_outputs_dict=True)
    out.wav("filtered_noise_reverb", outputs["signal"], "FilteredNoiseReverb: dark tail")
    out.figure(
        "filtered_noise_reverb_ir",
        plotting.specplot(outputs["controls"]["ir"], size=256, vmin=-8, vmax=2),
        "its IR: noise fading, high bands first",
    )


def filters_and_delays(out: _util.Outputs, audio: np.ndarray) -> None:
    n_frames = audio.shape[1] // HOP_SIZE
    n_bands = 65
    cutoff = np.linspace(n_bands - 1, 2, n_frames)[:, None]  # a closing low-pass
    mags = (np.arange(n_bands)[None, :] < cutoff).astype(np.float64)[None]
    filtered = ddsp_ref.effects.FIRFilter(scale_fn=None)(audio, mags)
    out.wav("fir_filter", filtered, "FIRFilter: a low-pass closing from 8 kHz down")
    out.figure("fir_filter_spec", plotting.specplot(filtered), "the top of the spectrum receding")

    seconds = audio.shape[1] / SAMPLE_RATE
    for name, center_ms, depth_ms, rate_hz in (
        ("chorus", 25.0, 1.0, 2.0),
        ("flanger", 1.0, 1.0, 0.25),
        ("vibrato", 25.0, 25.0, 2.0),
    ):
        mod_delay = ddsp_ref.effects.ModDelay(
            center_ms=center_ms, depth_ms=depth_ms, gain_scale_fn=None, phase_scale_fn=None,
            add_dry=name != "vibrato",
        )  # fmt: skip
        times = np.linspace(0.0, seconds, audio.shape[1])
        phase = np.sin(2 * np.pi * rate_hz * times)[None, :, None]
        gain = np.ones_like(audio)[..., None]
        wet = 0.5 * mod_delay(audio, gain, phase)
        out.wav(name, wet, f"ModDelay(center {center_ms} ms, depth {depth_ms} ms, {rate_hz} Hz)")


def main() -> None:
    args = _util.parse_args("1_synths_and_effects", __doc__)
    out = _util.Outputs(args.out, SAMPLE_RATE)
    n_frames = 250 if args.small else 1000
    synths(out, n_frames)
    audio = load_violin(n_frames * HOP_SIZE)
    out.wav("violin_dry", audio, "the dry input of the effects")
    reverbs(out, audio, args.small)
    filters_and_delays(out, audio)
    _util.note("compare violin_dry.wav with each effect; the *_spec.png show the synths' spectra")


if __name__ == "__main__":
    main()
