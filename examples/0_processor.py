"""ddsp's tutorial 0 (the Processor API) with ddsp_ref: a Harmonic synth fed raw, network-like
controls that break its constraints, get_controls fixing them, get_signal rendering, __call__
doing both, and a few playful tweaks.

Run: python examples/0_processor.py [--small] [--out DIR]
"""

from __future__ import annotations

import _util
import numpy as np

import ddsp_ref
from ddsp_ref import plotting

SAMPLE_RATE = 16000
HOP_SIZE = 64


def raw_controls(n_frames: int, n_harmonics: int = 30) -> dict:
    """Controls as a network would output them: amplitudes that go negative, a harmonic
    distribution that is not normalised, and 30 harmonics of 440 Hz (the top ones above the
    8 kHz Nyquist frequency)."""
    amps = np.linspace(1.0, -3.0, n_frames)[None, :, None]
    harmonic_distribution = (
        np.linspace(-2.0, 2.0, n_frames)[:, None] + np.linspace(3.0, -3.0, n_harmonics)[None, :]
    )[None]
    f0_hz = 440.0 * np.ones([1, n_frames, 1])
    return {"amplitudes": amps, "harmonic_distribution": harmonic_distribution, "f0_hz": f0_hz}


def plot_exp_sigmoid(out: _util.Outputs) -> None:
    x = np.linspace(-10.0, 10.0, 200)
    fig, axes = _util.figure(figsize=(6, 4))
    ax = axes[0, 0]
    ax.plot(x, ddsp_ref.core.exp_sigmoid(x))
    ax.set_yscale("log")
    ax.set_xlabel("network output")
    ax.set_ylabel("exp_sigmoid(x)")
    ax.set_title("the scale function of Harmonic: positive, bounded by 2")
    out.figure("exp_sigmoid", fig, "exp_sigmoid: 2 * sigmoid(x) ** log(10) + 1e-7")


def main() -> None:
    args = _util.parse_args("0_processor", __doc__)
    out = _util.Outputs(args.out, SAMPLE_RATE)
    n_frames = 250 if args.small else 1000
    n_samples = n_frames * HOP_SIZE

    harmonic = ddsp_ref.synths.Harmonic(n_samples=n_samples, sample_rate=SAMPLE_RATE)
    raw = raw_controls(n_frames)
    out.figure(
        "raw_controls",
        plotting.plot_controls(raw, frame_rate=SAMPLE_RATE / HOP_SIZE, title="raw inputs"),
        "negative amplitudes, unnormalised distribution",
    )

    # get_controls: scale the network outputs into valid synthesizer controls.
    controls = harmonic.get_controls(raw["amplitudes"], raw["harmonic_distribution"], raw["f0_hz"])
    print("controls keys:", sorted(controls))
    plot_exp_sigmoid(out)
    amps, dist = controls["amplitudes"], controls["harmonic_distribution"]
    above = np.arange(1, dist.shape[-1] + 1) * 440.0 >= SAMPLE_RATE / 2
    print(f"amplitudes: raw min {raw['amplitudes'].min():.2f} -> scaled min {amps.min():.3g} (> 0)")
    print(f"harmonic distribution sums to 1: max |sum - 1| = {np.abs(dist.sum(-1) - 1).max():.2e}")
    print(
        f"harmonics above Nyquist (k * 440 Hz >= 8 kHz, k >= {above.argmax() + 1}): "
        f"max weight {dist[..., above].max():.1f} (removed)"
    )
    frame_rate = SAMPLE_RATE / HOP_SIZE
    out.figure(
        "scaled_controls",
        plotting.plot_controls(controls, frame_rate=frame_rate, title="after get_controls"),
        "positive amplitudes, normalised distribution, zeros above Nyquist",
    )

    # get_signal renders the controls; calling the processor does both steps at once.
    audio = harmonic.get_signal(**controls)
    called = harmonic(raw["amplitudes"], raw["harmonic_distribution"], raw["f0_hz"])
    print(f"audio {audio.shape}; |get_signal - __call__| max = {np.abs(audio - called).max():.1e}")
    out.wav("harmonic", audio, "a 440 Hz tone whose brightness sweeps and level falls")
    out.figure("harmonic_spec", plotting.specplot(audio), "spectrogram of harmonic.wav")

    for name, change, what in tweaks(raw, n_frames):
        tweaked = harmonic(**(raw | change))
        out.wav(name, tweaked, what)
        out.figure(name + "_spec", plotting.specplot(tweaked), "its spectrogram")
    _util.note("listen to harmonic.wav then the tweaks; the spectrograms show each change")


def tweaks(raw: dict, n_frames: int):
    """Playful variations of the raw inputs: (name, changed controls, what to hear)."""
    t = np.linspace(0.0, 1.0, n_frames)[None, :, None]
    vibrato = 440.0 * 2 ** (0.5 * np.sin(2 * np.pi * 6.0 * t * n_frames / 250) / 12)
    glide = 110.0 * 2 ** (4.0 * t)  # four octaves up from 110 Hz
    rng = np.random.default_rng(0)
    shimmer = raw["harmonic_distribution"] + rng.normal(size=raw["harmonic_distribution"].shape)
    odd_only = raw["harmonic_distribution"].copy()
    odd_only[..., 1::2] = -20.0  # exp_sigmoid(-20) ~ 1e-7: even harmonics silenced (clarinet-like)
    yield "vibrato", {"f0_hz": vibrato}, "f0 wobbling +-0.5 semitone at 6 Hz"
    yield "glide", {"f0_hz": glide}, "f0 rising 110 -> 1760 Hz: top harmonics drop out at Nyquist"
    yield "shimmer", {"harmonic_distribution": shimmer}, "random harmonic weights per frame"
    yield "odd_harmonics", {"harmonic_distribution": odd_only}, "odd harmonics only: hollow"


if __name__ == "__main__":
    main()
