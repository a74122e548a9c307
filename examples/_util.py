"""What every example shares: its command line (``--small``, ``--out``) and writing WAVs and figures
into its output folder with one line printed per file."""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np

# The examples run from a checkout without installing: make ``import ddsp_ref`` find it.
_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

from ddsp_ref.backend import to_numpy  # noqa: E402
from ddsp_ref.io import atomic_write  # noqa: E402
from ddsp_ref.plotting import save_figure  # noqa: E402

SAMPLE_RATE = 16000


def parse_args(name: str, doc: str, add_arguments=None) -> argparse.Namespace:
    """``--small`` (alias ``--quick``: shorter audio and fewer steps, for CI) and ``--out``
    (default ``outputs/examples/<name>/``); ``add_arguments(parser)`` adds an example's own."""
    parser = argparse.ArgumentParser(
        description=doc.strip().splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--small", "--quick", action="store_true", help="a fast run for CI")
    parser.add_argument(
        "--out",
        default=os.path.join("outputs", "examples", name),
        help="folder for the WAVs and PNGs (default: %(default)s)",
    )
    if add_arguments is not None:
        add_arguments(parser)
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    return args


class Outputs:
    """Writes an example's files into one folder and says what each one shows."""

    def __init__(self, folder: str, sample_rate: int = SAMPLE_RATE):
        self.folder = folder
        self.sample_rate = sample_rate

    def path(self, name: str) -> str:
        return os.path.join(self.folder, name)

    def wav(self, name: str, audio, what: str = "", sample_rate: int | None = None) -> str:
        """Write the first example of ``audio`` ([n_samples] or [batch, n_samples]) as 16-bit
        PCM, scaled down to a peak of 0.9 only if it would clip (the colab's ``play``)."""
        import soundfile

        sample_rate = sample_rate or self.sample_rate
        audio = np.asarray(to_numpy(audio), np.float64)
        audio = audio.reshape(-1, audio.shape[-1])[0]
        peak = float(np.max(np.abs(audio))) if audio.size else 0.0
        if peak > 1.0:
            audio = audio * (0.9 / peak)
        path = self.path(name if name.endswith(".wav") else name + ".wav")
        with atomic_write(path) as f:
            soundfile.write(f, audio.astype(np.float32), sample_rate, "PCM_16", format="WAV")
        seconds = len(audio) / sample_rate
        print(f"wrote {path}: {seconds:.2f} s, peak {peak:.3f}" + (f" -- {what}" if what else ""))
        return path

    def figure(self, name: str, fig, what: str = "") -> str:
        path = self.path(name if name.endswith(".png") else name + ".png")
        save_figure(fig, path)
        print(f"wrote {path}" + (f" -- {what}" if what else ""))
        return path


def figure(n_rows: int = 1, n_cols: int = 1, figsize=(10, 4), **kwargs):
    """A matplotlib Figure (no pyplot state) and its axes."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize)
    axes = fig.subplots(n_rows, n_cols, squeeze=False, **kwargs)
    return fig, axes


def note(text: str) -> None:
    """A line for the reader: what to look at or listen for."""
    print(f"  * {text}")
