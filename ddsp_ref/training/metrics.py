"""ddsp's ``training.metrics``: loudness and f0 metrics of generated audio; accumulators.

Frame-level measures (plain numpy, float64): the loudness L1 [dB], the mean f0 distance [MIDI]
on confident frames (``f0_dist_conf_thresh``), the f0 error [cents], and mir_eval's melody
measures written from their definitions (``hz2cents``, ``raw_pitch_accuracy``,
``raw_chroma_accuracy``; mir_eval is not a dependency). The accumulators (``LoudnessMetrics``,
``F0CrepeMetrics``, ``F0Metrics``) gather them over batches like ddsp's keras metrics:
``update_state`` per batch, ``result`` / ``flush(step)`` / ``reset``.

Differences from ddsp: our pitch tracker (``spectral_ops.compute_f0``: pYIN, or any CREPE-style
``model``) replaces CREPE, at the data's own sample rate; ``F0CrepeMetrics`` also reports raw
pitch / chroma accuracy; ``flush`` returns its scalars and writes them to an optional
tensorboardX-style ``summary_writer`` instead of TF's default writer.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from ..backend import to_numpy

__all__ = [
    "MIN_F0_CONFIDENCE",
    "OUTLIER_MIDI_THRESH",
    "squeeze",
    "l1_distance",
    "is_outlier",
    "compute_audio_features",
    "f0_dist_conf_thresh",
    "hz2cents",
    "raw_pitch_accuracy",
    "raw_chroma_accuracy",
    "loudness_l1_db",
    "f0_error_cents",
    "frames_2d",
    "Mean",
    "Accuracy",
    "BaseMetrics",
    "LoudnessMetrics",
    "F0CrepeMetrics",
    "F0Metrics",
]

MIN_F0_CONFIDENCE = 0.85
OUTLIER_MIDI_THRESH = 12

_log = logging.getLogger(__name__)


# ---------------------- frame-level measures -------------------------------------------------
def _numpy(x: Any) -> np.ndarray:
    """A float64 numpy copy of an array, Tensor or list (host memory)."""
    return np.asarray(to_numpy(x), dtype=np.float64)


def squeeze(input_vector: Any) -> np.ndarray:
    """ddsp's helper: drop unit axes of an array with more than one axis."""
    x = np.asarray(to_numpy(input_vector))
    return np.squeeze(x) if x.ndim > 1 else x


def l1_distance(prediction: Any, ground_truth: Any) -> np.ndarray:
    """``|prediction - ground_truth|`` per frame over the common length (both squeezed; the
    longer one is cut at the end, as ddsp's)."""
    prediction, ground_truth = np.squeeze(_numpy(prediction)), np.squeeze(_numpy(ground_truth))
    n = min(prediction.size, ground_truth.size)
    return np.abs(prediction.reshape(-1)[:n] - ground_truth.reshape(-1)[:n])


def is_outlier(ground_truth_f0_conf: Any) -> bool:
    """True when no frame of the ground truth reaches ``MIN_F0_CONFIDENCE`` (its f0 is
    untrackable, so it is left out of the f0 metrics)."""
    return bool(np.max(squeeze(ground_truth_f0_conf)) < MIN_F0_CONFIDENCE)


