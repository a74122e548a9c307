"""Timbre transfer as ddsp's demo colab: any recording in, the same performance played by a
trained model out.

The recipe (DDSP_REFERENCE 4.11): features at 16 kHz / 250 frames per second (f0, confidence and
loudness, centre padding); if ``adjust`` and the model's dataset statistics are known and notes
are found, (a) shift the pitch by whole octaves towards the dataset's mean pitch, (b) map the
note frames' loudness through the input's quantiles onto the dataset's, (c) lower the other
frames by ``quiet * (1 - note_on_ratio)`` dB, (d) optionally auto-tune; then the manual pitch
(octaves) and loudness (dB) shifts; then the model decodes the features to audio.

Unlike the colab, the output has exactly the input's duration (at the model's sample rate): the
audio is zero-padded to whole frames for the model and trimmed back. The model is reconfigured
in place for the input's length (and to read the adjusted loudness): keep a model per use.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..core import hz_to_midi, midi_to_hz
from ..validation import finite_number, positive_int
from .postprocessing import detect_notes, fit_quantile_transform
from .tuning import auto_tune, get_tuning_factor

__all__ = [
    "TransferSettings",
    "adjust_features",
    "model_features",
    "octave_shift",
    "timbre_transfer",
]

FEATURE_SAMPLE_RATE = 16000  # the features (and ddsp's pretrained models) are at 16 kHz
MAX_MIDI = 110.0  # the colab clips shifted f0 at midi_to_hz(110)


@dataclass(frozen=True)
class TransferSettings:
    """The colab's sliders.

    Attributes:
        adjust: apply the dataset-statistics adjustments (a)-(c) (needs statistics).
        quiet: dB removed from frames outside notes, scaled by how far they are from a note.
        autotune: 0..1, how far pitches move to the nearest note of the best-fitting scale.
        pitch_shift: octaves added after the adjustments.
        loudness_shift: dB added after the adjustments.
    """

    adjust: bool = True
    quiet: float = 20.0
    autotune: float = 0.0
    pitch_shift: float = 0.0
    loudness_shift: float = 0.0

    def __post_init__(self):
        for name in ("quiet", "autotune", "pitch_shift", "loudness_shift"):
            finite_number(getattr(self, name), name, "TransferSettings")
        if not 0.0 <= self.autotune <= 1.0:
            raise ValueError(f"TransferSettings: autotune must be in [0, 1], got {self.autotune}")


def octave_shift(mean_pitch_dataset: float, mean_pitch_input: float) -> int:
    """Whole octaves that bring the input's mean note pitch near the dataset's (MIDI means).

    The colab's rounding: ``d = (dataset - input) / 12``, ``floor(d)`` if ``d > 1.5`` else
    ``ceil(d)``.
    """
    d = (float(mean_pitch_dataset) - float(mean_pitch_input)) / 12.0
    return int(np.floor(d) if d > 1.5 else np.ceil(d))


def adjust_features(
    features: dict, statistics: dict | None, settings: TransferSettings = TransferSettings()
) -> tuple[dict, dict]:
    """The colab's feature adjustments.

    Args:
        features: ``f0_hz``, ``f0_confidence``, ``loudness_db``, each ``[n_frames]``.
        statistics: the model's dataset statistics (``postprocessing.compute_dataset_statistics``:
            ``mean_pitch``, ``quantile_transform``) or None (no adjustment).
        settings: :class:`TransferSettings`.

    Returns:
        (features with new ``f0_hz`` and ``loudness_db`` (float32), info: ``octaves`` shifted,
        ``n_note_frames``, ``tuning_factor`` (semitones) when auto-tuned, ``adjusted``).
    """
    f0_hz = np.asarray(features["f0_hz"], np.float64).copy()
    loudness = np.asarray(features["loudness_db"], np.float64).copy()
    confidence = np.asarray(features["f0_confidence"], np.float64)
    mask_on, note_on_ratio = detect_notes(loudness, confidence)
    info: dict[str, Any] = {"octaves": 0, "n_note_frames": int(mask_on.sum()), "adjusted": False}
    if settings.adjust and statistics is not None and mask_on.any():
        f0_midi = hz_to_midi(f0_hz)
        shift = octave_shift(statistics["mean_pitch"], np.mean(f0_midi[mask_on]))
        f0_hz = np.clip(f0_hz * 2.0**shift, 0.0, float(midi_to_hz(MAX_MIDI)))
        quantiles = statistics["quantile_transform"]
        loudness = fit_quantile_transform(loudness, mask_on, inv_quantile=quantiles)[:, 0]
        loudness = loudness - settings.quiet * (1.0 - np.minimum(note_on_ratio, 1.0)) * ~mask_on
        if settings.autotune > 0:
            f0_midi = hz_to_midi(f0_hz)
            tuning = get_tuning_factor(f0_midi, confidence, mask_on)
            f0_hz = midi_to_hz(auto_tune(f0_midi, tuning, mask_on, amount=settings.autotune))
            info["tuning_factor"] = tuning
        info.update(octaves=shift, adjusted=True)
    f0_hz = f0_hz * 2.0**settings.pitch_shift
    loudness = loudness + settings.loudness_shift
    out = dict(features)
    out.update(f0_hz=f0_hz.astype(np.float32), loudness_db=loudness.astype(np.float32))
    return out, info


def model_features(audio_16k: Any, frame_rate: int = 250, viterbi: bool = True) -> dict:
    """The features a solo-instrument model reads, from 16 kHz audio, centre padding
    (``1 + n_samples // hop`` frames): ``f0_hz`` and ``f0_confidence`` from our pitch tracker,
    ``loudness_db`` as ``F0LoudnessPreprocessor`` computes it while training (n_fft 512).

    Returns:
        float32 arrays [n_frames].
    """
    from ..spectral_ops import compute_f0, compute_loudness

    audio_16k = np.asarray(audio_16k, np.float64)
    f0_hz, confidence = compute_f0(audio_16k, frame_rate, viterbi, "center")
    loudness = compute_loudness(audio_16k, FEATURE_SAMPLE_RATE, frame_rate)
    return {
        "f0_hz": np.asarray(f0_hz, np.float32),
        "f0_confidence": np.asarray(confidence, np.float32),
        "loudness_db": np.asarray(loudness, np.float32),
    }


def _configure_for(model: Any, n_frames: int, n_samples: int) -> None:
    """Rebind the model's frame and sample counts (the colab rebinds ``time_steps`` and
    ``n_samples`` with gin before building the model), and make the preprocessor read the
    adjusted ``loudness_db`` instead of recomputing it from the audio (ddsp 3.7's default
    ``compute_loudness=True`` would silently drop the colab's loudness adjustments)."""
    preprocessor = getattr(model, "preprocessor", None)
    if preprocessor is not None and hasattr(preprocessor, "time_steps"):
        preprocessor.time_steps = n_frames
    if preprocessor is not None and hasattr(preprocessor, "compute_loudness"):
        preprocessor.compute_loudness = False
    for processor in model.processor_group.processors:
        if hasattr(processor, "n_samples"):
            processor.n_samples = n_samples


def timbre_transfer(audio: Any, sample_rate: int, model: Any, statistics: dict | None = None,
                    settings: TransferSettings = TransferSettings(),
                    features: dict | None = None) -> tuple[np.ndarray, dict]:  # fmt: skip
    """Play the performance in ``audio`` with ``model``'s instrument.

    Args:
        audio: [n_samples] mono, any sample rate.
        sample_rate: of ``audio`` [Hz].
        model: an Autoencoder with a 16 kHz processor group (``Harmonic.sample_rate``) whose
            preprocessor reads ``f0_hz`` and ``loudness_db`` at 250 frames per second.
        statistics: the model's dataset statistics (None: no adjustment).
        settings: :class:`TransferSettings`.
        features: precomputed 16 kHz / 250 Hz features of ``audio`` (``f0_hz``,
            ``f0_confidence``, ``loudness_db``, centre padding); :func:`model_features` of the
            audio zero-padded to whole frames when None.

    Returns:
        (audio [round(n_samples * 16000 / sample_rate)] float32 at 16 kHz, info: the
        adjustments made, the features used, ``frame_rate`` and ``sample_rate``).
    """
    from .data_preparation.audio import resample

    audio = np.asarray(audio, np.float64)
    if audio.ndim != 1 or audio.size == 0:
        raise ValueError(f"timbre_transfer: audio must be [n_samples] mono, got {audio.shape}")
    positive_int(sample_rate, "sample_rate", "timbre_transfer")
    audio_16k = resample(audio, int(sample_rate), FEATURE_SAMPLE_RATE)
    n_out = audio_16k.shape[0]
    hop = FEATURE_SAMPLE_RATE // 250
    n_frames = -(-n_out // hop)
    padded = np.pad(audio_16k, (0, n_frames * hop - n_out)).astype(np.float32)
    if features is None:
        features = model_features(padded)
    features = {k: np.asarray(v)[:n_frames] for k, v in features.items()}
    adjusted, info = adjust_features(features, statistics, settings)
    _configure_for(model, n_frames, n_frames * hop)
    batch = {k: v[None] for k, v in adjusted.items()}
    outputs = model(batch, training=False)
    synth = np.asarray(model.get_audio_from_outputs(outputs))[0, :n_out]
    info.update(features=adjusted, frame_rate=250, sample_rate=FEATURE_SAMPLE_RATE)
    return synth.astype(np.float32), info
