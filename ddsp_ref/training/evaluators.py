"""ddsp's ``training.evaluators``: what eval / sample runs compute on each batch of model outputs.

An evaluator is built as ``Evaluator(sample_rate, frame_rate)`` (gin may bind the rest); then
``set_output(save_dir, summary_writer)`` tells it where sample files go and which
tensorboardX-style writer (``add_scalar``, ``add_audio``, ``add_image``; or None) gets the
summaries. Per batch, ``evaluate(batch, outputs, losses)`` accumulates metrics and
``sample(batch, outputs, step)`` writes samples; ``flush(step)`` returns the accumulated scalars
(and logs them to the writer) and resets. ``outputs['audio_gen']`` is the model's audio.

Samples are written as ``<save_dir>/samples/step<step>_ex<index>_{original,generated}.wav``
(32-bit float WAV) and PNG plots ``..._spectrogram.png`` (original above generated) and
``..._f0.png`` (matplotlib, the ``plot`` extra: without it a warning says so and only the WAVs
are written). ``index`` counts the examples sampled at a step, across batches.
"""

from __future__ import annotations

import io
import os
import warnings
from typing import Any

import numpy as np

from ..backend import to_numpy
from ..gin_support import register
from ..io import atomic_write
from ..lazy import lazy_getattr
from . import metrics

__all__ = ["BaseEvaluator", "BasicEvaluator", "F0LdEvaluator", "SAMPLES_DIR"]

SAMPLES_DIR = "samples"


class BaseEvaluator:
    """ddsp's evaluator base: stores the rates, the sample folder and the summary writer.

    Args:
        sample_rate: of the audio [Hz].
        frame_rate: of the features [Hz].
    """

    def __init__(self, sample_rate: int, frame_rate: int):
        self._sample_rate = sample_rate
        self._frame_rate = frame_rate
        self._save_dir: str | None = None
        self._summary_writer: Any = None
        self._sampled: tuple[int, int] = (-1, 0)  # (step, examples sampled at that step)
        self._warned = False

    def set_rates(self, sample_rate: int, frame_rate: int) -> None:
        """Set the rates (not known when gin builds the evaluator)."""
        self._sample_rate = sample_rate
        self._frame_rate = frame_rate

    def set_output(self, save_dir: str | os.PathLike | None = None,
                   summary_writer: Any = None) -> None:  # fmt: skip
        """Where :meth:`sample` writes (``<save_dir>/samples``; None: no files) and the
        tensorboardX-style writer for summaries (None: none)."""
        self._save_dir = None if save_dir is None else os.fspath(save_dir)
        self._summary_writer = summary_writer

    def evaluate(self, batch: dict, outputs: dict, losses: dict) -> None:
        """Accumulate metrics of one batch."""
        raise TypeError(f"{type(self).__name__} must define evaluate()")

    def sample(self, batch: dict, outputs: dict, step: int) -> None:
        """Write samples of one batch."""
        raise TypeError(f"{type(self).__name__} must define sample()")

    def flush(self, step: int) -> dict[str, float]:
        """Return (and log) the accumulated scalars by summary tag, then reset."""
        raise TypeError(f"{type(self).__name__} must define flush()")

    def _first_index(self, step: int, n_examples: int) -> int:
        """Index of a batch's first example among those sampled at ``step`` (batches of one
        step are numbered on; a new step starts at 0)."""
        first = self._sampled[1] if self._sampled[0] == step else 0
        self._sampled = (step, first + n_examples)
        return first

    def _stem(self, step: int, index: int) -> str | None:
        """``<save_dir>/samples/step<step>_ex<index>`` (None without a save_dir)."""
        if self._save_dir is None:
            return None
        return os.path.join(self._save_dir, SAMPLES_DIR, f"step{step}_ex{index}")

    def _can_plot(self) -> bool:
        """True when matplotlib is installed; otherwise warns once and returns False."""
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            if not self._warned:
                message = (f"{type(self).__name__}.sample: PNG plots need matplotlib (pip "
                           "install 'ddsp_ref[plot]'); writing no plots")  # fmt: skip
                warnings.warn(message, stacklevel=3)
                self._warned = True
            return False
        return True

    def _plots_wanted(self) -> bool:
        """True when plots have somewhere to go (a save_dir or a writer) and can be drawn."""
        has_target = self._save_dir is not None or self._summary_writer is not None
        return has_target and self._can_plot()

    def _write_image(self, stem: str | None, suffix: str, tag: str, image: Any, step: int):
        """The image's PNG to ``<stem>_<suffix>.png`` and its pixels to the writer."""
        if stem is not None:
            os.makedirs(os.path.dirname(stem), exist_ok=True)
            with atomic_write(f"{stem}_{suffix}.png") as f:
                f.write(image.png)
        if self._summary_writer is not None:
            self._summary_writer.add_image(tag, image.rgb, step, dataformats="HWC")

    def _write_f0_images(self, f0_hz: Any, f0_hz_model: Any, step: int, suffix: str,
                         tag: str) -> None:  # fmt: skip
        """One f0 plot per example (dataset against model, ``[batch, n_frames]``) as
        ``<stem>_<suffix>.png`` and the image ``<tag>/<index>``, when anything is written."""
        if not self._plots_wanted():
            return
        where = f"{type(self).__name__}.sample"
        f0_batch, f0_model = metrics.frames_2d(f0_hz, where), metrics.frames_2d(f0_hz_model, where)
        first = self._first_index(step, f0_batch.shape[0])
        for i in range(f0_batch.shape[0]):
            index = first + i
            image = f0_image(f0_batch[i], f0_model[i], self._frame_rate, step, index)
            self._write_image(self._stem(step, index), suffix, f"{tag}/{index}", image, step)

    def _scalars(self, scalars: dict[str, float], step: int) -> dict[str, float]:
        if self._summary_writer is not None:
            for tag, value in scalars.items():
                self._summary_writer.add_scalar(tag, value, step)
        return scalars