def compute_audio_features(audio: Any, frame_rate: int = 250, *, sample_rate: int = 16000,
                           viterbi: bool = True, model: Any = None) -> dict:  # fmt: skip
    """ddsp's features of audio: ``{'audio', 'loudness_db', 'f0_hz', 'f0_confidence'}``.

    Loudness (``compute_loudness``, 512-point FFT) and f0 / confidence (``compute_f0``) both
    with 'center' padding, so each has ``1 + n_samples // (sample_rate // frame_rate)`` frames.

    Args:
        audio: [n_samples] or [batch, n_samples] (unit axes are squeezed, as ddsp).
        frame_rate: frames per second [Hz].
        sample_rate: of ``audio`` [Hz] (keyword; ddsp requires CREPE's 16 kHz).
        viterbi: passed to ``compute_f0``.
        model: optional CREPE-style model for ``compute_f0`` (default: our pYIN tracker).

    Returns:
        the dict; ``audio`` is the input as given, the features [n_frames] or [batch, n_frames].
    """
    from ..spectral_ops import compute_f0, compute_loudness

    features = {"audio": audio}
    audio = squeeze(audio)
    features["loudness_db"] = to_numpy(
        compute_loudness(audio, sample_rate, frame_rate, padding="center")
    )
    f0_hz, f0_confidence = compute_f0(audio, frame_rate, viterbi, "center",
                                      sample_rate=sample_rate, model=model)  # fmt: skip
    features["f0_hz"], features["f0_confidence"] = to_numpy(f0_hz), to_numpy(f0_confidence)
    return features


def _hz_to_midi(f0_hz: np.ndarray) -> np.ndarray:
    """librosa's ``hz_to_midi`` with ddsp's fix-up: 0 Hz (-inf) becomes MIDI 0."""
    with np.errstate(divide="ignore"):
        midi = 12.0 * (np.log2(f0_hz) - np.log2(440.0)) + 69.0
    midi[midi == -np.inf] = 0.0
    return midi


def f0_dist_conf_thresh(
    f0_hz: Any, f0_hz_gen: Any, f0_confidence: Any, f0_confidence_thresh: float = MIN_F0_CONFIDENCE
) -> float | None:
    """Mean ``|MIDI(f0_hz) - MIDI(f0_hz_gen)|`` over the frames where the ground truth's
    confidence is at least ``f0_confidence_thresh`` (ddsp's f0 distance, in MIDI semitones).

    Args:
        f0_hz: ground-truth f0 [n_frames] [Hz] (a trailing channel axis is dropped).
        f0_hz_gen: generated f0 [n_frames] [Hz].
        f0_confidence: ground-truth confidence [n_frames], in [0, 1].
        f0_confidence_thresh: frames below it are left out.

    Returns:
        the mean distance [semitones], or None when no frame reaches the threshold.
    """
    f0_hz, f0_hz_gen = squeeze(_numpy(f0_hz)), squeeze(_numpy(f0_hz_gen))
    f0_confidence = squeeze(_numpy(f0_confidence))
    if np.max(f0_confidence) < f0_confidence_thresh:
        return None
    delta = l1_distance(_hz_to_midi(f0_hz), _hz_to_midi(f0_hz_gen))
    keep = (f0_confidence >= f0_confidence_thresh).reshape(-1)[: delta.size]
    return float(np.mean(delta[keep]))


def hz2cents(freq_hz: Any, base_frequency: float = 10.0) -> np.ndarray:
    """mir_eval's ``hz2cents``: ``1200 log2(|f| / base_frequency)``, and 0 where ``f == 0``."""
    freq_hz = np.asarray(_numpy(freq_hz)).reshape(-1)
    cents = np.zeros(freq_hz.shape)
    nonzero = freq_hz != 0
    cents[nonzero] = 1200.0 * np.log2(np.abs(freq_hz[nonzero]) / base_frequency)
    return cents


def _correct_frames(ref_voicing, ref_cent, est_cent, cent_tolerance, chroma):
    """Voicing-weighted count of correct frames and the voiced total (mir_eval's rules: frames
    where either pitch is 0 cents count as wrong; strict ``<`` tolerance)."""
    ref_voicing, ref_cent, est_cent = (np.asarray(_numpy(x)).reshape(-1)
                                       for x in (ref_voicing, ref_cent, est_cent))  # fmt: skip
    if not ref_voicing.shape == ref_cent.shape == est_cent.shape:
        raise ValueError(
            f"raw pitch / chroma accuracy: ref_voicing, ref_cent and est_cent must have one "
            f"length, got {ref_voicing.size}, {ref_cent.size}, {est_cent.size}"
        )
    total = float(np.sum(ref_voicing))
    both = (ref_cent != 0) & (est_cent != 0)
    diff = np.abs(ref_cent - est_cent)[both]
    if chroma:  # distance to the nearest whole number of octaves
        diff = np.abs(diff - 1200.0 * np.floor(diff / 1200.0 + 0.5))
    return float(np.sum(ref_voicing[both] * (diff < cent_tolerance))), total


