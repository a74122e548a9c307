"""TensorBoard summaries of a run, optional: tensorboardX when installed, else a writer that
drops everything (same methods), so the training loop never depends on the extra.

``make_summary_writer(save_dir)`` returns one or the other; install the ``tensorboard`` extra
(``pip install 'ddsp_ref[tensorboard]'``) and point ``tensorboard --logdir`` at the save_dir.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from ..backend import to_numpy

__all__ = ["NullSummaryWriter", "TensorBoardWriter", "make_summary_writer", "tensorboard_available"]


def tensorboard_available() -> bool:
    """Whether tensorboardX can be imported."""
    try:
        import tensorboardX  # noqa: F401
    except ImportError:
        return False
    return True


class NullSummaryWriter:
    """A writer that writes nothing (tensorboardX is not installed, or summaries are off)."""

    logdir: str | None = None

    def add_scalar(self, tag: str, value: Any, step: int) -> None:
        """Drop a scalar."""

    def add_audio(self, tag: str, audio: Any, step: int, sample_rate: int = 16000) -> None:
        """Drop audio."""

    def add_image(self, tag: str, image: Any, step: int, dataformats: str = "HWC") -> None:
        """Drop an image."""

    def flush(self) -> None:
        """Nothing to flush."""

    def close(self) -> None:
        """Nothing to close."""

    def __enter__(self):
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class TensorBoardWriter(NullSummaryWriter):
    """Event files in ``logdir`` through tensorboardX (numpy or cupy values accepted).

    Args:
        logdir: folder of the ``events.out.tfevents.*`` files (created if needed).
    """

    def __init__(self, logdir: str | os.PathLike):
        from tensorboardX import SummaryWriter

        self.logdir = os.fspath(logdir)
        # tensorboardX names the file by the second and the host: a unique suffix keeps two
        # writers opened in the same second (an eval then a sample run) from clobbering.
        import uuid

        self._writer = SummaryWriter(logdir=self.logdir, filename_suffix=f".{uuid.uuid4().hex[:8]}")

    def add_scalar(self, tag: str, value: Any, step: int) -> None:
        """One scalar (a float, or a 0-d / size-1 array) at ``step``."""
        self._writer.add_scalar(tag, float(np.asarray(to_numpy(value)).reshape(())), int(step))

    def add_audio(self, tag: str, audio: Any, step: int, sample_rate: int = 16000) -> None:
        """Audio ``[n_samples]`` or ``[batch, n_samples]`` (one clip per example, tagged
        ``tag/<i>``), float in [-1, 1]."""
        audio = np.asarray(to_numpy(audio), np.float32)
        if audio.ndim not in (1, 2):
            raise ValueError(
                f"add_audio: audio must be [n_samples] or [batch, n_samples], got {audio.shape}"
            )
        clips = (
            [(tag, audio)] if audio.ndim == 1 else [(f"{tag}/{i}", a) for i, a in enumerate(audio)]
        )
        for name, clip in clips:
            clip = np.clip(clip, -1.0, 1.0)
            self._writer.add_audio(name, clip, int(step), sample_rate=int(sample_rate))

    def add_image(self, tag: str, image: Any, step: int, dataformats: str = "HWC") -> None:
        """An image ``[height, width]`` or ``[height, width, 3 or 4]``: uint8, or float in
        [0, 1]. ``dataformats`` (tensorboardX's argument) must be 'HWC' (or 'HW')."""
        if dataformats not in ("HWC", "HW"):
            raise ValueError(f"add_image: dataformats must be 'HWC' or 'HW', got {dataformats!r}")
        image = np.asarray(to_numpy(image))
        if image.ndim == 2:
            image = image[:, :, None]
        if image.ndim != 3 or image.shape[2] not in (1, 3, 4):
            raise ValueError(f"add_image: image must be [H, W] or [H, W, 1|3|4], got {image.shape}")
        self._writer.add_image(tag, image, int(step), dataformats="HWC")

    def flush(self) -> None:
        self._writer.flush()

    def close(self) -> None:
        self._writer.close()


def make_summary_writer(save_dir: str | os.PathLike | None,
                        enabled: bool = True) -> NullSummaryWriter:  # fmt: skip
    """A :class:`TensorBoardWriter` on ``save_dir`` when tensorboardX is installed (and
    ``enabled`` and ``save_dir`` given), else a :class:`NullSummaryWriter`."""
    if not enabled or not save_dir or not tensorboard_available():
        return NullSummaryWriter()
    return TensorBoardWriter(save_dir)