class BasicEvaluator(BaseEvaluator):
    """Mean of each loss over the batches (``losses/<name>``); samples: WAVs of the original
    and generated audio and a spectrogram PNG of both, per example."""

    def __init__(self, sample_rate: int, frame_rate: int):
        super().__init__(sample_rate, frame_rate)
        self._avg_losses: dict[str, metrics.Mean] = {}

    def evaluate(self, batch: dict, outputs: dict, losses: dict) -> None:
        del batch, outputs
        for name, value in losses.items():
            self._avg_losses.setdefault(name, metrics.Mean(name)).update_state(value)

    def sample(self, batch: dict, outputs: dict, step: int) -> None:
        audio = _batch_audio(batch["audio"])
        audio_gen = _batch_audio(outputs["audio_gen"])
        first = self._first_index(step, audio.shape[0])
        plot = self._plots_wanted()
        for i in range(audio.shape[0]):
            self._write_example(step, first + i, audio[i], audio_gen[i], plot)

    def _write_example(self, step, index, original, generated, plot) -> None:
        sr, writer, stem = int(self._sample_rate), self._summary_writer, self._stem(step, index)
        if stem is not None:
            write_wav(f"{stem}_original.wav", original, sr)
            write_wav(f"{stem}_generated.wav", generated, sr)
        if writer is not None:
            writer.add_audio(f"audio_original/{index}", original, step, sample_rate=sr)
            writer.add_audio(f"audio_generated/{index}", generated, step, sample_rate=sr)
        if plot:
            image = spectrogram_image(original, generated, sr, step, index)
            self._write_image(stem, "spectrogram", f"spectrogram/{index}", image, step)

    def flush(self, step: int) -> dict[str, float]:
        scalars = {f"losses/{k}": m.result() for k, m in self._avg_losses.items()}
        for metric in self._avg_losses.values():
            metric.reset_state()
        return self._scalars(scalars, step)


class F0LdEvaluator(BaseEvaluator):
    """ddsp's f0 / loudness evaluator: loudness L1 [dB] of the generated audio
    (``metrics/loudness/...``), f0 metrics of the model's ``outputs['f0_hz']`` against the
    batch's (``metrics/f0/...``), and with ``run_f0_crepe`` our pitch tracker's f0 of the
    generated audio against the batch's (``metrics/f0_crepe/...``). ``sample`` plots the
    batch's and the model's f0 per example (``..._f0.png``, writer tag ``f0_harmonic/<i>``),
    as ddsp's ``f0_summary``.

    Difference from ddsp: ddsp runs the tracker only when the outputs hold no ``f0_hz``;
    an Autoencoder's outputs carry its input f0, so there its f0 metrics compare the input
    with itself. Here both run (the tracker when ``run_f0_crepe``).
    """

    def __init__(self, sample_rate: int, frame_rate: int, run_f0_crepe: bool = True):
        super().__init__(sample_rate, frame_rate)
        self._loudness_metrics = metrics.LoudnessMetrics(sample_rate, frame_rate)
        self._f0_metrics = metrics.F0Metrics(sample_rate, frame_rate)
        self._run_f0_crepe = bool(run_f0_crepe)
        self._f0_crepe_metrics = metrics.F0CrepeMetrics(sample_rate, frame_rate)

    def set_rates(self, sample_rate: int, frame_rate: int) -> None:
        super().set_rates(sample_rate, frame_rate)
        for group in (self._loudness_metrics, self._f0_metrics, self._f0_crepe_metrics):
            group._sample_rate, group._frame_rate = sample_rate, frame_rate

    def evaluate(self, batch: dict, outputs: dict, losses: dict) -> None:
        del losses
        audio_gen = _batch_audio(outputs["audio_gen"])
        self._loudness_metrics.update_state(batch, audio_gen)
        if "f0_hz" in outputs and "f0_hz" in batch:
            self._f0_metrics.update_state(batch, to_numpy(outputs["f0_hz"]))
        if self._run_f0_crepe:
            self._f0_crepe_metrics.update_state(batch, audio_gen)

    def sample(self, batch: dict, outputs: dict, step: int) -> None:
        if "f0_hz" in outputs and "f0_hz" in batch:
            self._write_f0_images(batch["f0_hz"], outputs["f0_hz"], step, "f0", "f0_harmonic")

    def flush(self, step: int) -> dict[str, float]:
        scalars = self._loudness_metrics.flush(step)
        scalars.update(self._f0_metrics.flush(step))
        if self._run_f0_crepe:
            scalars.update(self._f0_crepe_metrics.flush(step))
        return self._scalars(scalars, step)