def raw_pitch_accuracy(ref_voicing: Any, ref_cent: Any, est_voicing: Any, est_cent: Any,
                       cent_tolerance: float = 50) -> float:  # fmt: skip
    """mir_eval's raw pitch accuracy: the voicing-weighted fraction of reference frames whose
    estimated pitch is within ``cent_tolerance`` cents (estimated voicing is ignored).

    Args:
        ref_voicing: reference voicing [n_frames] (0/1 or weights in [0, 1]).
        ref_cent, est_cent: pitches [n_frames] in cents (``hz2cents``; 0 = no pitch).
        est_voicing: unused (mir_eval's signature).
        cent_tolerance: [cents].

    Returns:
        in [0, 1]; 0 when the reference has no voiced frame.
    """
    del est_voicing
    correct, total = _correct_frames(ref_voicing, ref_cent, est_cent, cent_tolerance, False)
    return correct / total if total > 0 else 0.0


def raw_chroma_accuracy(ref_voicing: Any, ref_cent: Any, est_voicing: Any, est_cent: Any,
                        cent_tolerance: float = 50) -> float:  # fmt: skip
    """mir_eval's raw chroma accuracy: as :func:`raw_pitch_accuracy` with octave errors
    forgiven (the difference is taken to the nearest multiple of 1200 cents)."""
    del est_voicing
    correct, total = _correct_frames(ref_voicing, ref_cent, est_cent, cent_tolerance, True)
    return correct / total if total > 0 else 0.0


def loudness_l1_db(loudness_db: Any, loudness_db_gen: Any) -> float:
    """Mean ``|loudness_db - loudness_db_gen|`` [dB] over the common frames of one example."""
    return float(np.mean(l1_distance(loudness_db_gen, loudness_db)))


def f0_error_cents(f0_hz: Any, f0_hz_gen: Any, voicing: Any = None) -> float | None:
    """Mean ``|1200 log2(f0_hz_gen / f0_hz)|`` [cents] over the frames where both pitches are
    positive (and ``voicing`` [n_frames] is true, if given); None if there is no such frame."""
    f0_hz, f0_hz_gen = squeeze(_numpy(f0_hz)).reshape(-1), squeeze(_numpy(f0_hz_gen)).reshape(-1)
    n = min(f0_hz.size, f0_hz_gen.size)
    f0_hz, f0_hz_gen = f0_hz[:n], f0_hz_gen[:n]
    keep = (f0_hz > 0) & (f0_hz_gen > 0)
    if voicing is not None:
        keep &= squeeze(voicing).reshape(-1)[:n].astype(bool)
    if not np.any(keep):
        return None
    return float(np.mean(np.abs(1200.0 * np.log2(f0_hz_gen[keep] / f0_hz[keep]))))


# ---------------------- accumulators ---------------------------------------------------------
class Mean:
    """keras ``metrics.Mean``: running (weighted) mean; ``result()`` is 0.0 before any update."""

    def __init__(self, name: str = "mean"):
        self.name = name
        self.reset_state()

    def update_state(self, values: Any, sample_weight: Any = None) -> None:
        values = np.asarray(_numpy(values)).reshape(-1)
        weights = np.ones_like(values) if sample_weight is None else np.broadcast_to(
            np.asarray(_numpy(sample_weight)).reshape(-1), values.shape)  # fmt: skip
        self.total += float(np.sum(values * weights))
        self.count += float(np.sum(weights))

    def result(self) -> float:
        return self.total / self.count if self.count else 0.0

    def reset_state(self) -> None:
        self.total, self.count = 0.0, 0.0

    reset_states = reset_state  # keras' older name, used by ddsp


