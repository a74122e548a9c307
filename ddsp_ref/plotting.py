"""ddsp's plotting helpers (``colab_utils.specplot``, ``transfer_function``,
``plot_impulse_responses``) and figures of a processor's controls, on matplotlib.

matplotlib (the ``plot`` extra) is imported inside the functions, so ``import ddsp_ref`` never
loads it. Figures are built with ``matplotlib.figure.Figure`` rather than pyplot: nothing stays
open in pyplot's global state, no GUI backend is needed, and a returned Figure still displays
inline in Jupyter. Every plotting function returns its Figure and, given ``path``, also writes it
as an image (PNG by the extension, atomically).

Arrays may be numpy or cupy arrays or Tensors; batched inputs plot their first example, as ddsp.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .backend import to_numpy
from .numerics import next_power_of_2

__all__ = [
    "specplot",
    "transfer_function",
    "plot_transfer_function",
    "plot_impulse_responses",
    "plot_controls",
    "waveform",
    "plot_loss_curves",
    "plot_transfer",
    "save_figure",
]

_MISSING = "plotting needs matplotlib: pip install 'ddsp_ref[plot]'"


def _figure(figsize: tuple[float, float]) -> Any:
    try:
        from matplotlib.figure import Figure
    except ImportError as err:  # the plot extra is optional
        raise ImportError(_MISSING) from err
    return Figure(figsize=figsize)


def save_figure(fig: Any, path: str | None, dpi: int = 100) -> Any:
    """Write ``fig`` to ``path`` (format from the extension, PNG if none) without ever leaving a
    half-written file; returns ``fig``. ``path=None`` writes nothing."""
    if path is None:
        return fig
    import os

    from .io import atomic_write

    ext = os.path.splitext(os.fspath(path))[1].lstrip(".").lower() or "png"
    with atomic_write(path) as f:
        fig.savefig(f, dpi=dpi, format=ext)
    return fig


def _first_example(x: Any, rank: int, name: str, where: str) -> np.ndarray:
    """``x`` as float numpy, with leading batch axes dropped (index 0) down to ``rank`` axes."""
    x = to_numpy(x)
    if np.iscomplexobj(x) or not np.issubdtype(x.dtype, np.number):
        raise TypeError(f"{where}: {name} must be real numbers, got dtype {x.dtype}")
    if x.ndim < rank:
        raise ValueError(f"{where}: {name} needs at least {rank} axes, got shape {x.shape}")
    while x.ndim > rank:
        x = x[0]
    return x.astype(np.float64) if x.dtype == np.float64 else x.astype(np.float32)


# -- spectrograms and waveforms -----------------------------------------------------------------
def specplot(audio: Any, vmin: float = -5, vmax: float = 1, rotate: bool = True,
             size: int = 512 + 256, *, path: str | None = None, ax: Any = None,
             **matshow_kwargs: Any) -> Any:  # fmt: skip
    """ddsp's ``specplot``: the log magnitude spectrogram of ``audio`` as an image.

    The image is ``spectral_ops.compute_logmag(audio, size=size)`` (natural log of the STFT
    magnitude; periodic Hann window of ``size``, hop ``size // 4``, FFT length the next power of
    two, end zero padded), turned by ``np.rot90`` when ``rotate`` so time runs left to right and
    frequency upwards, drawn with ``matshow(vmin, vmax, cmap='magma', aspect='auto')``.

    Args:
        audio: [n_samples] or [batch, n_samples] (the first example is plotted).
        vmin, vmax: colour range of the log magnitude [ln units].
        rotate: time on the x axis (True) or frames as rows (False).
        size: STFT frame size [samples].
        path: also save the figure there.
        ax: draw into this Axes instead of a new figure.
        **matshow_kwargs: passed to ``Axes.matshow`` (e.g. ``cmap``).

    Returns:
        The matplotlib Figure.
    """
    from . import spectral_ops

    audio = _first_example(audio, 1, "audio", "specplot")
    logmag = np.asarray(to_numpy(spectral_ops.compute_logmag(audio[None], size=size)))[0]
    if rotate:
        logmag = np.rot90(logmag)
    fig = ax.figure if ax is not None else _figure((10, 4))
    ax = ax if ax is not None else fig.add_subplot()
    kwargs = {"cmap": "magma", "aspect": "auto"} | matshow_kwargs
    ax.matshow(logmag, vmin=vmin, vmax=vmax, **kwargs)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_xlabel("Time")
    ax.set_ylabel("Frequency")
    return save_figure(fig, path)


def waveform(audio: Any, sample_rate: int = 16000, title: str = "", *,
             path: str | None = None, ax: Any = None) -> Any:  # fmt: skip
    """Plot audio samples against time [s].

    Args:
        audio: [n_samples] or [batch, n_samples] (the first example is plotted).
        sample_rate: samples per second [Hz].
        title: axes title.
        path: also save the figure there.
        ax: draw into this Axes instead of a new figure.

    Returns:
        The matplotlib Figure.
    """
    audio = _first_example(audio, 1, "audio", "waveform")
    fig = ax.figure if ax is not None else _figure((10, 2.5))
    ax = ax if ax is not None else fig.add_subplot()
    ax.plot(np.arange(audio.shape[0]) / float(sample_rate), audio, lw=0.5)
    ax.set_xlabel("time [s]")
    ax.set_ylabel("amplitude")
    ax.set_title(title)
    return save_figure(fig, path)


# -- impulse responses --------------------------------------------------------------------------
def transfer_function(ir: Any, sample_rate: int = 16000, *,
                      n_fft: int | None = None) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """ddsp's ``transfer_function``: magnitude frequency response of impulse responses.

    As ddsp, the FFT length is ``next_power_of_2(ir_size - 1)`` (ddsp's ``get_fft_size(0,
    ir_size)``): an IR of 2^k + 1 taps loses its last tap. Pass ``n_fft`` (>= ir_size) for the
    exact response.

    Args:
        ir: impulse responses [..., ir_size] (any leading axes, e.g. [batch, n_frames, ir_size]).
        sample_rate: samples per second [Hz].
        n_fft: FFT length (keyword only; None: ddsp's choice above).

    Returns:
        frequencies [n_fft // 2 + 1] in Hz (0 to Nyquist) and magnitudes
        [..., n_fft // 2 + 1] (``|rfft(ir, n_fft)|``, linear).
    """
    ir = to_numpy(ir)
    if ir.ndim < 1 or ir.shape[-1] < 1:
        raise ValueError(f"transfer_function: ir must be [..., ir_size >= 1], got {ir.shape}")
    if n_fft is None:
        n_fft = next_power_of_2(max(ir.shape[-1] - 1, 1))
    frequencies = np.fft.rfftfreq(int(n_fft), 1.0 / sample_rate)
    return frequencies, np.abs(np.fft.rfft(ir, n=int(n_fft), axis=-1))


def plot_transfer_function(ir: Any, sample_rate: int = 16000, title: str = "", *,
                           n_fft: int | None = None, path: str | None = None) -> Any:  # fmt: skip
    """Frequency response of an impulse response: magnitude [dB] and unwrapped phase [rad]
    against frequency [Hz], over the bins of :func:`transfer_function`.

    Args:
        ir: [ir_size], or batched [batch, (n_frames,) ir_size] (the first IR is plotted).
        sample_rate: samples per second [Hz].
        title: figure title.
        n_fft: FFT length (None: ``max(next_power_of_2(ir_size), 2)``, the exact response).
        path: also save the figure there.

    Returns:
        The matplotlib Figure (magnitude axes first, phase second).
    """
    ir = _first_example(ir, 1, "ir", "plot_transfer_function")
    n_fft = n_fft if n_fft is not None else max(next_power_of_2(ir.shape[-1]), 2)
    spectrum = np.fft.rfft(ir, n=int(n_fft))
    frequencies = np.fft.rfftfreq(int(n_fft), 1.0 / sample_rate)
    fig = _figure((10, 6))
    ax_mag, ax_phase = fig.subplots(2, 1, sharex=True)
    ax_mag.plot(frequencies, 20 * np.log10(np.maximum(np.abs(spectrum), 1e-10)))
    ax_mag.set_ylabel("magnitude [dB]")
    ax_mag.set_title(title)
    ax_phase.plot(frequencies, np.unwrap(np.angle(spectrum)))
    ax_phase.set_ylabel("phase [rad]")
    ax_phase.set_xlabel("frequency [Hz]")
    return save_figure(fig, path)


def plot_impulse_responses(
    impulse_response: Any,
    desired_magnitudes: Any,
    title: str = "",
    sample_rate: int = 16000,
    *,
    path: str | None = None,
) -> Any:
    """ddsp's ``plot_impulse_responses``: a desired magnitude response against the response
    the impulse response really has, and the impulse response itself.

    Args:
        impulse_response: [ir_size], [batch, ir_size] or [batch, n_frames, ir_size] (the first
            IR is plotted), e.g. from ``core.frequency_impulse_response`` or
            ``core.sinc_impulse_response``.
        desired_magnitudes: [n_mags] (or batched), linear magnitudes on ``n_mags`` bins evenly
            spaced from 0 Hz to Nyquist (the layout ``frequency_impulse_response`` reads).
            ddsp places them on ``np.fft.fftfreq(2 n_mags)[:n_mags]`` (one bin short of
            Nyquist); here they lie where the filter design puts them.
        title: title of the left panel.
        sample_rate: samples per second [Hz] (ddsp ignores it for the true response; here it
            sets both frequency axes).
        path: also save the figure there.

    Returns:
        The matplotlib Figure: left, ``semilogy`` of 'Desired' and 'True' magnitude [linear]
        against frequency [Hz] (the true one from :func:`transfer_function`); right, the IR.
    """
    where = "plot_impulse_responses"
    ir = _first_example(impulse_response, 1, "impulse_response", where)
    desired = _first_example(desired_magnitudes, 1, "desired_magnitudes", where)
    desired_hz = np.linspace(0.0, sample_rate / 2.0, desired.shape[0])
    true_hz, true_mags = transfer_function(ir, sample_rate)
    fig = _figure((12, 5))
    ax_mag, ax_ir = fig.subplots(1, 2)
    ax_mag.semilogy(desired_hz, desired, label="Desired")
    ax_mag.semilogy(true_hz, true_mags, label="True")
    ax_mag.set_title(title)
    ax_mag.set_xlabel("Frequency [Hz]")
    ax_mag.set_ylabel("Magnitude")
    ax_mag.legend()
    ax_ir.plot(ir)
    ax_ir.set_title("Impulse Response")
    ax_ir.set_xlabel("sample")
    return save_figure(fig, path)


# -- controls -----------------------------------------------------------------------------------
_HARMONIC_KEYS = ("amplitudes", "harmonic_distribution", "f0_hz")


def _find_controls(outputs: dict) -> tuple[dict, dict | None]:
    """The Harmonic controls in ``outputs`` and the FilteredNoise controls if any.

    Accepts a Harmonic's ``get_controls`` dict, a processor's outputs dict
    (``{'signal', 'controls'}``) or a ProcessorGroup / model outputs dict (nodes by name)."""
    if "controls" in outputs and isinstance(outputs["controls"], dict):
        outputs = outputs["controls"]
    if all(k in outputs for k in _HARMONIC_KEYS):
        return outputs, None
    harmonic = noise = None
    for value in outputs.values():
        node = value.get("controls") if isinstance(value, dict) else None
        if not isinstance(node, dict):
            continue
        if harmonic is None and all(k in node for k in _HARMONIC_KEYS):
            harmonic = node
        elif noise is None and set(node) == {"magnitudes"}:
            noise = node
    if harmonic is None:
        raise ValueError(
            "plot_controls: no Harmonic controls (amplitudes, harmonic_distribution, f0_hz) "
            f"in a dict with keys {sorted(outputs)}"
        )
    return harmonic, noise


def plot_controls(outputs: dict, frame_rate: float | None = None, title: str = "", *,
                  path: str | None = None) -> Any:  # fmt: skip
    """The synthesizer controls of a processor, as the training colab plots them.

    Panels, top to bottom: amplitudes (line), harmonic distribution (image, harmonic number
    upwards), f0 [Hz] (line), and the filtered-noise magnitudes (image) when present.

    Args:
        outputs: a Harmonic's controls dict (``get_controls(...)``: ``amplitudes`` and
            ``f0_hz`` [batch, n_frames, 1], ``harmonic_distribution`` [batch, n_frames,
            n_harmonics]; the first example is plotted), a processor's outputs dict
            (``return_outputs_dict=True``) or a ProcessorGroup's / model's outputs dict, whose
            node with Harmonic controls (and a FilteredNoise node) are found by their keys.
        frame_rate: frames per second of the controls [Hz], for a time axis in seconds
            (None: frame index).
        title: figure title.
        path: also save the figure there.

    Returns:
        The matplotlib Figure.
    """
    where = "plot_controls"
    if not isinstance(outputs, dict):
        raise TypeError(f"{where}: outputs must be a dict, got {type(outputs).__name__}")
    harmonic, noise = _find_controls(outputs)
    amps = _first_example(harmonic["amplitudes"], 2, "amplitudes", where)[:, 0]
    dist = _first_example(harmonic["harmonic_distribution"], 2, "harmonic_distribution", where)
    f0 = _first_example(harmonic["f0_hz"], 2, "f0_hz", where)[:, 0]
    images = [("harmonic distribution", dist, "harmonic")]
    if noise is not None:
        images.append(
            ("noise magnitudes", _first_example(noise["magnitudes"], 2, "m", where), "band")
        )
    scale = 1.0 if frame_rate is None else 1.0 / frame_rate
    fig = _figure((10, 2.2 * (2 + len(images))))
    axes = fig.subplots(2 + len(images), 1, sharex=True)
    axes[0].plot(np.arange(amps.shape[0]) * scale, amps)
    axes[0].set_ylabel("amplitudes")
    axes[0].set_title(title)
    axes[2].plot(np.arange(f0.shape[0]) * scale, f0)
    axes[2].set_ylabel("f0 [Hz]")
    for ax, (label, image, unit) in zip((axes[1], *axes[3:]), images):
        extent = (0, image.shape[0] * scale, 0.5, image.shape[1] + 0.5)
        ax.imshow(image.T, origin="lower", aspect="auto", extent=extent, interpolation="nearest")
        ax.set_ylabel(f"{label}\n[{unit}]")
    axes[-1].set_xlabel("frame" if frame_rate is None else "time [s]")
    return save_figure(fig, path)


# -- training runs ------------------------------------------------------------------------------

_NOT_LOSSES = ("step", "steps_per_sec")


def plot_loss_curves(metrics_path: Any, output_path: Any = None, log_scale: bool = True) -> str:
    """Save a PNG of every loss of a training run's ``metrics.jsonl`` against the step.

    Args:
        metrics_path: the ``metrics.jsonl`` file, or the save_dir holding it.
        output_path: the PNG to write; default ``loss_curves.png`` beside the metrics file.
        log_scale: logarithmic loss axis (used only when every value is positive).

    Returns:
        the path of the PNG.

    Raises:
        ImportError: matplotlib is missing (the ``plot`` extra).
        ValueError: no record holds a loss.
    """
    import math
    import os

    from .training.train_util import read_metrics

    records = read_metrics(metrics_path)
    names = sorted({k for r in records for k in r if k not in _NOT_LOSSES})
    if not names:
        raise ValueError(f"plot_loss_curves: no loss values in {metrics_path}")
    if output_path is None:
        folder = metrics_path if os.path.isdir(metrics_path) else os.path.dirname(metrics_path)
        output_path = os.path.join(os.fspath(folder), "loss_curves.png")
    fig = _figure((8, 4.5))
    ax = fig.add_subplot()
    positive = True
    for name in names:
        points = [(r["step"], r[name]) for r in records if isinstance(r.get(name), (int, float))]
        points = [(step, v) for step, v in points if math.isfinite(v)]
        positive &= all(v > 0 for _, v in points)
        ax.plot([step for step, _ in points], [v for _, v in points], marker=".", label=name)
    if log_scale and positive:
        ax.set_yscale("log")
    ax.set(xlabel="step", ylabel="mean loss per summary")
    ax.grid(True, alpha=0.3)
    ax.legend()
    fig.tight_layout()
    save_figure(fig, output_path)
    return os.fspath(output_path)


# -- timbre transfer ----------------------------------------------------------------------------


def plot_transfer(audios: list[tuple[Any, str]], features: dict, frame_rate: float = 250.0,
                  *, path: str | None = None) -> Any:  # fmt: skip
    """Spectrograms of (audio, title) pairs (two per row) above the f0 and loudness a model was
    given (``features``: ``f0_hz`` [Hz], ``loudness_db`` [dB], each [n_frames]).

    Returns:
        The matplotlib Figure.
    """
    rows = (len(audios) + 1) // 2 + 1
    fig = _figure((12, 3 * rows))
    grid = fig.add_gridspec(rows, 2)
    for i, (audio, title) in enumerate(audios):
        ax = fig.add_subplot(grid[i // 2, i % 2])
        specplot(audio, ax=ax)
        ax.set_title(title)
    t = np.arange(len(features["f0_hz"])) / frame_rate
    ax = fig.add_subplot(grid[rows - 1, 0])
    ax.plot(t, to_numpy(features["f0_hz"]), lw=1)
    ax.set(title="f0 given to the model", xlabel="time [s]", ylabel="f0 [Hz]")
    ax = fig.add_subplot(grid[rows - 1, 1])
    ax.plot(t, to_numpy(features["loudness_db"]), lw=1)
    ax.set(title="loudness given to the model", xlabel="time [s]", ylabel="loudness [dB]")
    fig.tight_layout()
    return save_figure(fig, path)
