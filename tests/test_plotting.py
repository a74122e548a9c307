"""ddsp_ref.plotting: each figure's drawn data against an independent float64 computation."""

import subprocess
import sys

import numpy as np
import pytest

import ddsp_ref
from ddsp_ref import plotting

mpl_image = pytest.importorskip("matplotlib.image")


def direct_dft(x: np.ndarray, n_fft: int) -> np.ndarray:
    """Bins 0..n_fft/2 of the DFT of x zero padded (or truncated) to n_fft, as a float64 sum."""
    x = np.zeros(n_fft) + np.pad(np.asarray(x, np.float64), (0, max(n_fft - len(x), 0)))[:n_fft]
    k = np.arange(n_fft // 2 + 1)[:, None]
    return (x[None, :] * np.exp(-2j * np.pi * k * np.arange(n_fft)[None, :] / n_fft)).sum(-1)


def direct_logmag(audio: np.ndarray, size: int) -> np.ndarray:
    """ddsp's compute_logmag written out: periodic Hann, hop size // 4, end padded to
    ceil(n / hop) frames, FFT length the next power of two, natural log. [frames, bins]."""
    hop = size // 4
    n_frames = -(-len(audio) // hop)
    padded = np.pad(audio.astype(np.float64), (0, (n_frames - 1) * hop + size - len(audio)))
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(size) / size)
    n_fft = 1 << (size - 1).bit_length()
    frames = np.stack([padded[t * hop : t * hop + size] * window for t in range(n_frames)])
    return np.log(np.abs(np.stack([direct_dft(f, n_fft) for f in frames])))


def png_shape(path) -> tuple:
    return mpl_image.imread(str(path)).shape


def chirp(n=4000, sr=16000, seed=0):
    t = np.arange(n) / sr
    rng = np.random.default_rng(seed)
    return (0.5 * np.sin(2 * np.pi * (200 * t + 3000 * t**2)) + 0.01 * rng.normal(size=n)).astype(
        np.float32
    )


@pytest.mark.parametrize("size", [256, 768])
def test_specplot_image_is_the_log_magnitude_stft(tmp_path, size):
    audio = chirp()
    other = np.zeros_like(audio)  # a second batch element that must not be plotted
    fig = plotting.specplot(np.stack([audio, other]), size=size, path=tmp_path / "s.png")
    (ax,) = fig.axes
    (image,) = ax.images
    expected = np.rot90(direct_logmag(audio, size))
    drawn = np.asarray(image.get_array())
    assert drawn.shape == expected.shape
    np.testing.assert_allclose(drawn, expected, atol=2e-3)
    assert image.get_clim() == (-5, 1)
    assert ax.get_xlabel() == "Time" and ax.get_ylabel() == "Frequency"
    assert png_shape(tmp_path / "s.png")[:2] == (400, 1000)  # figsize (10, 4) at 100 dpi


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_specplot_unrotated_and_kwargs(dtype):
    audio = chirp(2000).astype(dtype)
    fig = plotting.specplot(audio, vmin=-3, vmax=0, rotate=False, size=256, cmap="gray")
    image = fig.axes[0].images[0]
    np.testing.assert_allclose(image.get_array(), direct_logmag(audio, 256), atol=2e-3)
    assert image.get_clim() == (-3, 0) and image.get_cmap().name == "gray"


def test_waveform_line_is_the_audio(tmp_path):
    audio = chirp(800)
    fig = plotting.waveform(audio[None], sample_rate=8000, path=tmp_path / "w.png")
    x, y = fig.axes[0].lines[0].get_data()
    np.testing.assert_array_equal(y, audio)
    np.testing.assert_allclose(x, np.arange(800) / 8000)
    assert png_shape(tmp_path / "w.png")[:2] == (250, 1000)


@pytest.mark.parametrize("ir_size, n_fft", [(1, 1), (64, 64), (65, 64), (100, 128), (129, 128)])
def test_transfer_function_is_ddsps_fft(ir_size, n_fft):
    ir = np.random.default_rng(ir_size).normal(size=(2, 3, ir_size))
    frequencies, magnitudes = plotting.transfer_function(ir, sample_rate=8000)
    np.testing.assert_allclose(frequencies, np.arange(n_fft // 2 + 1) * 8000 / n_fft)
    assert magnitudes.shape == (2, 3, n_fft // 2 + 1)
    # ddsp's FFT length next_power_of_2(ir_size - 1) drops the last tap of 2^k + 1 taps.
    np.testing.assert_allclose(magnitudes[1, 2], np.abs(direct_dft(ir[1, 2], n_fft)), atol=1e-9)


def test_transfer_function_exact_length():
    ir = np.random.default_rng(0).normal(size=65)
    _, magnitudes = plotting.transfer_function(ir, n_fft=128)
    np.testing.assert_allclose(magnitudes, np.abs(direct_dft(ir, 128)), atol=1e-9)


def test_plot_transfer_function_of_a_delay(tmp_path):
    delay, n_fft, sr = 3, 32, 16000
    ir = np.zeros(20)
    ir[delay] = 0.5
    fig = plotting.plot_transfer_function(ir, sample_rate=sr, path=tmp_path / "t.png")
    ax_mag, ax_phase = fig.axes
    f, mag_db = ax_mag.lines[0].get_data()
    np.testing.assert_allclose(f, np.arange(n_fft // 2 + 1) * sr / n_fft)
    np.testing.assert_allclose(mag_db, 20 * np.log10(0.5), atol=1e-9)
    # A pure delay of d samples has the linear phase -2 pi f d / sr (unwrapped).
    np.testing.assert_allclose(
        ax_phase.lines[0].get_ydata(), -2 * np.pi * f * delay / sr, atol=1e-9
    )
    assert png_shape(tmp_path / "t.png")[:2] == (600, 1000)


def test_plot_impulse_responses_draws_desired_true_and_ir(tmp_path):
    n_mags = 33
    desired = np.linspace(1.0, 0.01, n_mags)
    ir = np.asarray(ddsp_ref.core.frequency_impulse_response(desired[None, None, :]), np.float64)
    fig = plotting.plot_impulse_responses(
        ir, desired, title="low pass", sample_rate=16000, path=tmp_path / "i.png"
    )
    ax_mag, ax_ir = fig.axes
    (desired_line, true_line) = ax_mag.lines
    assert [t.get_text() for t in ax_mag.get_legend().get_texts()] == ["Desired", "True"]
    assert ax_mag.get_yscale() == "log" and ax_mag.get_title() == "low pass"
    np.testing.assert_allclose(desired_line.get_xdata(), np.linspace(0, 8000, n_mags))
    np.testing.assert_array_equal(desired_line.get_ydata(), desired)
    ir0 = ir[0, 0]
    n_fft = 1 << (len(ir0) - 2).bit_length()
    np.testing.assert_allclose(true_line.get_xdata(), np.arange(n_fft // 2 + 1) * 16000 / n_fft)
    np.testing.assert_allclose(true_line.get_ydata(), np.abs(direct_dft(ir0, n_fft)), atol=1e-5)
    np.testing.assert_allclose(ax_ir.lines[0].get_ydata(), ir0, atol=1e-7)
    assert png_shape(tmp_path / "i.png")[:2] == (500, 1200)


def harmonic_outputs(n_frames=50, n_harmonics=8, seed=0):
    rng = np.random.default_rng(seed)
    harmonic = ddsp_ref.synths.Harmonic(n_samples=n_frames * 64)
    return harmonic(
        rng.normal(size=(2, n_frames, 1)),
        rng.normal(size=(2, n_frames, n_harmonics)),
        rng.uniform(100, 300, size=(2, n_frames, 1)),
        return_outputs_dict=True,
    )


def test_plot_controls_of_a_harmonic(tmp_path):
    outputs = harmonic_outputs()
    controls = outputs["controls"]
    for given in (outputs, controls):
        fig = plotting.plot_controls(given, frame_rate=250, path=tmp_path / "c.png")
        ax_amps, ax_dist, ax_f0 = fig.axes
        np.testing.assert_allclose(ax_amps.lines[0].get_ydata(), controls["amplitudes"][0, :, 0])
        np.testing.assert_allclose(ax_amps.lines[0].get_xdata(), np.arange(50) / 250)
        np.testing.assert_allclose(
            ax_dist.images[0].get_array(), controls["harmonic_distribution"][0].T, rtol=1e-6
        )
        np.testing.assert_allclose(ax_f0.lines[0].get_ydata(), controls["f0_hz"][0, :, 0])
    assert png_shape(tmp_path / "c.png")[:2] == (660, 1000)


def test_plot_controls_finds_the_nodes_of_a_group():
    rng = np.random.default_rng(1)
    dag = [
        (ddsp_ref.synths.Harmonic(n_samples=640), ["amps", "hd", "f0"]),
        (ddsp_ref.synths.FilteredNoise(n_samples=640, seed=0), ["noise"]),
        (ddsp_ref.processors.Add(), ["filtered_noise/signal", "harmonic/signal"]),
    ]
    inputs = {
        "amps": rng.normal(size=(1, 10, 1)),
        "hd": rng.normal(size=(1, 10, 4)),
        "f0": np.full((1, 10, 1), 220.0),
        "noise": rng.normal(size=(1, 10, 6)),
    }
    outputs = ddsp_ref.processors.ProcessorGroup(dag)(inputs, return_outputs_dict=True)
    fig = plotting.plot_controls(outputs["controls"])
    assert len(fig.axes) == 4
    noise = outputs["controls"]["filtered_noise"]["controls"]["magnitudes"]
    np.testing.assert_allclose(fig.axes[3].images[0].get_array(), noise[0].T, rtol=1e-6)
    np.testing.assert_array_equal(fig.axes[2].lines[0].get_ydata(), np.full(10, 220.0))
    assert fig.axes[-1].get_xlabel() == "frame"


def test_bad_inputs_are_named():
    with pytest.raises(ValueError, match="plot_controls: no Harmonic controls"):
        plotting.plot_controls({"audio": np.zeros(3)})
    with pytest.raises(TypeError, match="plot_controls: outputs must be a dict"):
        plotting.plot_controls(np.zeros(3))
    with pytest.raises(TypeError, match="specplot: audio must be real"):
        plotting.specplot(np.zeros(4096, complex))
    with pytest.raises(ValueError, match="plot_impulse_responses: desired_magnitudes needs"):
        plotting.plot_impulse_responses(np.zeros(8), 1.0)


def test_importing_ddsp_ref_and_plotting_does_not_import_matplotlib():
    code = (
        "import sys, ddsp_ref, ddsp_ref.plotting\n"
        "assert 'matplotlib' not in sys.modules, 'matplotlib imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
