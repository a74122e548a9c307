"""The main job: turn the bundled speech recording into a violin, and check the violin model.

``python -m ddsp_ref demo`` (no download, a fresh machine):

1. loads the shipped violin model (``ddsp_ref/data/models/violin``);
2. transfers ``speech_en.flac`` (a spoken sentence, 22.05 kHz) to the violin: octave shift,
   loudness matching to the violin dataset, quiet rests;
3. resynthesizes the held-out violin phrase (``violin_minuet_in_g.flac``, never seen in training)
   from its own f0 and loudness, and measures how well the resynthesis follows it: raw pitch
   accuracy (within 50 cents) and loudness L1 [dB] on the note frames of the score;
4. writes the input, the transfer and the resynthesis as WAVs and a PNG comparing spectrograms,
   f0 and loudness, with a progress bar and the timing of each stage.
"""

from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import dataclass

import numpy as np

from ..progress import Progress

__all__ = ["DemoResult", "run_demo", "resynthesis_metrics", "score_note_frames"]

CORPUS_DIR = os.path.join(os.path.dirname(__file__), "..", "data", "corpus")
SPEECH_FILE = "speech_en.flac"
HELD_OUT_FILE = "violin_minuet_in_g.flac"  # held out of the shipped model's training
SAMPLE_RATE, FRAME_RATE = 16000, 250


@dataclass
class DemoResult:
    """What the demo wrote and measured."""

    files: dict
    raw_pitch_accuracy: float
    loudness_l1_db: float
    octaves: int
    seconds: dict


def score_note_frames(file_name: str, n_frames: int, margin_s: float = 0.05) -> np.ndarray:
    """Frames (frame t at t / 250 s) inside a note of the bundled score ``notes.json``, without
    the first and last ``margin_s`` of each note (attack and release) -> [n_frames] bool."""
    with open(os.path.join(CORPUS_DIR, "notes.json"), encoding="utf-8") as f:
        notes = json.load(f)[file_name]["notes"]
    t = np.arange(n_frames) / FRAME_RATE
    mask = np.zeros(n_frames, bool)
    for onset, offset, _ in notes:
        mask |= (t >= onset + margin_s) & (t <= offset - margin_s)
    return mask


def resynthesis_metrics(reference: np.ndarray, synth: np.ndarray, mask: np.ndarray) -> dict:
    """How closely ``synth`` follows ``reference`` (both 16 kHz, same length) on ``mask``'s
    frames, with ddsp's F0 metrics' rules: frames where the reference's pitch confidence is at
    least ``metrics.MIN_F0_CONFIDENCE`` (0.85) count; raw pitch accuracy (mir_eval's: estimate
    within 50 cents, our pitch tracker on both), median |cents|, loudness L1 [dB] (n_fft 2048)."""
    from ..spectral_ops import compute_f0, compute_loudness
    from . import metrics

    f0_ref, conf_ref = compute_f0(np.asarray(reference, np.float64), FRAME_RATE)
    f0_syn, _ = compute_f0(np.asarray(synth, np.float64), FRAME_RATE)
    n = min(f0_ref.shape[-1], mask.shape[-1])
    voiced = mask[:n] & (conf_ref[:n] >= metrics.MIN_F0_CONFIDENCE)
    ref_cent, syn_cent = metrics.hz2cents(f0_ref[:n]), metrics.hz2cents(f0_syn[:n])
    ld_ref = compute_loudness(reference, SAMPLE_RATE, FRAME_RATE, n_fft=2048)[:n]
    ld_syn = compute_loudness(synth, SAMPLE_RATE, FRAME_RATE, n_fft=2048)[:n]
    return {
        "note_frames": int(voiced.sum()),
        "raw_pitch_accuracy": metrics.raw_pitch_accuracy(voiced, ref_cent, None, syn_cent),
        "median_cents": float(np.median(np.abs(ref_cent - syn_cent)[voiced])),
        "loudness_l1_db": metrics.loudness_l1_db(ld_ref[voiced], ld_syn[voiced]),
    }


