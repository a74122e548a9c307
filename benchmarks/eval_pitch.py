"""Accuracy and speed of ``ddsp_ref.pitch.compute_f0`` (pYIN) on synthetic, spoken and synth audio.

Run: ``python -m benchmarks.eval_pitch [--quick]``.

Metrics, over frames (frame t centred on sample t * hop, 'center' padding):
- RPA: raw pitch accuracy, |f0 error| < 50 cents on frames voiced in the ground truth (f0 is
  scored on every such frame, whatever the voicing decision).
- octave: share of those frames off by a whole number of octaves (within 50 cents of +-1200 k).
- recall: confidence > 0.5 on ground-truth voiced frames.
- FA: voicing false alarms, confidence > 0.5 on ground-truth unvoiced frames.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import tempfile
import time

import numpy as np

from benchmarks.timing import median_ms, print_table
from ddsp_ref import core
from ddsp_ref.pitch import compute_f0

SR = 16000
FRAME_RATE = 250
CONTROL_HOP = 16  # synthesis controls every 1 ms: linear upsampling makes f0 exact there


# ------------------------------------------------------------------------------------------------
# scoring


def cents_error(est_hz: np.ndarray, ref_hz: np.ndarray) -> np.ndarray:
    return 1200.0 * np.log2(np.maximum(est_hz, 1e-3) / np.maximum(ref_hz, 1e-3))


def score(f0, conf, ref_hz, voiced, unvoiced) -> dict:
    """Metrics of one or many tracks (flattened) against a reference and its voicing masks."""
    err = cents_error(f0[voiced], ref_hz[voiced])
    octaves = np.round(err / 1200.0)
    return {
        "rpa": float(np.mean(np.abs(err) < 50)) if err.size else np.nan,
        "octave": float(np.mean((octaves != 0) & (np.abs(err - 1200 * octaves) < 50)))
        if err.size
        else np.nan,
        "recall": float(np.mean(conf[voiced] > 0.5)) if err.size else np.nan,
        "fa": float(np.mean(conf[unvoiced] > 0.5)) if unvoiced.any() else np.nan,
        "median_abs_cents": float(np.median(np.abs(err))) if err.size else np.nan,
        "n_voiced": int(voiced.sum()),
        "n_unvoiced": int(unvoiced.sum()),
    }


def frame_truth(f0_samples, amp_samples, n_frames, hop, frame_size):
    """Ground truth per analysis frame from per-sample f0 and amplitude envelopes.

    Voiced: amplitude at the frame centre above 10 % of the peak. Unvoiced: no signal anywhere in
    the frame's span (frames in between, around onsets and releases, are not scored).
    """
    centres = np.arange(n_frames) * hop
    idx = np.clip(centres, 0, len(f0_samples) - 1)
    ref = f0_samples[idx]
    voiced = (amp_samples[idx] > 0.1 * amp_samples.max()) & (centres < len(f0_samples))
    sounding = np.concatenate([[0], np.cumsum(amp_samples > 0)])
    lo = np.clip(centres - frame_size // 2, 0, len(f0_samples))
    hi = np.clip(centres + frame_size // 2, 0, len(f0_samples))
    unvoiced = sounding[hi] == sounding[lo]
    return ref, voiced, unvoiced


# ------------------------------------------------------------------------------------------------
# (a) harmonic tones rendered with ddsp_ref.core.harmonic_synthesis


def render(f0_ctrl, amp_ctrl, dist, sample_rate=SR):
    """Audio from controls every CONTROL_HOP samples: f0 [n_ctrl], amp [n_ctrl], dist [H]."""
    n_ctrl = len(f0_ctrl)
    n_samples = (n_ctrl - 1) * CONTROL_HOP + CONTROL_HOP
    harm = np.broadcast_to(dist, (1, n_ctrl, len(dist))).astype(np.float64)
    audio = core.harmonic_synthesis(
        f0_ctrl[None, :, None].astype(np.float64),
        amp_ctrl[None, :, None].astype(np.float64),
        harmonic_distribution=harm,
        n_samples=n_samples,
        sample_rate=sample_rate,
        amp_resample_method="linear",
    )[0]
    # Per-sample truth, exactly as the synthesiser interpolates its controls.
    pos = np.arange(n_samples) / CONTROL_HOP
    f0_s = np.interp(pos, np.arange(n_ctrl), f0_ctrl)
    amp_s = np.interp(pos, np.arange(n_ctrl), amp_ctrl)
    return audio, f0_s, amp_s


def note_envelope(n_ctrl, rng, ctrl_rate):
    """Notes of 0.4-1 s separated by silent gaps of 0.1-0.3 s, 20 ms linear attack and release."""
    amp = np.zeros(n_ctrl)
    t = int(0.1 * ctrl_rate)
    while t < n_ctrl:
        length = int(rng.uniform(0.4, 1.0) * ctrl_rate)
        ramp = int(0.02 * ctrl_rate)
        seg = np.ones(length)
        seg[:ramp] = np.linspace(0, 1, ramp)
        seg[-ramp:] = np.linspace(1, 0, ramp)
        amp[t : t + length] = seg[: n_ctrl - t]
        t += length + int(rng.uniform(0.1, 0.3) * ctrl_rate)
    return amp


def synthetic_set(lo_hz, hi_hz, seed, seconds=3.0):
    """One tone track: random note pitches in [lo, hi], 5-7 Hz vibrato of +-30-80 cents."""
    rng = np.random.default_rng(seed)
    ctrl_rate = SR / CONTROL_HOP
    n_ctrl = int(seconds * ctrl_rate)
    amp = note_envelope(n_ctrl, rng, ctrl_rate)
    onsets = np.flatnonzero(np.diff((amp > 0).astype(int)) == 1)
    base = np.full(n_ctrl, np.exp(rng.uniform(np.log(lo_hz), np.log(hi_hz))))
    for onset in onsets:
        base[onset:] = np.exp(rng.uniform(np.log(lo_hz), np.log(hi_hz)))
    t = np.arange(n_ctrl) / ctrl_rate
    vibrato = rng.uniform(30, 80) * np.sin(2 * np.pi * rng.uniform(5, 7) * t)
    f0 = base * 2 ** (vibrato / 1200)
    n_harm = 30
    dist = rng.uniform(0.3, 1.0, n_harm) / np.arange(1, n_harm + 1) ** rng.uniform(0.7, 1.5)
    return render(f0, amp, dist)


def add_noise(audio, amp_s, snr_db, rng):
    if snr_db is None:
        return audio
    active = amp_s > 0.1 * amp_s.max()
    noise_rms = np.sqrt(np.mean(audio[active] ** 2)) / 10 ** (snr_db / 20)
    return audio + rng.normal(0, noise_rms, audio.shape)


def evaluate_tracks(tracks, sample_rate=SR, frame_rate=FRAME_RATE):
    """Run compute_f0 on each (audio, f0 per sample, amp per sample); pooled metrics."""
    hop = sample_rate // frame_rate
    frame = 2 * round(512 * sample_rate / 16000)
    cols = {k: [] for k in ("f0", "conf", "ref", "voiced", "unvoiced")}
    for audio, f0_s, amp_s in tracks:
        f0, conf = compute_f0(audio.astype(np.float32), frame_rate, sample_rate=sample_rate)
        ref, voiced, unvoiced = frame_truth(f0_s, amp_s, len(f0), hop, frame)
        for key, val in zip(cols, (f0, conf, ref, voiced, unvoiced), strict=True):
            cols[key].append(val)
    return score(*(np.concatenate(cols[k]) for k in cols))


def section_synthetic(quick):
    ranges = [
        ("50-120 Hz", 50, 120),
        ("120-400 Hz", 120, 400),
        ("400-1000 Hz", 400, 1000),
        ("1000-1800 Hz", 1000, 1800),
    ]
    snrs = [None, 30, 20, 10, 5, 0]
    n_tracks = 2 if quick else 5
    rows = []
    for name, lo, hi in ranges:
        clean = [synthetic_set(lo, hi, seed) for seed in range(n_tracks)]
        for snr in snrs:
            rng = np.random.default_rng(1000 + (snr or 99))
            tracks = [(add_noise(a, amp, snr, rng), f, amp) for a, f, amp in clean]
            rows.append(
                metric_row(
                    f"{name}, SNR {'clean' if snr is None else f'{snr} dB'}",
                    evaluate_tracks(tracks),
                )
            )
    return rows


def metric_row(name, m):
    def pct(x):
        return "n/a" if np.isnan(x) else f"{100 * x:.1f}"

    return (
        name,
        pct(m["rpa"]),
        pct(m["octave"]),
        pct(m["recall"]),
        pct(m["fa"]),
        f"{m['median_abs_cents']:.1f}",
        m["n_voiced"],
        m["n_unvoiced"],
    )


HEADER = ("case", "RPA %", "octave %", "recall %", "FA %", "med |c|", "voiced", "unvoiced")


# ------------------------------------------------------------------------------------------------
# (b) speech from espeak-ng, against an independent NCCF reference


def espeak_wav(text, voice, pitch, speed, path):
    subprocess.run(
        ["espeak-ng", "-v", voice, "-p", str(pitch), "-s", str(speed), "-w", path, text],
        check=True,
        capture_output=True,
    )
    from scipy.io import wavfile

    sr, audio = wavfile.read(path)
    return sr, audio.astype(np.float64) / 32768.0


def nccf_reference(audio, sr, hop, n_frames, fmin=50.0, fmax=600.0, win_s=0.04):
    """Independent f0 reference: normalised cross-correlation (as in RAPT / Praat's cc method).

    For each frame centre c and lag tau, the correlation of two 40 ms windows centred on
    c - tau/2 and c + tau/2 (each normalised by its own energy), so every lag is centred on the
    frame; the shortest-lag local peak within 3 % of the best one; parabolic interpolation.
    Frames are audible when their peak amplitude exceeds 0.03 of the signal's (Praat's silence
    threshold); audible frames are voiced when the NCCF peak exceeds 0.7 (Praat's 0.45 lets
    fricatives through), else unvoiced. Quiet frames are in neither set: pitch confidence is
    scale-invariant like CREPE's, so a quiet periodic tail is voiced to it.
    """
    win = int(win_s * sr)
    lo, hi = int(sr / fmax), int(np.ceil(sr / fmin))
    lags = np.arange(lo - 1, hi + 2)
    margin = win + hi + 2
    x = np.pad(audio, (margin, margin))
    j = np.arange(win) - win // 2
    f0, peak, amp = np.zeros(n_frames), np.zeros(n_frames), np.zeros(n_frames)
    for t in range(n_frames):
        c = t * hop + margin
        first = x[c - lags[:, None] // 2 + j]  # [lags, win]
        second = x[c - lags[:, None] // 2 + lags[:, None] + j]
        num = np.sum(first * second, axis=1)
        den = np.sqrt(np.sum(first**2, axis=1) * np.sum(second**2, axis=1))
        nccf = num / np.maximum(den, 1e-20)
        amp[t] = np.abs(x[c + j]).max()
        y = nccf[1:-1]
        is_peak = (y >= nccf[:-2]) & (y > nccf[2:])
        if not is_peak.any() or y[is_peak].max() <= 0:
            continue
        k = np.flatnonzero(is_peak & (y >= 0.97 * y[is_peak].max()))[0] + 1
        y0, y1, y2 = nccf[k - 1], nccf[k], nccf[k + 1]
        den2 = y0 - 2 * y1 + y2
        shift = 0.5 * (y0 - y2) / den2 if den2 < 0 else 0.0
        f0[t] = sr / (lags[k] + np.clip(shift, -1, 1))
        peak[t] = y1
    audible = amp > 0.03 * np.abs(audio).max()
    voiced = (peak > 0.7) & audible
    return np.where(f0 > 0, f0, 1.0), voiced, audible & ~voiced


def section_speech(quick):
    if shutil.which("espeak-ng") is None:
        print("\n(b) espeak-ng not installed: apt-get install -y espeak-ng")
        return []
    texts = [
        "The quick brown fox jumps over the lazy dog while the band plays on.",
        "Pitch estimation finds the fundamental frequency of every frame of a voice.",
        "Do you hear the rising melody, or is it falling slowly towards the end?",
    ]
    voices = [("en", 40), ("en+f3", 60), ("en-us+m3", 30), ("en+f2", 80)]
    if quick:
        texts, voices = texts[:1], voices[:2]
    rows, pooled = [], {k: [] for k in ("f0", "conf", "ref", "voiced", "unvoiced")}
    with tempfile.TemporaryDirectory() as tmp:
        for voice, pitch in voices:
            parts = {k: [] for k in pooled}
            for i, text in enumerate(texts):
                sr, audio = espeak_wav(text, voice, pitch, 150, os.path.join(tmp, f"{i}.wav"))
                frame_rate = 100
                f0, conf = compute_f0(audio.astype(np.float32), frame_rate, sample_rate=sr)
                ref, voiced, unvoiced = nccf_reference(audio, sr, sr // frame_rate, len(f0))
                for key, val in zip(parts, (f0, conf, ref, voiced, unvoiced), strict=True):
                    parts[key].append(val)
                    pooled[key].append(val)
            m = score(*(np.concatenate(parts[k]) for k in parts))
            rows.append(metric_row(f"espeak-ng {voice} -p {pitch} ({sr} Hz)", m))
    rows.append(
        metric_row("espeak-ng, all voices", score(*(np.concatenate(pooled[k]) for k in pooled)))
    )
    return rows


# ------------------------------------------------------------------------------------------------
# (c) a rendered instrument: Harmonic + FilteredNoise synths playing a melody


def melody_track(sample_rate, seed=0, reverb=False):
    from ddsp_ref import synths

    rng = np.random.default_rng(seed)
    ctrl_rate = sample_rate / CONTROL_HOP
    notes = [60, 62, 64, 65, 67, 69, 71, 72, 67, 64, 60, 55, 57, 59, 60, 48, 84, 72]
    durations = rng.choice([0.15, 0.25, 0.4, 0.6], size=len(notes))
    f0, amp = [], []
    for midi, dur in zip(notes, durations, strict=True):
        n = int(dur * ctrl_rate)
        t = np.arange(n) / ctrl_rate
        vib = 25 * np.sin(2 * np.pi * 5.5 * t) * np.clip(t / 0.2, 0, 1)  # delayed vibrato
        f0.append(440 * 2 ** ((midi - 69 + vib / 100) / 12))
        env = np.minimum(1.0, np.minimum(t / 0.015, (dur - t) / 0.03))
        legato = rng.random() < 0.6
        amp.append(np.clip(env if not legato else np.minimum(1.0, t / 0.015), 0, 1))
        if not legato:  # a short breath between detached notes
            gap = int(0.08 * ctrl_rate)
            f0.append(np.full(gap, f0[-1][-1]))
            amp.append(np.zeros(gap))
    f0, amp = np.concatenate(f0), np.concatenate(amp) * 0.5
    n_ctrl = len(f0)
    n_samples = n_ctrl * CONTROL_HOP
    n_harm = 40
    dist = (1.0 / np.arange(1, n_harm + 1) ** 1.2) * np.where(np.arange(n_harm) % 2, 0.4, 1.0)
    harmonic = synths.Harmonic(
        n_samples=n_samples, sample_rate=sample_rate, scale_fn=None, amp_resample_method="linear"
    )
    audio = harmonic(
        amp[None, :, None], np.broadcast_to(dist, (1, n_ctrl, n_harm)).copy(), f0[None, :, None]
    )
    noise = synths.FilteredNoise(n_samples=n_samples, scale_fn=None, window_size=0, seed=seed)
    mags = np.broadcast_to(np.linspace(0.02, 0.002, 33), (1, n_ctrl, 33)) * amp[None, :, None]
    audio = audio + noise(mags)
    audio = np.asarray(audio)[0]
    if reverb:
        ir_len = int(0.6 * sample_rate)
        ir = rng.normal(size=ir_len) * np.exp(-np.arange(ir_len) / (0.12 * sample_rate)) * 0.03
        audio = audio + np.convolve(audio, ir)[: len(audio)]
    pos = np.arange(n_samples) / CONTROL_HOP
    grid = np.arange(n_ctrl)
    return audio, np.interp(pos, grid, f0), np.interp(pos, grid, amp)


def section_instrument():
    rows = []
    for sr in (16000, 44100):
        for reverb in (False, True):
            tracks = [melody_track(sr, seed, reverb) for seed in range(2)]
            m = evaluate_tracks(tracks, sample_rate=sr)
            if reverb:  # the pitched reverb tail fills the gaps: no unvoiced truth there
                m["fa"] = np.nan
            rows.append(metric_row(f"melody {sr} Hz{' + reverb' if reverb else ''}", m))
    return rows


# ------------------------------------------------------------------------------------------------
# speed


def section_speed(quick):
    rng = np.random.default_rng(0)
    rows = []
    for batch in (1, 8):
        audio = rng.normal(size=(batch, 4 * SR)).astype(np.float32)
        audio += np.sin(2 * np.pi * 220 * np.arange(4 * SR) / SR).astype(np.float32)
        for viterbi in (True, False):
            n_frames = compute_f0(audio, FRAME_RATE, viterbi=viterbi, sample_rate=SR)[0].size
            ms = median_ms(
                lambda a=audio, v=viterbi: compute_f0(a, FRAME_RATE, viterbi=v, sample_rate=SR),
                repeats=3 if quick else 5,
            )
            rows.append(
                (
                    f"batch {batch} x 4 s, viterbi={viterbi}",
                    f"{ms:.0f}",
                    n_frames,
                    f"{n_frames / ms * 1e3:.0f}",
                )
            )
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer tracks and voices")
    args = parser.parse_args()
    start = time.perf_counter()
    print(__doc__.split("\n\n", 2)[2].strip())
    print_table(
        "(a) Harmonic tones (core.harmonic_synthesis, 30 harmonics, 5-7 Hz vibrato of "
        "+-30-80 cents, silent gaps; white noise at the given SNR), 16 kHz, 250 frames/s",
        section_synthetic(args.quick),
        HEADER,
    )
    speech = section_speech(args.quick)
    if speech:
        print_table(
            "(b) Speech (espeak-ng, 100 frames/s). Reference: an independent NCCF "
            "tracker (numpy, lag-centred 40 ms windows, shortest lag within 3 % of the best "
            "peak; audible frames (peak amplitude > 0.03 of the maximum) are voiced when the "
            "NCCF peak > 0.7, else unvoiced; quiet frames are not scored) -- agreement with "
            "that reference, not ground truth; recall/FA measure agreement with its voicing",
            speech,
            HEADER,
        )
    print_table(
        "(c) Instrument: synths.Harmonic (40 harmonics, weak even ones) + breath "
        "FilteredNoise playing a melody C3-C6 with delayed vibrato, legato and detached "
        "notes; optional synthetic reverb (0.6 s); 250 frames/s",
        section_instrument(),
        HEADER,
    )
    print_table(
        "Speed (numpy, this machine)",
        section_speed(args.quick),
        ("input", "median ms", "frames", "frames/s"),
    )
    print(f"\ntotal {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
