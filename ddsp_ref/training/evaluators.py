"""ddsp's ``training.evaluators``: what eval / sample runs compute on each batch of model outputs.

An evaluator is built as ``Evaluator(sample_rate, frame_rate)`` (gin may bind the rest); then
``set_output(save_dir, summary_writer)`` tells it where sample files go and which
tensorboardX-style writer (``add_scalar``, ``add_audio``, ``add_image``; or None) gets the
summaries. Per batch, ``evaluate(batch, outputs, losses)`` accumulates metrics and
``sample(batch, outputs, step)`` writes samples; ``flush(step)`` returns the accumulated scalars
(and logs them to the writer) and resets. ``outputs['audio_gen']`` is the model's audio.

Samples are written as ``<save_dir>/samples/step<step>_ex<index>_{original,generated}.wav``
(32-bit float WAV) and ``..._spectrogram.png`` (original above generated; needs matplotlib, the
``plot`` extra: without it a warning says so and only the WAVs are written).
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
        self._sampled: tuple[int, int] = (-1, 0)  # (step, examples written at that step)
        self._warned = False

    def evaluate(self, batch: dict, outputs: dict, losses: dict) -> None:
        del batch, outputs
        for name, value in losses.items():
            self._avg_losses.setdefault(name, metrics.Mean(name)).update_state(value)

    def sample(self, batch: dict, outputs: dict, step: int) -> None:
        audio = _batch_audio(batch["audio"])
        audio_gen = _batch_audio(outputs["audio_gen"])
        first = self._sampled[1] if self._sampled[0] == step else 0
        self._sampled = (step, first + audio.shape[0])
        png = _png_backend(self)
        for i in range(audio.shape[0]):
            index = first + i
            self._write_example(step, index, audio[i], audio_gen[i], png)

    def _write_example(self, step, index, original, generated, png) -> None:
        sr, writer = int(self._sample_rate), self._summary_writer
        if self._save_dir is not None:
            stem = os.path.join(self._save_dir, SAMPLES_DIR, f"step{step}_ex{index}")
            write_wav(f"{stem}_original.wav", original, sr)
            write_wav(f"{stem}_generated.wav", generated, sr)
        if png is None or (self._save_dir is None and writer is None):
            return
        image = spectrogram_image(original, generated, sr, step, index)
        if self._save_dir is not None:
            with atomic_write(f"{stem}_spectrogram.png") as f:
                f.write(image.png)
        if writer is not None:
            writer.add_audio(f"audio_original/{index}", original, step, sample_rate=sr)
            writer.add_audio(f"audio_generated/{index}", generated, step, sample_rate=sr)
            writer.add_image(f"spectrogram/{index}", image.rgb, step, dataformats="HWC")

    def flush(self, step: int) -> dict[str, float]:
        scalars = {f"losses/{k}": m.result() for k, m in self._avg_losses.items()}
        for metric in self._avg_losses.values():
            metric.reset_state()
        return self._scalars(scalars, step)


class F0LdEvaluator(BaseEvaluator):
    """ddsp's f0 / loudness evaluator: loudness L1 [dB] of the generated audio
    (``metrics/loudness/...``), f0 metrics of the model's ``outputs['f0_hz']`` against the
    batch's (``metrics/f0/...``), and with ``run_f0_crepe`` our pitch tracker's f0 of the
    generated audio against the batch's (``metrics/f0_crepe/...``).

    Difference from ddsp: ddsp runs the tracker only when the outputs hold no ``f0_hz``;
    an Autoencoder's outputs carry its input f0, so there its f0 metrics compare the input
    with itself. Here both run (the tracker when ``run_f0_crepe``). ``sample`` writes nothing
    (ddsp draws an f0 plot).
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
        del batch, outputs, step

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


def _png_backend(evaluator: BasicEvaluator) -> Any:
    """matplotlib's module, or None with a one-time warning when it is not installed."""
    try:
        import matplotlib
    except ImportError:
        if not evaluator._warned:
            message = ("BasicEvaluator.sample: spectrogram PNGs need matplotlib (pip install "
                       "'ddsp_ref[plot]'); writing the WAV files only")  # fmt: skip
            warnings.warn(message, stacklevel=3)
            evaluator._warned = True
        return None
    return matplotlib


class _Image:
    """A rendered figure: PNG bytes and its RGB pixels [height, width, 3] (uint8)."""

    def __init__(self, png: bytes, rgb: np.ndarray):
        self.png, self.rgb = png, rgb


def spectrogram_image(original: Any, generated: Any, sample_rate: int, step: int = 0,
                      index: int = 0) -> _Image:  # fmt: skip
    """Log-magnitude spectrograms (1024-point STFT, 75 % overlap, as ddsp's ``specplot`` colour
    range -5 .. 1) of the original (top) and generated (bottom) audio [n_samples]."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from ..spectral_ops import compute_logmag

    figure = Figure(figsize=(8, 5), dpi=80)
    canvas = FigureCanvasAgg(figure)
    for row, (title, audio) in enumerate((("original", original), ("generated", generated))):
        logmag = to_numpy(compute_logmag(np.asarray(audio, np.float32)[None], size=1024))[0]
        ax = figure.add_subplot(2, 1, row + 1)
        extent = (0, len(audio) / sample_rate, 0, sample_rate / 2)
        ax.imshow(logmag.T, origin="lower", aspect="auto", vmin=-5, vmax=1, extent=extent)
        ax.set_title(f"{title} (step {step}, example {index})")
        ax.set_ylabel("Hz")
    figure.axes[-1].set_xlabel("s")
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
