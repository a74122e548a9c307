"""ddsp's tutorial 4 (core functions) with ddsp_ref: oscillator_bank; linear_lookup and
wavetable_synthesis; variable_length_delay; fft_convolve with a sweeping sinc low-pass;
sinc_impulse_response (window size sets the transition width); band-limited upsampling with
sinc_filter; frequency_impulse_response / frequency_filter (window size vs frequency resolution);
resample (linear / cubic, endpoint, downsampling) and upsample_with_windows.

Run: python examples/4_core_functions.py [--small] [--out DIR]
"""

from __future__ import annotations

import _util
import numpy as np

from ddsp_ref import core, plotting

SAMPLE_RATE = 16000


def oscillators(out: _util.Outputs, n_samples: int) -> None:
    t = np.arange(n_samples)[None, :, None] / SAMPLE_RATE
    # A siren: three partials whose common pitch swings +-1 octave at 0.5 Hz.
    f0 = 440.0 * 2.0 ** np.sin(2 * np.pi * 0.5 * t)
    frequencies = f0 * np.array([1.0, 2.0, 3.0])
    amplitudes = np.ones_like(frequencies) * np.array([0.3, 0.2, 0.1])
    audio = core.oscillator_bank(frequencies, amplitudes, sample_rate=SAMPLE_RATE)
    out.wav("oscillator_bank", audio, "three partials of a siren")
    out.figure("oscillator_bank_spec", plotting.specplot(audio), "three parallel sweeping lines")

    # linear_lookup reads a table at a phase in cycles: a 220 Hz sawtooth ramp reads a sine.
    phase = (220.0 * t) % 1.0
    sine_table = np.sin(2 * np.pi * np.linspace(0.0, 1.0, 2048))[None]
    looked_up = core.linear_lookup(phase, sine_table)
    exact = np.sin(2 * np.pi * phase[..., 0])
    print(
        f"linear_lookup of a 2048-point sine table: max error {np.abs(looked_up - exact).max():.1e}"
    )

    # wavetable_synthesis: frame-rate f0 and amplitude, a table morphing from sine to square.
    n_frames = n_samples // 64
    m = np.linspace(0.0, 1.0, n_frames)[None, :, None]
    square = np.sign(sine_table)[:, None, :]
    tables = (1 - m) * sine_table[:, None, :] + m * square  # [1, frames, 2048]
    audio = core.wavetable_synthesis(
        frequencies=np.full((1, n_frames, 1), 220.0), amplitudes=np.full((1, n_frames, 1), 0.3),
        wavetables=tables, n_samples=n_samples, sample_rate=SAMPLE_RATE,
    )  # fmt: skip
    out.wav("wavetable_synthesis", audio, "220 Hz, sine morphing into a square")

    # variable_length_delay: a 5 Hz modulated delay of a tone is a vibrato.
    tone = core.oscillator_bank(np.full((1, n_samples, 1), 440.0), np.full((1, n_samples, 1), 0.3))
    delay_phase = 0.5 + 0.5 * np.sin(2 * np.pi * 5.0 * t)
    audio = core.variable_length_delay(delay_phase, tone, max_length=160)
    out.wav("variable_length_delay", audio, "a 440 Hz tone with a 5 Hz vibrato (delay 0-10 ms)")


def convolution(out: _util.Outputs, n_samples: int) -> None:
    rng = np.random.default_rng(0)
    noise = rng.uniform(-0.5, 0.5, (1, n_samples))
    n_frames = 100
    cutoff = np.geomspace(8000.0, 100.0, n_frames)[None, :, None]  # Hz, sweeping down
    ir = core.sinc_impulse_response(cutoff, window_size=257, sample_rate=SAMPLE_RATE)
    audio = core.fft_convolve(noise, ir)
    out.wav("fft_convolve_sweep", audio, "noise through a low-pass closing 8 kHz -> 100 Hz")
    out.figure("fft_convolve_sweep_spec", plotting.specplot(audio), "the cutoff falling")

    # Brick-wall low-pass at 2 kHz: longer windows give a sharper transition.
    n_bins = 257
    desired = (np.linspace(0, SAMPLE_RATE / 2, n_bins) <= 2000.0).astype(np.float64)
    for window_size in (33, 129, 513):
        ir = core.sinc_impulse_response(
            np.array([[[2000.0]]]), window_size=window_size, sample_rate=SAMPLE_RATE
        )
        f, mags = plotting.transfer_function(ir[0, 0], SAMPLE_RATE, n_fft=4096)
        stop = 20 * np.log10(mags[f >= 3000.0].max())
        print(
            f"sinc_impulse_response, window {window_size:4d}: "
            f"worst stopband >= 3 kHz {stop:6.1f} dB"
        )
        out.figure(
            f"sinc_lowpass_window_{window_size}",
            plotting.plot_impulse_responses(ir, desired, f"brick wall 2 kHz, window {window_size}"),
            "desired vs true magnitude response, and the IR",
        )


