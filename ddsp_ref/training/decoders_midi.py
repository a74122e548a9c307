"""ddsp's MIDI decoders (``training.decoders``): MidiDecoder and MidiToHarmonicDecoder.

Both read the (quantised) pitch ``z_pitch`` — ddsp ignores the velocity for now — and an
optional latent ``z``; ``net`` gets ``z_pitch`` alone or ``[z_pitch, z]`` (a conditional
``nn.DilatedConvStack`` takes that pair), then an optional layer Normalize and a linear Dense.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .. import core
from ..gin_support import register
from ..module import Module
from ..validation import positive_int
from .encoders_midi import check_net, frames
from .nn import Dense, DictLayer, Normalize, split_to_dict
from .nn.initializers import child_seed, make_rng

__all__ = ["MidiDecoder", "MidiToHarmonicDecoder"]

_HARMONIC_SPLITS = (("f0_midi", 1), ("amplitudes", 1), ("harmonic_distribution", 60),
                    ("magnitudes", 65))  # fmt: skip


class _FromMidi(DictLayer):
    """Shared body: ``net(z_pitch)`` or ``net([z_pitch, z])`` -> Normalize? -> Dense(n_out)."""

    def __init__(self, net: Any, norm: bool, n_out: int, seed: Any, name: str | None,
                 output_keys: Sequence[str] | None = None):  # fmt: skip
        super().__init__(output_keys=output_keys, name=name)
        self.net = check_net(net, type(self).__name__)
        self.norm = Normalize("layer", name="norm") if norm else None
        self.dense_out = Dense(n_out, seed=child_seed(make_rng(seed)), name="dense_out")

    def children(self) -> dict[str, Module]:
        out = {"net": self.net} if isinstance(self.net, Module) else {}
        if self.norm is not None:
            out["norm"] = self.norm
        out["dense_out"] = self.dense_out
        return out

    def _decode(self, z_pitch: Any, z: Any) -> tuple[Any, Any]:
        where = type(self).__name__
        z_pitch = frames(z_pitch, "z_pitch", where)
        x = self.net(z_pitch) if z is None else self.net([z_pitch, frames(z, "z", where)])
        if self.norm is not None:
            x = self.norm(x)
        return z_pitch, self.dense_out(x)


class MidiDecoder(_FromMidi):
    """ddsp's ``MidiDecoder``: MIDI pitch -> ``(f0_midi, loudness)``.

    Args:
        net: the trunk (a Module or a parameter-free callable).
        f0_residual: add ``z_pitch`` to the predicted ``f0_midi``.
        center_loudness: ``loudness = 30 * out - 70`` (dB), as ddsp.
        norm: a layer Normalize after ``net``.
        seed: int, None or Generator for the Dense layer.

    Call: ``z_pitch [batch, n_frames, 1]`` (MIDI), ``z_vel`` (ignored, as in ddsp), optional
    ``z [batch, n_frames, n_z]`` -> ``{'f0_midi', 'loudness'}``, each ``[batch, n_frames, 1]``.
    Children: ``net`` (when a Module), ``norm`` (with ``norm``), ``dense_out``.
    """

    def __init__(self, net: Any = None, f0_residual: bool = True, center_loudness: bool = True,
                 norm: bool = True, seed: Any = None, name: str | None = None):  # fmt: skip
        super().__init__(net, norm, 2, seed, name, output_keys=["f0_midi", "loudness"])
        self.f0_residual = bool(f0_residual)
        self.center_loudness = bool(center_loudness)

    def call(self, z_pitch: Any, z_vel: Any = None, z: Any = None) -> tuple:
        z_pitch, x = self._decode(z_pitch, z)
        f0_midi, loudness = x[..., 0:1], x[..., 1:2]
        if self.f0_residual:
            f0_midi = f0_midi + z_pitch
        if self.center_loudness:
            loudness = loudness * 30.0 - 70.0
        return f0_midi, loudness


class MidiToHarmonicDecoder(_FromMidi):
    """ddsp's ``MidiToHarmonicDecoder``: MIDI pitch -> harmonic-plus-noise synth controls.

    Args:
        net, f0_residual, norm, seed: as :class:`MidiDecoder`.
        output_splits: ``(key, size)`` pairs of the Dense output; must include ``'f0_midi'``.
        midi_zero_silence: ``f0_hz = midi_to_hz(f0_midi, midi_zero_silence)`` (MIDI 0 -> 0 Hz).

    Call: as :class:`MidiDecoder` -> ``{key: [batch, n_frames, size]}`` for each split, plus
    ``'f0_hz' [batch, n_frames, 1]`` (Hz). The controls are linear (the processors apply
    their scale functions).
    """

    def __init__(self, net: Any = None, f0_residual: bool = True, norm: bool = True,
                 output_splits: Sequence[tuple[str, int]] = _HARMONIC_SPLITS,
                 midi_zero_silence: bool = True, seed: Any = None,
                 name: str | None = None):  # fmt: skip
        where = "MidiToHarmonicDecoder"
        self.output_splits = tuple((str(k), positive_int(n, f"size of {k!r}", where))
                                   for k, n in output_splits)  # fmt: skip
        if "f0_midi" not in dict(self.output_splits):
            raise ValueError(f"{where}: output_splits must include 'f0_midi', got "
                             f"{[k for k, _ in self.output_splits]}")  # fmt: skip
        self.n_out = sum(n for _, n in self.output_splits)
        keys = [k for k, _ in self.output_splits] + ["f0_hz"]
        super().__init__(net, norm, self.n_out, seed, name, output_keys=keys)
        self.f0_residual = bool(f0_residual)
        self.midi_zero_silence = bool(midi_zero_silence)

    def call(self, z_pitch: Any, z_vel: Any = None, z: Any = None) -> dict:
        z_pitch, x = self._decode(z_pitch, z)
        outputs = split_to_dict(x, self.output_splits)
        if self.f0_residual:
            outputs["f0_midi"] = outputs["f0_midi"] + z_pitch
        outputs["f0_hz"] = core.midi_to_hz(outputs["f0_midi"],
                                           midi_zero_silence=self.midi_zero_silence)  # fmt: skip
        return outputs


# ddsp's gin names: @decoders.MidiDecoder(), @decoders.MidiToHarmonicDecoder().
for _cls in (MidiDecoder, MidiToHarmonicDecoder):
    register(_cls, module="ddsp_ref.training.decoders")
del _cls
