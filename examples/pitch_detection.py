"""ddsp's pitch-detection demo with ddsp_ref: estimate f0 of a recording and resynthesize it.

ddsp's demo compares its DDSP-INV model with CREPE, whose weights ddsp_ref cannot ship; here
``spectral_ops.compute_f0`` (probabilistic YIN, in CREPE's frame layout) tracks the bundled
flute recording, whose notes are known (``ddsp_ref/data/corpus/notes.json``), so the estimate is
scored against the truth. As in the demo, the f0 and loudness are rendered back to audio twice: a
sinusoid (a Wavetable synth holding one sine period, scale_fn None) and a harmonic synth.

Run: python examples/pitch_detection.py [--small] [--out DIR] [--file NAME.flac]
"""

from __future__ import annotations

import json
import os

import _util
import numpy as np

from ddsp_ref import core, plotting, spectral_ops, synths

SAMPLE_RATE = 16000
FRAME_RATE = 250
HOP_SIZE = SAMPLE_RATE // FRAME_RATE
CORPUS = os.path.join(_util._ROOT, "ddsp_ref", "data", "corpus")


def load(name: str, seconds: float | None) -> tuple[np.ndarray, list]:
    import soundfile

    audio, sr = soundfile.read(os.path.join(CORPUS, name), dtype="float32")
    assert sr == SAMPLE_RATE, sr
    if seconds is not None:
        audio = audio[: int(seconds * SAMPLE_RATE)]
    with open(os.path.join(CORPUS, "notes.json")) as f:
        notes = json.load(f)[name]["notes"]
    return audio, notes


def true_f0(notes: list, n_frames: int) -> np.ndarray:
    """f0 [Hz] per frame (frame t centred on t / FRAME_RATE seconds), NaN between notes."""
    f0 = np.full(n_frames, np.nan)
    times = np.arange(n_frames) / FRAME_RATE
    for onset, offset, midi in notes:
        f0[(times >= onset) & (times < offset)] = core.midi_to_hz(float(midi))
    return f0


def score(f0_hz: np.ndarray, confidence: np.ndarray, truth: np.ndarray) -> None:
    """Raw pitch accuracy (within 50 cents on sounding frames) and voicing errors."""
    sounding = ~np.isnan(truth)
    voiced = confidence > 0.5
    cents = 1200 * np.abs(np.log2(f0_hz[sounding] / truth[sounding]))
    print(f"frames: {len(truth)} ({sounding.sum()} inside notes)")
    print(
        f"raw pitch accuracy (|error| < 50 cents, frames inside notes): {np.mean(cents < 50):.3f}"
    )
    print(f"median |error| inside notes: {np.median(cents):.1f} cents")
    print(f"voicing recall (confidence > 0.5 inside notes): {np.mean(voiced[sounding]):.3f}")
    if (~sounding).any():
        print(f"frames voiced between notes (rests, and releases ringing into the 8 % gaps): "
              f"{np.mean(voiced[~sounding]):.3f}")  # fmt: skip


def resynthesize(f0_hz, confidence, loudness_db, n_samples) -> tuple[np.ndarray, np.ndarray]:
    """A sinusoid and a harmonic tone following f0, with the recording's loudness envelope."""
    amplitude = core.db_to_amplitude(loudness_db) * (confidence > 0.5)  # silence when unvoiced
    amplitude = (0.5 * amplitude / max(amplitude.max(), 1e-9))[None, :, None]
    f0 = f0_hz[None, :, None]
    sine_table = np.sin(2 * np.pi * np.linspace(0.0, 1.0, 2048))[None]
    sine = synths.Wavetable(n_samples=n_samples, sample_rate=SAMPLE_RATE, scale_fn=None)
    sinusoid = sine(amplitude, sine_table, f0)
    harmonic = synths.Harmonic(n_samples=n_samples, sample_rate=SAMPLE_RATE, scale_fn=None)
    k = np.arange(1, 21)
    distribution = (1.0 / k**2)[None, None, :] * np.ones_like(amplitude)
    return sinusoid, harmonic(amplitude, distribution, f0)


def f0_figure(audio, f0_hz, confidence, truth):
    fig, axes = _util.figure(2, 1, figsize=(11, 7), sharex=False)
    t = np.arange(len(f0_hz)) / FRAME_RATE
    ax = axes[0, 0]
    ax.plot(t, truth, "k", lw=4, alpha=0.3, label="notes.json (truth)")
    ax.plot(t, np.where(confidence > 0.5, f0_hz, np.nan), "C1", lw=1, label="compute_f0 (voiced)")
    ax.set_yscale("log")
    ax.set_ylabel("f0 [Hz]")
    ax.legend(loc="lower right")
    axes[1, 0].plot(t, confidence)
    axes[1, 0].set_ylabel("confidence")
    axes[1, 0].set_xlabel("time [s]")
    return fig


def main() -> None:
    def extra(parser):
        parser.add_argument("--file", default="flute_frere_jacques.flac", help="corpus file")

    args = _util.parse_args("pitch_detection", __doc__, extra)
    out = _util.Outputs(args.out, SAMPLE_RATE)
    audio, notes = load(args.file, 4.0 if args.small else None)
    n_samples = (len(audio) // HOP_SIZE) * HOP_SIZE
    audio = audio[:n_samples]
    f0_hz, confidence = spectral_ops.compute_f0(audio, FRAME_RATE, padding="same")
    loudness_db = spectral_ops.compute_loudness(audio, SAMPLE_RATE, FRAME_RATE, padding="same")
    print(f"{args.file}: {n_samples / SAMPLE_RATE:.1f} s, f0 by pYIN at {FRAME_RATE} frames/s")
    truth = true_f0(notes, len(f0_hz))
    score(f0_hz, confidence, truth)

    sinusoid, harmonic = resynthesize(f0_hz, confidence, loudness_db, n_samples)
    out.wav("original", audio, args.file)
    out.wav("resynthesis_sinusoid", sinusoid, "a sine following the detected f0 and loudness")
    out.wav("resynthesis_harmonic", harmonic, "a 20-harmonic tone following the same controls")
    out.figure("f0", f0_figure(audio, f0_hz, confidence, truth), "detected f0 over the true notes")
    out.figure("original_spec", plotting.specplot(audio), "the recording")
    out.figure("resynthesis_harmonic_spec", plotting.specplot(harmonic), "the resynthesis")
    _util.note("f0.png: the orange track should sit on the grey notes; listen to the resyntheses")


if __name__ == "__main__":
    main()
