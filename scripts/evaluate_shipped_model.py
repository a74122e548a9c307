"""Resynthesis quality of a trained violin model on the held-out corpus phrase (issue 12's goal:
raw pitch accuracy >= 95 % and loudness L1 <= 3 dB on note frames).

For each 4 s window of the held-out phrase (``violin_twinkle``, prepared by
``train_shipped_model.py``), the model resynthesizes the audio from the window's f0 and loudness;
our pitch tracker and ``compute_loudness`` then measure the resynthesis against the input on the
note frames of the score (``notes.json``: frames inside a sounding note).

Run: python scripts/evaluate_shipped_model.py CHECKPOINT_OR_DIR [--work /tmp/violin]
"""

from __future__ import annotations

import argparse
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from train_shipped_model import CORPUS, EVAL_FILES, build_model  # noqa: E402


def note_frames(file_name: str, n_frames_total: int, frame_rate: int = 250) -> np.ndarray:
    """Frames (centre padding: frame t at t / frame_rate s) inside a note of the score."""
    with open(os.path.join(CORPUS, "notes.json")) as f:
        notes = json.load(f)[file_name]["notes"]
    t = np.arange(n_frames_total) / frame_rate
    mask = np.zeros(n_frames_total, bool)
    for onset, offset, _ in notes:
        mask |= (t >= onset + 0.05) & (t <= offset - 0.05)  # skip attacks and releases
    return mask


def evaluate(checkpoint: str, work: str) -> dict:
    """Resynthesize the whole held-out phrase (features of the input, no adjustment) and
    compare f0 (our tracker) and loudness (n_fft 2048) with the input's on the score's notes."""
    from ddsp_ref.spectral_ops import compute_f0, compute_loudness
    from ddsp_ref.training import checkpoints
    from ddsp_ref.training.data_preparation.audio import load_audio
    from ddsp_ref.training.transfer import TransferSettings, timbre_transfer

    audio, sample_rate, _ = load_audio(os.path.join(CORPUS, EVAL_FILES[0]))
    model = build_model()
    _, params, _, _ = checkpoints.load_checkpoint(checkpoint)
    timbre_transfer(audio[:16000], sample_rate, model, settings=TransferSettings(adjust=False))
    model.set_parameters(params)  # built by the short call above
    synth, _ = timbre_transfer(audio, sample_rate, model, settings=TransferSettings(adjust=False))
    f0_in, conf_in = compute_f0(audio, 250)
    f0_out, _ = compute_f0(synth.astype(np.float64), 250)
    ld_in = compute_loudness(audio, 16000, 250, n_fft=2048)
    ld_out = compute_loudness(synth, 16000, 250, n_fft=2048)
    mask = note_frames(EVAL_FILES[0], f0_in.shape[-1]) & (conf_in > 0.5)
    cents = 1200 * np.abs(np.log2(f0_out[mask] / f0_in[mask]))
    return {"checkpoint": checkpoint, "note_frames": int(mask.sum()),
            "raw_pitch_accuracy": float(np.mean(cents <= 50)),
            "median_cents": float(np.median(cents)),
            "loudness_l1_db": float(np.mean(np.abs(ld_out[mask] - ld_in[mask]))),
            "synth": synth}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint")
    parser.add_argument("--work", default="/tmp/violin")
    parser.add_argument("--wav", help="also write the resynthesis here")
    args = parser.parse_args()
    result = evaluate(args.checkpoint, args.work)
    synth = result.pop("synth")
    if args.wav:
        import soundfile

        soundfile.write(args.wav, synth, 16000)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
