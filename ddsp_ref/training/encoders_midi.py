"""ddsp's MIDI encoders (``training.encoders``): MidiEncoder and HarmonicToMidiEncoder.

Both map frame-wise controls to an unquantised MIDI pitch ``z_pitch`` and a velocity
``z_vel``: the inputs are concatenated on the last axis, run through ``net``, a layer
:class:`~ddsp_ref.training.nn.Normalize` and a linear ``Dense(2)``; channel 0 is ``z_pitch``
(plus ``f0_midi`` with ``f0_residual``), channel 1 is ``z_vel``.
"""

from __future__ import annotations

from typing import Any

from ..autodiff import ops
from ..core.utils import to_float
from ..gin_support import register
from ..module import Module
from ..validation import check_rank
from .nn import Dense, DictLayer, Normalize
from .nn.initializers import child_seed, make_rng

__all__ = ["MidiEncoder", "HarmonicToMidiEncoder", "frames", "check_net"]


def check_net(net: Any, where: str) -> Any:
    """ddsp calls ``net`` unconditionally (a None net fails at the first call); fail early."""
    if net is None or not callable(net):
        raise TypeError(f"{where}: net must be a layer (e.g. nn.DilatedConvStack), got {net!r}")
    return net


def frames(x: Any, name: str, where: str) -> Any:
    """A ``[batch, n_frames, channels]`` float input (float64 stays float64)."""
    x = to_float(x, name, where)
    check_rank(x, 3, name, where, "[batch, n_frames, channels]")
    return x


class _ToMidi(DictLayer):
    """Shared body of the two encoders: concat -> net -> Normalize -> Dense(2) -> split."""

    def __init__(self, net: Any = None, f0_residual: bool = True, seed: Any = None,
                 name: str | None = None):  # fmt: skip
        super().__init__(output_keys=["z_pitch", "z_vel"], name=name)
        self.net = check_net(net, type(self).__name__)
        self.f0_residual = bool(f0_residual)
        self.norm = Normalize("layer", name="norm")
        self.dense_out = Dense(2, seed=child_seed(make_rng(seed)), name="dense_out")

    def children(self) -> dict[str, Module]:
        out = {"net": self.net} if isinstance(self.net, Module) else {}
        out.update(norm=self.norm, dense_out=self.dense_out)
        return out

    def _encode(self, f0_midi: Any, others: list) -> tuple[Any, Any]:
        where = type(self).__name__
        f0_midi = frames(f0_midi, "f0_midi", where)
        if f0_midi.shape[-1] != 1:
            raise ValueError(f"{where}: f0_midi must be [batch, n_frames, 1], got "
                             f"shape {tuple(f0_midi.shape)}")  # fmt: skip
        x = ops.concatenate([f0_midi] + others, axis=-1)
        x = self.dense_out(self.norm(self.net(x)))
        z_pitch, z_vel = x[..., 0:1], x[..., 1:2]
        if self.f0_residual:
            z_pitch = z_pitch + f0_midi
        return z_pitch, z_vel


class MidiEncoder(_ToMidi):
    """ddsp's ``MidiEncoder``: ``(f0_midi, loudness)`` -> ``(z_pitch, z_vel)``.

    Args:
        net: the trunk (e.g. ``nn.DilatedConvStack``; a Module or a parameter-free callable)
            mapping ``[batch, n_frames, 2]`` to ``[batch, n_frames, ch]``.
        f0_residual: add ``f0_midi`` to the pitch channel.
        seed: int, None or Generator for the Dense layer.

    Call: ``f0_midi [batch, n_frames, 1]`` (MIDI), ``loudness [batch, n_frames, 1]`` (dB) ->
    ``{'z_pitch': [batch, n_frames, 1], 'z_vel': [batch, n_frames, 1]}``.
    Children: ``net`` (when a Module), ``norm``, ``dense_out``.
    """

    def call(self, f0_midi: Any, loudness: Any) -> tuple:
        return self._encode(f0_midi, [frames(loudness, "loudness", "MidiEncoder")])


class HarmonicToMidiEncoder(_ToMidi):
    """ddsp's ``HarmonicToMidiEncoder``: harmonic synth controls -> ``(z_pitch, z_vel)``.

    Call: ``f0_midi [batch, n_frames, 1]``, ``amps [batch, n_frames, 1]`` (dB),
    ``hd [batch, n_frames, n_harmonics]``, ``noise [batch, n_frames, n_bands]`` (dB) ->
    ``{'z_pitch', 'z_vel'}``, each ``[batch, n_frames, 1]``. Arguments and children as
    :class:`MidiEncoder`.
    """

    def call(self, f0_midi: Any, amps: Any, hd: Any, noise: Any) -> tuple:
        where = "HarmonicToMidiEncoder"
        others = [frames(amps, "amps", where), frames(hd, "hd", where),
                  frames(noise, "noise", where)]  # fmt: skip
        return self._encode(f0_midi, others)


# ddsp's gin names: @encoders.MidiEncoder(), @encoders.HarmonicToMidiEncoder().
for _cls in (MidiEncoder, HarmonicToMidiEncoder):
    register(_cls, module="ddsp_ref.training.encoders")
del _cls