class Accuracy(Mean):
    """keras ``metrics.Accuracy``: the fraction of updates where ``y_true == y_pred``."""

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        equal = np.asarray(to_numpy(y_true)) == np.asarray(to_numpy(y_pred))
        super().update_state(equal.astype(np.float64), sample_weight)


class BaseMetrics:
    """ddsp's base of the metric groups: named accumulators, flushed as ``metrics/<name>/<key>``.

    Args:
        sample_rate: of the audio [Hz].
        frame_rate: of the features [Hz].
        name: the group's name in logs and summary tags.
    """

    def __init__(self, sample_rate: int, frame_rate: int, name: str):
        self._sample_rate = sample_rate
        self._frame_rate = frame_rate
        self._name = name
        self._metrics: dict[str, Mean] = {}

    @property
    def metrics(self) -> dict[str, Mean]:
        """The accumulators by metric name."""
        return self._metrics

    def update_state(self, *args: Any, **kwargs: Any) -> None:
        raise TypeError(f"{type(self).__name__} must define update_state()")

    def result(self) -> dict[str, float]:
        """Current value of every accumulator, by metric name."""
        return {key: metric.result() for key, metric in self.metrics.items()}

    def reset(self) -> None:
        for metric in self.metrics.values():
            metric.reset_state()

    def flush(self, step: int, summary_writer: Any = None) -> dict[str, float]:
        """Log the results, write them to ``summary_writer`` (``add_scalar``) if given, reset.

        Returns:
            ``{'metrics/<name>/<metric>': value}``.
        """
        scalars = {f"metrics/{self._name}/{k}": v for k, v in self.result().items()}
        _log.info("%s metrics at step %d: %s", self._name, step,
                  " | ".join(f"{k}: {v:0.3f}" for k, v in self.result().items()))  # fmt: skip
        if summary_writer is not None:
            for tag, value in scalars.items():
                summary_writer.add_scalar(tag, value, step)
        self.reset()
        return scalars


def frames_2d(x: Any, where: str) -> np.ndarray:
    """Frame features [batch, n_frames] (float64) from [batch, n_frames] or [batch, n_frames, 1]."""
    x = _numpy(x)
    if x.ndim == 3 and x.shape[-1] == 1:
        x = x[..., 0]
    if x.ndim != 2:
        raise ValueError(f"{where}: expected [batch, n_frames] features, got shape {x.shape}")
    return x


class LoudnessMetrics(BaseMetrics):
    """Mean loudness L1 [dB] between the batch's ``loudness_db`` (or the loudness of its
    ``audio``) and the loudness of the generated audio (512-point FFT, 'center' padding)."""

    def __init__(self, sample_rate: int, frame_rate: int, name: str = "loudness"):
        super().__init__(sample_rate, frame_rate, name)
        self._metrics = {"loudness_db": Mean("loudness_db")}

    def _loudness(self, audio: Any) -> np.ndarray:
        from ..spectral_ops import compute_loudness

        audio = _numpy(audio).astype(np.float32)
        return _numpy(compute_loudness(audio, self._sample_rate, self._frame_rate))

    def update_state(self, batch: dict, audio_gen: Any) -> None:
        """Args: batch: features (``loudness_db [batch, n_frames]`` or ``audio``); audio_gen:
        generated audio [batch, n_samples]."""
        if "loudness_db" in batch:
            original = frames_2d(batch["loudness_db"], "LoudnessMetrics")
        else:
            original = self._loudness(batch["audio"])
        generated = self._loudness(audio_gen)
        for i in range(generated.shape[0]):
            distance = loudness_l1_db(original[i], generated[i])
            self.metrics["loudness_db"].update_state(distance)
            _log.info("%s | sample %d | ld_dist(db): %.3f", self._name, i, distance)


