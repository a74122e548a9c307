"""Decode an audio file to mono float and resample it with a band-limited polyphase filter."""

from __future__ import annotations

from fractions import Fraction

import numpy as np

__all__ = ["AudioError", "load_audio", "resample", "fit_length"]

# ddsp (pydub) scales 16-bit PCM by 1 / 32767, the int type's max, not libsndfile's 1 / 32768.
_PCM16_SCALE = 1.0 / 32767.0


class AudioError(Exception):
    """A file that cannot be used as audio; the message is the reason reported to the user."""


def load_audio(path: str) -> tuple[np.ndarray, int, dict]:
    """Decode a file (WAV, FLAC, OGG, MP3... whatever libsndfile reads) to mono float64.

    Channels are averaged (ddsp's pydub downmix). 16-bit PCM is scaled by 1/32767 as ddsp does;
    other encodings use libsndfile's float conversion (integers over 2^(bits-1), floats as is).

    Returns:
        (audio [n_samples] float64, sample_rate [Hz], {'channels', 'format', 'subtype'} of the
        file).

    Raises:
        AudioError: unreadable, not audio, empty, or containing NaN/inf samples.
    """
    import soundfile

    try:
        with soundfile.SoundFile(path) as f:
            sample_rate = int(f.samplerate)
            meta = {"channels": int(f.channels), "format": f.format, "subtype": f.subtype}
            if f.subtype == "PCM_16":
                audio = f.read(dtype="int16", always_2d=True).astype(np.float64) * _PCM16_SCALE
            else:
                audio = f.read(dtype="float64", always_2d=True)
    except (soundfile.LibsndfileError, RuntimeError, TypeError, ValueError) as e:
        raise AudioError(f"not readable as audio ({_first_line(e)})") from e
    except OSError as e:
        raise AudioError(f"cannot read file ({e.strerror or e})") from e
    if audio.shape[0] == 0:
        raise AudioError("empty (no samples)")
    audio = audio.mean(axis=1)
    if not np.all(np.isfinite(audio)):
        raise AudioError("contains NaN or infinite samples")
    return audio, sample_rate, meta


def _first_line(error: Exception) -> str:
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__


def resample(audio: np.ndarray, sample_rate_in: int, sample_rate_out: int) -> np.ndarray:
    """Band-limited resampling ``[n] -> [ceil(n * out / in)]`` by a rational factor.

    ``scipy.signal.resample_poly``: a polyphase FIR (Kaiser window, beta 5, cut-off at the lower
    Nyquist frequency) applied at the least common multiple rate. Unlike FFT resampling it does
    not assume the signal is periodic (no wrap-around at the ends), and unlike linear
    interpolation (pydub's ``audioop.ratecv``, what ddsp uses) it removes content above the new
    Nyquist frequency instead of aliasing it.
    """
    if int(sample_rate_in) == int(sample_rate_out):
        return audio
    from scipy.signal import resample_poly

    ratio = Fraction(int(sample_rate_out), int(sample_rate_in))
    return resample_poly(audio, ratio.numerator, ratio.denominator)


def fit_length(audio: np.ndarray, n_samples: int) -> np.ndarray:
    """Zero-pad or trim ``[n]`` to exactly ``n_samples``."""
    if audio.shape[0] >= n_samples:
        return audio[:n_samples]
    return np.pad(audio, (0, n_samples - audio.shape[0]))