# ---------------------- sample files ---------------------------------------------------------
def _batch_audio(audio: Any) -> np.ndarray:
    """Audio [batch, n_samples] as float32 numpy (from [n_samples] or [batch, n_samples, 1])."""
    audio = np.asarray(to_numpy(audio), dtype=np.float32)
    if audio.ndim == 3 and audio.shape[-1] == 1:
        audio = audio[..., 0]
    if audio.ndim == 1:
        audio = audio[None]
    if audio.ndim != 2:
        raise ValueError(f"evaluators: audio must be [batch, n_samples], got {audio.shape}")
    return audio


def write_wav(path: str | os.PathLike, audio: Any, sample_rate: int) -> None:
    """Write mono audio [n_samples] as a 32-bit float WAV, atomically (folders created)."""
    import soundfile

    os.makedirs(os.path.dirname(os.fspath(path)) or ".", exist_ok=True)
    buffer = io.BytesIO()
    soundfile.write(buffer, np.asarray(audio, np.float32), int(sample_rate), format="WAV",
                    subtype="FLOAT")  # fmt: skip
    with atomic_write(path) as f:
        f.write(buffer.getvalue())


_SPEC_SIZE = 1024  # STFT frame of the spectrogram pictures [samples]


class _Image:
    """A rendered figure: PNG bytes and its RGB pixels [height, width, 3] (uint8)."""

    def __init__(self, png: bytes, rgb: np.ndarray):
        self.png, self.rgb = png, rgb


def spectrogram_image(original: Any, generated: Any, sample_rate: int, step: int = 0,
                      index: int = 0) -> _Image:  # fmt: skip
    """Log-magnitude spectrograms (1024-point STFT, 75 % overlap, as ddsp's ``specplot`` colour
    range -5 .. 1) of the original (top) and generated (bottom) audio [n_samples]."""
    from matplotlib.figure import Figure

    from ..spectral_ops import compute_logmag

    figure = Figure(figsize=(8, 5), dpi=80)
    for row, (title, audio) in enumerate((("original", original), ("generated", generated))):
        audio = np.asarray(audio, np.float32).reshape(1, -1)
        # No end padding unless shorter than a frame: a zero-padded last frame smears a
        # broadband blob over the end of the picture.
        pad_end = audio.shape[-1] < _SPEC_SIZE
        logmag = to_numpy(compute_logmag(audio, size=_SPEC_SIZE, pad_end=pad_end))[0]
        ax = figure.add_subplot(2, 1, row + 1)
        extent = (0, audio.shape[-1] / sample_rate, 0, sample_rate / 2)
        ax.imshow(logmag.T, origin="lower", aspect="auto", vmin=-5, vmax=1, extent=extent)
        ax.set_title(f"{title} (step {step}, example {index})")
        ax.set_ylabel("Hz")
    figure.axes[-1].set_xlabel("s")
    return _render(figure)


def f0_image(f0_hz: Any, f0_hz_model: Any, frame_rate: float, step: int = 0,
             index: int = 0) -> _Image:  # fmt: skip
    """The batch's f0 and the model's f0 [n_frames] [Hz] against time (ddsp's f0 summary)."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(8, 3), dpi=80)
    ax = figure.add_subplot(1, 1, 1)
    for f0, label in ((f0_hz, "f0_hz (data)"), (f0_hz_model, "f0_hz (model)")):
        f0 = np.asarray(f0, np.float64)
        ax.plot(np.arange(f0.size) / frame_rate, f0, label=label)
    ax.set_title(f"f0 (step {step}, example {index})")
    ax.set_xlabel("s")
    ax.set_ylabel("Hz")
    ax.legend(loc="upper right")
    return _render(figure)


def _render(figure: Any) -> _Image:
    """PNG bytes and RGB pixels of a matplotlib Figure (Agg canvas; pyplot is never used, so
    no global figure state or GUI backend is involved)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(figure)
    figure.tight_layout()
    canvas.draw()
    rgb = np.asarray(canvas.buffer_rgba())[..., :3].copy()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return _Image(buffer.getvalue(), rgb)


# ddsp's gin names: @evaluators.BasicEvaluator, @evaluators.F0LdEvaluator.
for _cls in (BasicEvaluator, F0LdEvaluator):
    register(_cls, module="ddsp_ref.training.evaluators")
del _cls


# ddsp's TWM and MIDI evaluators (ddsp.training.evaluators.X): imported on first use
# (they import this module).
__getattr__ = lazy_getattr(
    __name__,
    attributes={
        "TWMEvaluator": ".evaluators_twm",
        "MidiAutoencoderEvaluator": ".evaluators_midi",
        "MidiHeuristicEvaluator": ".evaluators_midi",
    },
)
