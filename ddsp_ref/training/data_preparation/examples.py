"""One audio file to ddsp's training examples: resample, chunk, f0, loudness, split, windows."""

from __future__ import annotations

import dataclasses
import hashlib

import numpy as np

from .audio import fit_length, resample

__all__ = ["PrepareConfig", "FEATURE_KEYS", "feature_lengths", "file_to_examples"]

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


# Chunks per compute_f0 call: the pitch HMM steps through frames in Python, so a batch of chunks
# costs little more than one (measured: 2 chunks of 20 s in 1.1x the time of one).
_F0_BATCH = 8


def _chunk_features(chunks_16k: list[np.ndarray], config: PrepareConfig) -> list[dict]:
    """f0 (our pitch tracker) and loudness of each 16 kHz chunk, as ddsp's prepare_tfrecord.

    Chunks are equally long and computed as rows of one batch (each row alone, as ddsp does).
    """
    from ddsp_ref.spectral_ops import compute_f0, compute_loudness

    out = []
    for first in range(0, len(chunks_16k), _F0_BATCH):
        batch = np.stack(chunks_16k[first : first + _F0_BATCH])
        f0_hz, f0_confidence = compute_f0(
            batch,
            frame_rate=config.frame_rate,
            sample_rate=CREPE_SAMPLE_RATE,
            viterbi=config.viterbi,
            padding=config.padding,
        )
        loudness_db = compute_loudness(
            batch,
            sample_rate=CREPE_SAMPLE_RATE,
            frame_rate=config.frame_rate,
            n_fft=512,
            padding=config.padding,
        )
        for row in range(batch.shape[0]):
            out.append(
                {
                    "f0_hz": np.asarray(f0_hz[row], np.float32),
                    "f0_confidence": np.asarray(f0_confidence[row], np.float32),
                    "loudness_db": np.asarray(loudness_db[row], np.float32),
                }
            )
    return out


def file_to_examples(
    audio: np.ndarray, sample_rate_in: int, config: PrepareConfig, content_key: str
) -> dict[str, dict[str, np.ndarray]]:
    """Examples of one decoded file, by split.

    Args:
        audio: mono audio [n_samples] at ``sample_rate_in`` [Hz], float.
        sample_rate_in: the file's sample rate [Hz].
        config: preparation flags.
        content_key: the file's content hash (keys the train/eval split).

    Returns:
        {'train': {key: [n_examples, n]}, 'eval': {...}}, float32, keys ``FEATURE_KEYS``.
    """
    duration = audio.shape[0] / sample_rate_in
    full = fit_length(
        resample(audio, sample_rate_in, config.sample_rate), int(duration * config.sample_rate)
    )
    full_16k = fit_length(
        resample(audio, sample_rate_in, CREPE_SAMPLE_RATE), int(duration * CREPE_SAMPLE_RATE)
    )
    lengths = feature_lengths(config)
    hops = {
        "audio": int(config.hop_secs * config.sample_rate),
        "audio_16k": int(config.hop_secs * CREPE_SAMPLE_RATE),
    }
    frame_hop = int(config.hop_secs * config.frame_rate)
    chunks = _chunks(full.astype(np.float32), int(config.chunk_secs * config.sample_rate))
    chunks_16k = _chunks(full_16k.astype(np.float32), int(config.chunk_secs * CREPE_SAMPLE_RATE))
    out: dict[str, dict[str, list]] = {s: {k: [] for k in FEATURE_KEYS} for s in ("train", "eval")}
    features = _chunk_features(chunks_16k, config)
    for index, (chunk, chunk_16k) in enumerate(zip(chunks, chunks_16k)):
        sequences = {"audio": chunk, "audio_16k": chunk_16k, **features[index]}
        windows = {k: _windows(v, lengths[k], hops.get(k, frame_hop)) for k, v in sequences.items()}
        n = min(w.shape[0] for w in windows.values())  # ddsp zips the per-feature windows
        split = split_of(content_key, index, config.eval_split_fraction)
        for k in FEATURE_KEYS:
            out[split][k].append(windows[k][:n])
    return {
        split: {
            k: np.concatenate(v) if v else np.zeros((0, lengths[k]), np.float32)
            for k, v in features.items()
        }
        for split, features in out.items()
    }
