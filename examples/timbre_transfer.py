"""ddsp's timbre-transfer demo with ddsp_ref: a voice played by the shipped violin model.

The colab's recipe (``ddsp_ref.training.transfer``): features of the recording (f0, confidence,
loudness at 250 frames/s), then, with the model's dataset statistics, an octave shift towards the
violin's range, the loudness mapped through the input's and the dataset's quantiles, quieter rests;
then the model plays the features. Here three renderings of the bundled spoken sentence: the
default adjustments, the same with full auto-tune to the best-fitting major scale, and no
adjustment at all (the voice's own pitch and loudness), plus the figure the colab draws.

Run: python examples/timbre_transfer.py [--small] [--out DIR] [--model DIR]
"""

from __future__ import annotations

import os

import _util
import numpy as np

from ddsp_ref import plotting
from ddsp_ref.training.data_preparation.audio import load_audio, resample
from ddsp_ref.training.model_dir import load_model
from ddsp_ref.training.transfer import TransferSettings, timbre_transfer

SPEECH = os.path.join(_util._ROOT, "ddsp_ref", "data", "corpus", "speech_en.flac")


def main() -> None:
    args = _util.parse_args(
        "timbre_transfer", __doc__,
        lambda p: p.add_argument("--model", default=None, help="model folder (default: shipped)"),
    )  # fmt: skip
    out = _util.Outputs(args.out)
    audio, rate, _ = load_audio(SPEECH)
    if args.small:
        audio = audio[: int(1.5 * rate)]
    model, statistics = load_model(args.model, seed=0)
    speech_16k = resample(audio, rate, _util.SAMPLE_RATE)
    out.wav("input", speech_16k, "the spoken sentence, resampled to 16 kHz")
    settings = {
        "transfer": TransferSettings(),
        "transfer_autotuned": TransferSettings(autotune=1.0),
        "no_adjustment": TransferSettings(adjust=False),
    }
    results = {}
    for name, setting in settings.items():
        synth, info = timbre_transfer(audio, rate, model, statistics, setting)
        results[name] = (synth, info)
        shift = info["octaves"]
        tuning = info.get("tuning_factor")
        what = f"octave shift {shift:+d}" + (f", tuning {100 * tuning:+.0f} cents" if tuning
                                              is not None else "")  # fmt: skip
        out.wav(name, synth, what)
    synth, info = results["transfer"]
    fig = plotting.plot_transfer([(speech_16k, "input"), (synth, "transfer")], info["features"])
    out.figure("transfer", fig, "spectrograms, and the f0 and loudness the model was given")
    notes = info["n_note_frames"]
    _util.note(f"{notes} of {len(info['features']['f0_hz'])} frames were detected as notes; "
               "the others are made quieter by the 'quiet' setting (20 dB)")  # fmt: skip
    ratio = np.std(results["no_adjustment"][0]) / max(np.std(synth), 1e-12)
    _util.note(f"without adjustment the violin plays the voice's pitch, {ratio:.2f}x the level")


if __name__ == "__main__":
    main()
