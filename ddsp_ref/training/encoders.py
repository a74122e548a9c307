"""ddsp's ``training.encoders``: the ZEncoder base, MfccTimeDistributedRnnEncoder (audio -> z)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .. import core
from ..autodiff import ops
from ..gin_support import register
from ..module import Module
from ..spectral_ops import compute_mfcc
from ..validation import positive_int
from .nn import Dense, DictLayer, Normalize, Rnn
from .nn.dict_layer import _call_signature
from .nn.initializers import child_seed, make_rng

__all__ = ["ZEncoder", "MfccTimeDistributedRnnEncoder", "Z_AUDIO_SPEC"]

# z_time_steps -> (fft_size, overlap) of the MFCCs (4 s of 16 kHz audio, pad_end framing).
Z_AUDIO_SPEC = {
    63: (2048, 0.5),
    125: (1024, 0.5),
    250: (1024, 0.75),
    500: (512, 0.75),
    1000: (256, 0.75),
}


class ZEncoder(DictLayer):
    """ddsp's ``ZEncoder``: subclasses define ``compute_z(self, ...)``; the output is ``{'z'}``.

    The input keys are ``compute_z``'s argument names (or ``input_keys``) **plus
    'f0_scaled'**, read only for its number of frames: ``z`` is brought to that many frames
    by :meth:`expand_z`.
    """

    def __init__(self, input_keys: Sequence[str] | None = None, name: str | None = None):
        input_keys = list(input_keys or _call_signature(self.compute_z)[0])
        super().__init__(input_keys, output_keys=["z"], name=name)
        self.input_keys.append("f0_scaled")  # only its number of frames is used

    def call(self, *args: Any, **unused_kwargs: Any) -> Any:
        """``compute_z(*args[:-1])`` expanded to the frames of the last input (f0_scaled)."""
        time_steps = int(args[-1].shape[1])
        return self.expand_z(self.compute_z(*args[:-1]), time_steps)

    def expand_z(self, z: Any, time_steps: int) -> Any:
        """``z [batch, c]`` or ``[batch, n, c]`` -> ``[batch, time_steps, c]``.

        A 2-D ``z`` gets a time axis of one step; a ``z`` with another number of steps is
        resampled with ``core.resample`` (linear: TF1's legacy bilinear resize, without half-
        pixel centres; one step is repeated).
        """
        if len(z.shape) == 2:
            z = ops.expand_dims(z, 1)
        if int(z.shape[1]) != time_steps:
            z = core.resample(z, time_steps)
        return z

    def compute_z(self, *inputs: Any) -> Any:
        raise TypeError(f"{type(self).__name__} must define compute_z()")


class MfccTimeDistributedRnnEncoder(ZEncoder):
    """ddsp's ``MfccTimeDistributedRnnEncoder``: MFCCs -> instance Normalize -> RNN -> Dense.

    ``compute_mfcc(audio, lo_hz=20, hi_hz=8000, fft_size, mel_bins=128, mfcc_bins=30,
    overlap, pad_end=True)`` with ``(fft_size, overlap)`` from ``z_time_steps`` (see
    :data:`Z_AUDIO_SPEC`: 4 s at 16 kHz give that many frames), ``Normalize('instance')``
    (each coefficient over time), ``Rnn(rnn_channels, rnn_type)``, ``Dense(z_dims)``, then
    :meth:`~ZEncoder.expand_z` to the frames of ``f0_scaled``.

    Children: ``z_norm``, ``rnn``, ``dense_out``.

    Call (features with ``audio [batch, n_samples]`` at 16 kHz and ``f0_scaled [batch,
    n_frames, 1]``) -> ``{'z': [batch, n_frames, z_dims]}``.

    Raises:
        ValueError: ``z_time_steps`` not in 63, 125, 250, 500, 1000.
    """

    def __init__(self, rnn_channels: int = 512, rnn_type: str = "gru", z_dims: int = 32,
                 z_time_steps: int = 250, input_keys: Sequence[str] | None = None,
                 seed: Any = None, name: str | None = None):  # fmt: skip
        super().__init__(input_keys, name=name)
        if z_time_steps not in Z_AUDIO_SPEC:
            raise ValueError(
                "MfccTimeDistributedRnnEncoder: z_time_steps must be one of "
                f"{sorted(Z_AUDIO_SPEC)}, got {z_time_steps!r}"
            )
        self.z_time_steps = int(z_time_steps)
        self.fft_size, self.overlap = Z_AUDIO_SPEC[self.z_time_steps]
        rng = make_rng(seed)
        self.z_norm = Normalize("instance", name="z_norm")
        self.rnn = Rnn(positive_int(rnn_channels, "rnn_channels", "MfccTimeDistributedRnnEncoder"),
                       rnn_type, seed=child_seed(rng), name="rnn")  # fmt: skip
        self.dense_out = Dense(z_dims, seed=child_seed(rng), name="dense_out")  # lazy

    def children(self) -> dict[str, Module]:
        return {"z_norm": self.z_norm, "rnn": self.rnn, "dense_out": self.dense_out}

    def compute_z(self, audio: Any) -> Any:
        """``audio [batch, n_samples]`` -> ``z [batch, n_mfcc_frames, z_dims]``."""
        mfccs = compute_mfcc(audio, lo_hz=20.0, hi_hz=8000.0, fft_size=self.fft_size,
                             mel_bins=128, mfcc_bins=30, overlap=self.overlap,
                             pad_end=True)  # fmt: skip
        return self.dense_out(self.rnn(self.z_norm(mfccs)))


# ddsp's gin names: @encoders.MfccTimeDistributedRnnEncoder().
for _cls in (MfccTimeDistributedRnnEncoder,):
    register(_cls, module="ddsp_ref.training.encoders")
del _cls
