"""The demo job: render a short musical phrase with a ProcessorGroup and write it as a WAV file.

Everything is generated on the machine (no download): a melody becomes frame-wise controls
(f0 with vibrato, note envelopes, a harmonic spectrum, breath noise), which a DAG of
Harmonic + FilteredNoise + Add + Reverb turns into audio.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

import numpy as np

from . import core, effects, processors, synths

# A C-major phrase: (MIDI note, duration in seconds).
MELODY = [(60, 0.4), (64, 0.4), (67, 0.4), (72, 0.8), (71, 0.2), (67, 0.2), (64, 0.4), (60, 1.2)]


@dataclass
class DemoConfig:
    sample_rate: int = 16000
    frame_rate: int = 250
    n_harmonics: int = 60
    n_noise_bands: int = 65
    reverb_seconds: float = 1.0
    seed: int = 0


def melody_controls(cfg: DemoConfig) -> dict[str, np.ndarray]:
    """Frame-wise controls ``[1, n_frames, channels]`` for MELODY (float32, already scaled)."""
    f0, amp = [], []
    for note, seconds in MELODY:
        n = int(round(seconds * cfg.frame_rate))
        t = np.arange(n) / cfg.frame_rate
        vibrato = 0.15 * np.sin(2 * np.pi * 5.5 * t) * np.clip(t / 0.3, 0, 1)  # semitones
        f0.append(core.midi_to_hz(note + vibrato))
        attack = np.clip(t / 0.03, 0, 1)
        release = np.clip((seconds - t) / 0.08, 0, 1)
        amp.append(0.6 * attack * release * np.exp(-1.5 * t))
    f0_hz = np.concatenate(f0)[None, :, None]
    amplitudes = np.concatenate(amp)[None, :, None]
    k = np.arange(1, cfg.n_harmonics + 1)
    brightness = 1.0 + 2.0 * amplitudes  # louder notes are brighter
    harmonic_distribution = (k[None, None, :] ** -brightness) * (1 + 0.5 * (k % 2))
    bands = np.linspace(0, 1, cfg.n_noise_bands)
    noise = 0.004 * amplitudes * np.exp(-3 * bands)[None, None, :]
    return {
        "f0_hz": f0_hz.astype(np.float32),
        "amplitudes": amplitudes.astype(np.float32),
        "harmonic_distribution": harmonic_distribution.astype(np.float32),
        "noise_magnitudes": noise.astype(np.float32),
    }


def room_impulse_response(cfg: DemoConfig) -> np.ndarray:
    """An exponentially decaying noise IR ``[1, n]`` (RT60 about 0.8 s)."""
    n = int(cfg.reverb_seconds * cfg.sample_rate)
    t = np.arange(n) / cfg.sample_rate
    rng = np.random.default_rng(cfg.seed)
    return (0.05 * rng.uniform(-1, 1, n) * np.exp(-t / 0.12))[None, :].astype(np.float32)


def build_group(cfg: DemoConfig, n_samples: int) -> processors.ProcessorGroup:
    harmonic = synths.Harmonic(n_samples=n_samples, sample_rate=cfg.sample_rate, scale_fn=None)
    noise = synths.FilteredNoise(
        n_samples=n_samples, scale_fn=None, seed=cfg.seed, name="filtered_noise"
    )
    dag = [
        (harmonic, ["amplitudes", "harmonic_distribution", "f0_hz"]),
        (noise, ["noise_magnitudes"]),
        (processors.Add(), ["filtered_noise/signal", "harmonic/signal"]),
        (effects.Reverb(), ["add/signal", "ir"]),
    ]
    return processors.ProcessorGroup(dag=dag)


def render(cfg: DemoConfig) -> np.ndarray:
    """Render the phrase; returns mono float32 audio ``[n_samples]``."""
    if cfg.sample_rate % cfg.frame_rate:
        raise ValueError(
            f"sample_rate ({cfg.sample_rate}) must be a multiple of the frame rate "
            f"({cfg.frame_rate} Hz), e.g. 16000, 24000 or 48000"
        )
    controls = melody_controls(cfg)
    n_frames = controls["f0_hz"].shape[1]
    n_samples = n_frames * cfg.sample_rate // cfg.frame_rate
    group = build_group(cfg, n_samples)
    controls["ir"] = room_impulse_response(cfg)
    audio = group(controls)[0]
    peak = float(np.max(np.abs(audio)))
    return (audio * (0.9 / peak if peak > 0 else 1.0)).astype(np.float32)


def plot(audio: np.ndarray, cfg: DemoConfig, path: str) -> str:
    """Save a figure of the rendered phrase: waveform, log spectrogram and the f0 the pitch
    tracker hears against the f0 the synth played (needs the ``plot`` extra)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as err:
        raise ImportError("--plot needs matplotlib: pip install 'ddsp_ref[plot]'") from err
    from . import spectral_ops

    sr, n = cfg.sample_rate, len(audio)
    t = np.arange(n) / sr
    logmag = np.asarray(spectral_ops.compute_logmag(audio[None], size=1024))[0]
    f0_heard, confidence = spectral_ops.compute_f0(audio, cfg.frame_rate, sample_rate=sr)
    f0_played = melody_controls(cfg)["f0_hz"][0, :, 0]
    fig, (ax_wave, ax_spec) = plt.subplots(
        2, 1, figsize=(10, 6), sharex=True, gridspec_kw={"height_ratios": [1, 3]}
    )
    ax_wave.plot(t, audio, lw=0.4)
    ax_wave.set_ylabel("amplitude")
    ax_wave.set_title("ddsp_ref demo: Harmonic + FilteredNoise + Reverb")
    ax_spec.imshow(
        logmag.T,
        origin="lower",
        aspect="auto",
        cmap="magma",
        extent=(0, n / sr, 0, sr / 2),
        vmin=logmag.max() - 12,
    )
    frames = np.arange(len(f0_played)) / cfg.frame_rate
    ax_spec.plot(frames, f0_played, "c", lw=1.5, label="f0 played")
    heard = np.where(confidence > 0.5, f0_heard, np.nan)
    ax_spec.plot(
        np.arange(len(heard)) / cfg.frame_rate,
        heard,
        "w--",
        lw=1,
        label="f0 heard (compute_f0, confidence > 0.5)",
    )
    ax_spec.set_ylim(0, 2500)
    ax_spec.set_xlabel("time [s]")
    ax_spec.set_ylabel("frequency [Hz]")
    ax_spec.legend(loc="upper right")
    fig.tight_layout()
    tmp = path + ".tmp.png"
    fig.savefig(tmp, dpi=100, format="png")
    plt.close(fig)
    os.replace(tmp, path)
    return path


def run(output: str, cfg: DemoConfig, plot_path: str | None = None) -> str:
    import soundfile

    start = time.perf_counter()
    audio = render(cfg)
    elapsed = time.perf_counter() - start
    folder = os.path.dirname(os.path.abspath(output))
    os.makedirs(folder, exist_ok=True)
    tmp = output + ".tmp.wav"
    soundfile.write(tmp, audio, cfg.sample_rate, subtype="PCM_16")
    os.replace(tmp, output)  # never leave a half-written WAV behind
    seconds = len(audio) / cfg.sample_rate
    print(
        f"wrote {output}: {seconds:.2f} s of audio at {cfg.sample_rate} Hz, "
        f"peak {np.max(np.abs(audio)):.2f}, rendered in {elapsed:.2f} s "
        "(Harmonic + FilteredNoise + Add + Reverb)"
    )
    if plot_path:
        print(f"wrote {plot(audio, cfg, plot_path)}: waveform, spectrogram and f0")
    return output