def run_demo(out_dir: str = "outputs/demo", model_dir: str | None = None,
             held_out_seconds: float | None = None, plot: bool = True,
             stream=sys.stderr) -> DemoResult:  # fmt: skip
    """Run the main job (see the module docstring); returns what it wrote and measured."""
    import soundfile

    from .data_preparation.audio import load_audio, resample
    from .model_dir import load_model
    from .transfer import TransferSettings, timbre_transfer

    os.makedirs(out_dir, exist_ok=True)
    stages = ["model", "transfer", "resynthesis", "metrics"] + (["plot"] if plot else [])
    progress = Progress(len(stages), len(stages), label="demo", unit="stages", stream=stream,
                        min_interval_s=0.0)  # fmt: skip
    seconds: dict[str, float] = {}

    def stage(name, fn, *args, **kwargs):
        start = time.perf_counter()
        result = fn(*args, **kwargs)
        seconds[name] = time.perf_counter() - start
        progress.update(1, 1.0)
        return result

    model, statistics = stage("model", load_model, model_dir)
    speech, speech_rate, _ = load_audio(os.path.join(CORPUS_DIR, SPEECH_FILE))
    transfer, info = stage("transfer", timbre_transfer, speech, speech_rate, model, statistics,
                           TransferSettings())  # fmt: skip
    violin, violin_rate, _ = load_audio(os.path.join(CORPUS_DIR, HELD_OUT_FILE))
    violin = resample(violin, violin_rate, SAMPLE_RATE)
    if held_out_seconds is not None:  # the whole phrase by default
        violin = violin[: int(held_out_seconds * SAMPLE_RATE)]
    resynth, _ = stage("resynthesis", timbre_transfer, violin, SAMPLE_RATE, model, None,
                       TransferSettings(adjust=False))  # fmt: skip
    mask = score_note_frames(HELD_OUT_FILE, violin.size // 64 + 1)
    metrics = stage("metrics", resynthesis_metrics, violin, resynth, mask)
    files = {
        "input": os.path.join(out_dir, "input_speech.wav"),
        "transfer": os.path.join(out_dir, "transfer_speech_to_violin.wav"),
        "held_out": os.path.join(out_dir, "held_out_violin.wav"),
        "resynthesis": os.path.join(out_dir, "resynthesis_violin.wav"),
    }
    soundfile.write(files["input"], resample(speech, speech_rate, SAMPLE_RATE), SAMPLE_RATE)
    soundfile.write(files["transfer"], transfer, SAMPLE_RATE)
    soundfile.write(files["held_out"], violin, SAMPLE_RATE)
    soundfile.write(files["resynthesis"], resynth, SAMPLE_RATE)
    if plot:
        files["plot"] = os.path.join(out_dir, "demo.png")
        stage("plot", plot_demo, files["plot"], resample(speech, speech_rate, SAMPLE_RATE),
              transfer, info, violin, resynth)  # fmt: skip
    progress.close()
    return DemoResult(files, metrics["raw_pitch_accuracy"], metrics["loudness_l1_db"],
                      info["octaves"], seconds)  # fmt: skip


def plot_demo(path: str, speech: np.ndarray, transfer: np.ndarray, info: dict,
              violin: np.ndarray, resynth: np.ndarray) -> None:  # fmt: skip
    """Spectrograms of the speech, its transfer, the held-out violin and its resynthesis, and
    the f0 and loudness the model was given for the transfer."""
    from ..plotting import plot_transfer

    audios = [(speech, "input: speech"), (transfer, "transfer: speech -> violin"),
              (violin, "held-out violin phrase"), (resynth, "its resynthesis")]  # fmt: skip
    plot_transfer(audios, info["features"], FRAME_RATE, path=path)


def main(args) -> int:
    """``python -m ddsp_ref demo``: run and print what was written and measured."""
    start = time.perf_counter()
    result = run_demo(args.out_dir, args.model, plot=args.plot)
    for name, path in result.files.items():
        print(f"wrote {path} ({name})")
    print(f"speech -> violin: octave shift {result.octaves:+d}")
    print(f"resynthesis of the held-out violin phrase: raw pitch accuracy "
          f"{100 * result.raw_pitch_accuracy:.1f} %, loudness L1 {result.loudness_l1_db:.2f} dB "
          f"(note frames)")  # fmt: skip
    stages = ", ".join(f"{k} {v:.1f} s" for k, v in result.seconds.items())
    print(f"done in {time.perf_counter() - start:.1f} s ({stages})")
    return 0