def _pitch_accuracies(f0_hz_gt, f0_hz_est, f0_conf_gt, tolerance, voicing_confidence):
    """(raw pitch, raw chroma) accuracy of one example. Voiced reference frames: f0 > 0
    (mir_eval's ``freq_to_voicing``, as ddsp), and confidence >= ``voicing_confidence`` if
    that is given."""
    f0_hz_gt, f0_hz_est = np.squeeze(f0_hz_gt), np.squeeze(f0_hz_est)
    voiced = (f0_hz_gt > 0).astype(np.float64)
    if voicing_confidence is not None:
        voiced *= np.squeeze(f0_conf_gt) >= voicing_confidence
    ref_cent, est_cent = hz2cents(f0_hz_gt), hz2cents(f0_hz_est)
    rpa = raw_pitch_accuracy(voiced, ref_cent, voiced, est_cent, cent_tolerance=tolerance)
    rca = raw_chroma_accuracy(voiced, ref_cent, voiced, est_cent, cent_tolerance=tolerance)
    return rpa, rca


class F0Metrics(BaseMetrics):
    """ddsp's f0 metrics of a predicted f0 track (e.g. the model's ``outputs['f0_hz']``).

    Per example whose ground truth is trackable (some frame with confidence >= 0.85):
    ``f0_dist`` (:func:`f0_dist_conf_thresh`, semitones), ``raw_pitch_accuracy`` and
    ``raw_chroma_accuracy`` (``rpa_tolerance`` cents, reference frames with f0 > 0 voiced).
    A ground truth of another frame count is linearly resampled to the prediction's (as ddsp;
    the caller's batch is not modified).

    Args:
        sample_rate, frame_rate, name: see :class:`BaseMetrics`.
        rpa_tolerance: [cents].
        voicing_confidence: None (ddsp), or a confidence below which reference frames count as
            unvoiced for the accuracies (our pitch tracker gives every frame an f0 > 0).
    """

    def __init__(self, sample_rate: int, frame_rate: int, rpa_tolerance: float = 50,
                 name: str = "f0", voicing_confidence: float | None = None):  # fmt: skip
        super().__init__(sample_rate, frame_rate, name)
        self._metrics = {k: Mean(k) for k in _F0_KEYS}
        self._rpa_tolerance = rpa_tolerance
        self._voicing_confidence = voicing_confidence

    def update_state(self, batch: dict, f0_hz_predict: Any) -> None:
        """Args: batch: ``f0_hz``, ``f0_confidence`` [batch, n_frames]; f0_hz_predict:
        [batch, n_frames'] or [batch, n_frames', 1] [Hz]."""
        missing = [k for k in ("f0_hz", "f0_confidence") if k not in batch]
        if missing:
            raise KeyError(f"{type(self).__name__}: the batch has no {missing} [batch, n_frames]")
        predict = frames_2d(f0_hz_predict, "F0Metrics")
        f0_hz = frames_2d(batch["f0_hz"], "F0Metrics")
        conf = frames_2d(batch["f0_confidence"], "F0Metrics")
        if f0_hz.shape[1] != predict.shape[1]:
            from ..core import resample

            f0_hz, conf = (_numpy(resample(x, predict.shape[1])) for x in (f0_hz, conf))
        for i in range(predict.shape[0]):
            if is_outlier(conf[i]):
                continue
            self._update_example(i, f0_hz[i], predict[i], conf[i])

    def _update_example(self, i, f0_gt, f0_est, conf_gt) -> None:
        f0_dist = f0_dist_conf_thresh(f0_gt, f0_est, conf_gt)
        rpa, rca = _pitch_accuracies(f0_gt, f0_est, conf_gt, self._rpa_tolerance,
                                     self._voicing_confidence)  # fmt: skip
        self.metrics["f0_dist"].update_state(f0_dist)
        self.metrics["raw_pitch_accuracy"].update_state(rpa)
        self.metrics["raw_chroma_accuracy"].update_state(rca)
        _log.info("%s | sample %d | f0_dist(midi): %.3f raw_chroma_accuracy: %.3f "
                  "raw_pitch_accuracy: %.3f", self._name, i, f0_dist, rca, rpa)  # fmt: skip


