"""Resynthesis quality of a trained violin model on the held-out corpus phrase (issue 12's goal:
raw pitch accuracy >= 95 % and loudness L1 <= 3 dB on note frames).

The model resynthesizes the whole held-out phrase (the minuet, 27.6 s) from its f0 and
loudness; our pitch tracker and ``compute_loudness`` then measure the resynthesis against the
input on the note frames of the score (``notes.json``), as the main job does.

Run: python scripts/evaluate_shipped_model.py CHECKPOINT_OR_DIR [--wav OUT.wav]
"""

from __future__ import annotations

import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
from train_shipped_model import CORPUS, EVAL_FILES, build_model  # noqa: E402


def evaluate(checkpoint: str) -> dict:
    """Resynthesize the whole held-out phrase (features of the input, no adjustment) and
    measure it against the input on the score's notes (``transfer_demo.resynthesis_metrics``)."""
    from ddsp_ref.training import checkpoints
    from ddsp_ref.training.data_preparation.audio import load_audio
    from ddsp_ref.training.transfer import TransferSettings, timbre_transfer
    from ddsp_ref.training.transfer_demo import resynthesis_metrics, score_note_frames

    audio, sample_rate, _ = load_audio(os.path.join(CORPUS, EVAL_FILES[0]))
    model = build_model()
    _, params, _, _ = checkpoints.load_checkpoint(checkpoint)
    timbre_transfer(audio[:16000], sample_rate, model, settings=TransferSettings(adjust=False))
    model.set_parameters(params)  # built by the short call above
    synth, _ = timbre_transfer(audio, sample_rate, model, settings=TransferSettings(adjust=False))
    mask = score_note_frames(EVAL_FILES[0], audio.size // 64 + 1)
    return {"checkpoint": checkpoint, **resynthesis_metrics(audio, synth, mask), "synth": synth}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint")
    parser.add_argument("--wav", help="also write the resynthesis here")
    args = parser.parse_args()
    result = evaluate(args.checkpoint)
    synth = result.pop("synth")
    if args.wav:
        import soundfile

        soundfile.write(args.wav, synth, 16000)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