def upsampling(out: _util.Outputs, n_samples: int) -> None:
    """Zero-stuffing a 4 kHz signal to 16 kHz leaves spectral images; sinc_filter removes them."""
    factor = 4
    n_low = n_samples // factor
    t = np.arange(n_low) / (SAMPLE_RATE / factor)
    low = 0.5 * np.sin(2 * np.pi * (100.0 * t + 400.0 * t**2))  # chirp below 2 kHz
    stuffed = np.zeros((1, n_low * factor))
    stuffed[0, ::factor] = factor * low
    smooth = core.sinc_filter(stuffed, 2000.0, window_size=257, sample_rate=SAMPLE_RATE)
    out.wav("upsample_zero_stuffed", stuffed, "zero-stuffed: images of the chirp above 2 kHz")
    out.wav("upsample_sinc_filtered", smooth, "after sinc_filter(2 kHz): only the chirp")
    for name, audio in (("zero_stuffed", stuffed), ("sinc_filtered", smooth)):
        spectrum = np.abs(np.fft.rfft(np.asarray(audio)[0]))
        f = np.fft.rfftfreq(audio.shape[-1], 1 / SAMPLE_RATE)
        above = (spectrum[f > 2200] ** 2).sum() / (spectrum**2).sum()
        print(f"upsampling, {name:13s}: energy above 2.2 kHz {100 * above:8.4f} %")
        out.figure(f"upsample_{name}_spec", plotting.specplot(audio), "")


def frequency_filters(out: _util.Outputs, n_samples: int) -> None:
    """A desired response with fine detail, designed with shorter and longer windows."""
    n_bins = 513
    f = np.linspace(0.0, SAMPLE_RATE / 2, n_bins)
    desired = 0.05 + np.exp(-0.5 * ((f - 2000.0) / 60.0) ** 2) + (f < 500)  # notch-free peak
    for window_size in (32, 128, 1024):
        ir = core.frequency_impulse_response(desired[None], window_size=window_size)
        out.figure(
            f"frequency_impulse_response_window_{window_size}",
            plotting.plot_impulse_responses(ir, desired, f"window {window_size}"),
            "short windows blur the 60 Hz wide peak",
        )
        fr, mags = plotting.transfer_function(ir, SAMPLE_RATE, n_fft=8192)
        print(f"frequency_impulse_response, window {window_size:4d}: gain at 2 kHz "
              f"{mags[0, np.argmin(np.abs(fr - 2000.0))]:.2f} (desired 1.05)")  # fmt: skip
    rng = np.random.default_rng(1)
    noise = rng.uniform(-0.5, 0.5, (1, n_samples))
    n_frames = 50
    centre = np.linspace(200.0, 6000.0, n_frames)[None, :, None]
    mags = np.exp(-0.5 * ((f[None, None, :] - centre) / 100.0) ** 2)  # a moving band-pass
    audio = core.frequency_filter(noise, mags, window_size=512)
    out.wav("frequency_filter", audio, "noise through a band-pass rising 200 Hz -> 6 kHz")
    out.figure("frequency_filter_spec", plotting.specplot(audio), "the moving band")


def resampling(out: _util.Outputs) -> None:
    points = np.array([0.0, 1.0, 0.0, -0.5, 0.5, 1.0, 0.2, 0.0])[None, :, None]
    n_up = 64
    fig, axes = _util.figure(2, 2, figsize=(12, 7))
    for ax, method, endpoint in (
        (axes[0, 0], "linear", True), (axes[0, 1], "cubic", True),
        (axes[1, 0], "linear", False), (axes[1, 1], "window", True),
    ):  # fmt: skip
        if method == "window":
            up = core.upsample_with_windows(points, n_up, add_endpoint=endpoint)
            title = "upsample_with_windows (overlapping Hann windows)"
        else:
            up = core.resample(points, n_up, method=method, add_endpoint=endpoint)
            title = f"resample {method}, add_endpoint={endpoint}"
        # add_endpoint=True (ddsp's default): input k lands on output k * 64 / 8 and the last
        # value is held to the end; False (align corners): first and last inputs on the ends.
        x_in = np.arange(8) * n_up / 8 if endpoint else np.linspace(0, n_up - 1, 8)
        ax.plot(np.arange(n_up), up[0, :, 0], ".-", label="resampled")
        ax.plot(x_in, points[0, :, 0], "o", label="input points")
        ax.set_title(title)
        ax.legend()
    out.figure("resample", fig, "how each method connects the 8 input points")
    signal = np.sin(np.linspace(0, 2 * np.pi, 64))
    down = core.resample(signal[None, :, None], 8)[0, :, 0]
    same = np.allclose(down, signal[::8], atol=1e-6)
    print(f"resample 64 -> 8 picks samples 0, 8, ..., 56 (no anti-aliasing filter): {same}")


def main() -> None:
    args = _util.parse_args("4_core_functions", __doc__)
    out = _util.Outputs(args.out, SAMPLE_RATE)
    n_samples = SAMPLE_RATE * (1 if args.small else 4)
    oscillators(out, n_samples)
    convolution(out, n_samples)
    upsampling(out, n_samples)
    frequency_filters(out, n_samples)
    resampling(out)
    _util.note("the *_window_*.png figures compare desired and true responses of each design")


if __name__ == "__main__":
    main()