_F0_KEYS = ("f0_dist", "raw_pitch_accuracy", "raw_chroma_accuracy")


class F0CrepeMetrics(F0Metrics):
    """ddsp's f0 metrics of generated audio, with our tracker (``compute_f0``, Viterbi) in
    place of CREPE.

    Per example with a trackable ground truth (``f0_hz`` / ``f0_confidence`` of the batch, or
    tracked from its ``audio``): the generated audio is an outlier when its f0 distance is
    None or above ``OUTLIER_MIDI_THRESH`` semitones (``outlier_ratio``, the fraction of
    outliers); otherwise ``f0_dist`` is accumulated. Extra to ddsp: ``raw_pitch_accuracy`` /
    ``raw_chroma_accuracy`` of the tracked f0 on every trackable example.

    Args:
        sample_rate, frame_rate, name, rpa_tolerance, voicing_confidence: see F0Metrics.
        model: optional CREPE-style model for ``compute_f0`` (default pYIN).
    """

    def __init__(self, sample_rate: int, frame_rate: int, name: str = "f0_crepe",
                 rpa_tolerance: float = 50, voicing_confidence: float | None = None,
                 model: Any = None):  # fmt: skip
        super().__init__(sample_rate, frame_rate, rpa_tolerance, name, voicing_confidence)
        self._metrics["outlier_ratio"] = Accuracy("outlier_ratio")
        self._model = model

    def _track(self, audio: Any) -> tuple[np.ndarray, np.ndarray]:
        from ..spectral_ops import compute_f0

        audio = _numpy(audio).astype(np.float32)
        f0_hz, conf = compute_f0(audio, self._frame_rate, True, "center",
                                 sample_rate=self._sample_rate, model=self._model)  # fmt: skip
        return _numpy(f0_hz), _numpy(conf)

    def update_state(self, batch: dict, audio_gen: Any) -> None:
        """Args: batch: ``f0_hz``, ``f0_confidence`` [batch, n_frames] (or ``audio``);
        audio_gen: generated audio [batch, n_samples]."""
        f0_gen, _ = self._track(audio_gen)
        if "f0_hz" in batch and "f0_confidence" in batch:
            f0_gt = frames_2d(batch["f0_hz"], "F0CrepeMetrics")
            conf_gt = frames_2d(batch["f0_confidence"], "F0CrepeMetrics")
        else:
            f0_gt, conf_gt = self._track(batch["audio"])
        for i in range(f0_gen.shape[0]):
            if is_outlier(conf_gt[i]):
                continue  # the ground truth is untrackable: not counted at all
            f0_dist = f0_dist_conf_thresh(f0_gt[i], f0_gen[i], conf_gt[i])
            outlier = f0_dist is None or not np.isfinite(f0_dist) or f0_dist > OUTLIER_MIDI_THRESH
            self.metrics["outlier_ratio"].update_state(True, outlier)
            if not outlier:
                self.metrics["f0_dist"].update_state(f0_dist)
            n = min(f0_gt.shape[1], f0_gen.shape[1])
            rpa, rca = _pitch_accuracies(f0_gt[i, :n], f0_gen[i, :n], conf_gt[i, :n],
                                         self._rpa_tolerance, self._voicing_confidence)  # fmt: skip
            self.metrics["raw_pitch_accuracy"].update_state(rpa)
            self.metrics["raw_chroma_accuracy"].update_state(rca)
            _log.info("%s | sample %d | f0_dist(midi): %s outlier: %s rpa: %.3f", self._name,
                      i, f0_dist, outlier, rpa)  # fmt: skip
