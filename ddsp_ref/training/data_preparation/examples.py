"""One audio file to ddsp's training examples: resample, chunk, f0, loudness, windows, split."""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Iterator

import numpy as np

from .audio import fit_length, resample

__all__ = [
    "PrepareConfig",
    "FEATURE_KEYS",
    "feature_lengths",
    "file_chunks",
    "chunk_examples",
    "chunk_features",
    "split_of",
]

FEATURE_KEYS = ("audio", "audio_16k", "f0_hz", "f0_confidence", "loudness_db")
CREPE_SAMPLE_RATE = 16000  # f0 and loudness are computed at 16 kHz, as in ddsp


@dataclasses.dataclass(frozen=True)
class PrepareConfig:
    """ddsp's ``ddsp_prepare_tfrecord`` flags (same names, defaults and units)."""

    sample_rate: int = 16000
    frame_rate: int = 250
    example_secs: float = 4
    hop_secs: float = 1
    eval_split_fraction: float = 0.0
    chunk_secs: float = 20
    center: bool = False
    viterbi: bool = True

    @property
    def padding(self) -> str:
        return "center" if self.center else "same"


def feature_lengths(config: PrepareConfig) -> dict[str, int]:
    """Length of each feature per example: 1000 frames at the defaults (1001 centred)."""
    n_frames = int(config.example_secs * config.frame_rate) + int(config.center)
    return {
        "audio": int(config.example_secs * config.sample_rate),
        "audio_16k": int(config.example_secs * CREPE_SAMPLE_RATE),
        "f0_hz": n_frames,
        "f0_confidence": n_frames,
        "loudness_db": n_frames,
    }


def _chunks(audio: np.ndarray, chunk_size: int) -> list[np.ndarray]:
    """Non-overlapping pieces of ``chunk_size`` samples, the last zero-padded (ddsp's chunks)."""
    if chunk_size <= 0:
        return [audio]
    n_chunks = max(1, -(-audio.shape[0] // chunk_size))
    return [
        fit_length(audio[i * chunk_size : (i + 1) * chunk_size], chunk_size)
        for i in range(n_chunks)
    ]


def _windows(sequence: np.ndarray, window: int, hop: int) -> np.ndarray:
    """Sliding windows ``[n_windows, window]`` without end padding (ddsp's ``get_windows``)."""
    if sequence.shape[0] < window:
        return np.zeros((0, window), sequence.dtype)
    n_windows = (sequence.shape[0] - window) // hop + 1
    return np.stack([sequence[i * hop : i * hop + window] for i in range(n_windows)])


def split_of(content_key: str, chunk_index: int, eval_split_fraction: float) -> str:
    """'eval' or 'train' for a chunk, from a hash of the file's content and the chunk index.

    sha256 is the same on every machine and run (ddsp uses Python's ``hash``, salted per
    process unless PYTHONHASHSEED is set, so its split changes from run to run).
    """
    if eval_split_fraction <= 0:
        return "train"
    digest = hashlib.sha256(f"{content_key}:{chunk_index}".encode()).digest()
    return "eval" if int.from_bytes(digest[:8], "big") / 2.0**64 < eval_split_fraction else "train"


# Chunks per compute_f0 call: the pitch HMM steps through frames in Python, so two chunks cost
# little more than one (measured: 1.23 s per 20 s chunk in pairs, 2.3 s alone, 1.14 s in eights);
# pYIN's working memory grows with the batch (about 200 MB per 20 s chunk), so pairs it is.
_F0_BATCH = 2


def _batch_features(batch_16k: np.ndarray, config: PrepareConfig) -> list[dict]:
    """f0 (our pitch tracker) and loudness of each 16 kHz chunk ``[n_chunks, n]``, as ddsp's
    prepare_tfrecord; the chunks are rows of one batch, each computed alone."""
    from ddsp_ref.spectral_ops import compute_f0, compute_loudness

    f0_hz, f0_confidence = compute_f0(
        batch_16k,
        frame_rate=config.frame_rate,
        sample_rate=CREPE_SAMPLE_RATE,
        viterbi=config.viterbi,
        padding=config.padding,
    )
    loudness_db = compute_loudness(
        batch_16k,
        sample_rate=CREPE_SAMPLE_RATE,
        frame_rate=config.frame_rate,
        n_fft=512,
        padding=config.padding,
    )
    return [
        {
            "f0_hz": np.asarray(f0_hz[row], np.float32),
            "f0_confidence": np.asarray(f0_confidence[row], np.float32),
            "loudness_db": np.asarray(loudness_db[row], np.float32),
        }
        for row in range(batch_16k.shape[0])
    ]


def chunk_features(chunks_16k: list[np.ndarray], config: PrepareConfig) -> list[dict]:
    """f0, confidence and loudness of equally long 16 kHz chunks (of one file or several),
    ``_F0_BATCH`` chunks per call; each chunk's numbers are those of the chunk alone."""
    out = []
    for first in range(0, len(chunks_16k), _F0_BATCH):
        out.extend(_batch_features(np.stack(chunks_16k[first : first + _F0_BATCH]), config))
    return out


def file_chunks(
    audio: np.ndarray, sample_rate_in: int, config: PrepareConfig
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """A decoded file [n_samples] at ``sample_rate_in`` [Hz] resampled to ``sample_rate`` and
    to 16 kHz (``int(duration * rate)`` samples) and cut into equal float32 chunks."""
    duration = audio.shape[0] / sample_rate_in
    out = []
    for rate in (config.sample_rate, CREPE_SAMPLE_RATE):
        full = fit_length(resample(audio, sample_rate_in, rate), int(duration * rate))
        out.append(_chunks(full.astype(np.float32), int(config.chunk_secs * rate)))
    return out[0], out[1]


def chunk_examples(
    chunks: list[np.ndarray],
    chunks_16k: list[np.ndarray],
    config: PrepareConfig,
    features: list[dict] | None = None,
) -> Iterator[dict[str, np.ndarray]]:
    """The examples of each chunk in turn, ``{key: [n_windows, n]}`` (``FEATURE_KEYS``).

    f0 and loudness run on up to ``_F0_BATCH`` chunks at a time, so memory stays bounded by a
    batch of chunks, not the file's length; ``features`` passes them in when already computed
    (for short files batched together).
    """
    lengths = feature_lengths(config)
    hops = {
        "audio": int(config.hop_secs * config.sample_rate),
        "audio_16k": int(config.hop_secs * CREPE_SAMPLE_RATE),
    }
    frame_hop = int(config.hop_secs * config.frame_rate)
    for first in range(0, len(chunks), _F0_BATCH):
        if features is None:
            batch = chunk_features(chunks_16k[first : first + _F0_BATCH], config)
        else:
            batch = features[first : first + _F0_BATCH]
        for offset, feature in enumerate(batch):
            index = first + offset
            sequences = {"audio": chunks[index], "audio_16k": chunks_16k[index], **feature}
            windows = {
                k: _windows(v, lengths[k], hops.get(k, frame_hop)) for k, v in sequences.items()
            }
            n = min(w.shape[0] for w in windows.values())  # ddsp zips the per-feature windows
            yield {k: windows[k][:n] for k in FEATURE_KEYS}
