"""ddsp's ``training.encoders``: the ZEncoder base, MfccTimeDistributedRnnEncoder, MfccRnnEncoder,
AggregateFeaturesEncoder, OneHotEncoder and ExpressionEncoder (features -> z)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .. import core
from ..autodiff import ops
from ..core.utils import to_float
from ..gin_support import register
from ..lazy import lazy_getattr
from ..module import Module
from ..spectral_ops import compute_mfcc
from ..validation import positive_int
from .nn import Dense, DictLayer, Normalize, Rnn, get_embedding
from .nn.dict_layer import _call_signature
from .nn.initializers import child_seed, make_rng

__all__ = [
    "ZEncoder",
    "MfccTimeDistributedRnnEncoder",
    "MfccRnnEncoder",
    "AggregateFeaturesEncoder",
    "OneHotEncoder",
    "ExpressionEncoder",
    "Z_AUDIO_SPEC",
]

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


class MfccRnnEncoder(ZEncoder):
    """ddsp's ``MfccRnnEncoder``: MFCCs -> instance Normalize -> RNN -> Dense(z_dims).

    MFCCs: ``compute_mfcc(audio, lo_hz=20, hi_hz=8000, fft_size=1024, mel_bins=128,
    mfcc_bins=30)`` (overlap 0.75, pad_end). With ``mean_aggregate`` the RNN outputs are
    averaged over time, so ``z`` is one vector per example, repeated over the frames of
    ``f0_scaled``: ``{'z': [batch, n_frames, z_dims]}``.

    **ddsp's quirk, matched:** without ``mean_aggregate`` (the default) ddsp meant to keep
    one vector but its ``tf.concat(z, -1)[:, tf.newaxis, :]`` only inserts an axis, so ``z`` is
    4-D: ``[batch, n_frames, n_mfcc_frames, z_dims]``, every frame holding the Dense output of
    the whole RNN sequence.

    Children: ``norm_in``, ``rnn``, ``dense_z``.
    """

    def __init__(self, rnn_channels: int = 512, rnn_type: str = "gru", z_dims: int = 512,
                 mean_aggregate: bool = False, input_keys: Sequence[str] | None = None,
                 seed: Any = None, name: str | None = None):  # fmt: skip
        super().__init__(input_keys, name=name)
        self.mean_aggregate = bool(mean_aggregate)
        rng = make_rng(seed)
        self.norm_in = Normalize("instance", name="norm_in")
        self.rnn = Rnn(positive_int(rnn_channels, "rnn_channels", "MfccRnnEncoder"), rnn_type,
                       seed=child_seed(rng), name="rnn")  # fmt: skip
        self.dense_z = Dense(z_dims, seed=child_seed(rng), name="dense_z")

    def children(self) -> dict[str, Module]:
        return {"norm_in": self.norm_in, "rnn": self.rnn, "dense_z": self.dense_z}

    def compute_z(self, audio: Any) -> Any:
        """``audio [batch, n_samples]`` -> ``[batch, 1, z_dims]`` (mean) or ``[batch, 1,
        n_mfcc_frames, z_dims]``."""
        mfccs = compute_mfcc(audio, lo_hz=20.0, hi_hz=8000.0, fft_size=1024, mel_bins=128,
                             mfcc_bins=30)  # fmt: skip
        z = self.rnn(self.norm_in(mfccs))
        if self.mean_aggregate:
            z = ops.mean(z, axis=1, keepdims=True)
        else:
            z = ops.expand_dims(z, 1)
        return self.dense_z(z)


class AggregateFeaturesEncoder(ZEncoder):
    """ddsp's ``AggregateFeaturesEncoder``: Dense(ch) of ``concat(f0_scaled, ld_scaled)``,
    averaged over time and repeated over the frames: ``{'z': [batch, n_frames, ch]}``.

    Child: ``fc`` (a linear Dense, ddsp's name).
    """

    def __init__(self, ch: int = 512, input_keys: Sequence[str] | None = None,
                 seed: Any = None, name: str | None = None):  # fmt: skip
        super().__init__(input_keys, name=name)
        self.fc = Dense(ch, seed=seed, name="fc")

    def children(self) -> dict[str, Module]:
        return {"fc": self.fc}

    def compute_z(self, f0_scaled: Any, ld_scaled: Any) -> Any:
        """``[batch, n_frames, 1]`` each -> ``[batch, 1, ch]``."""
        x = ops.concatenate([_features(f0_scaled), _features(ld_scaled)], axis=-1)
        return ops.mean(self.fc(x), axis=1, keepdims=True)


def _features(x: Any) -> Any:
    return to_float(x, "features", "encoder")


class OneHotEncoder(ZEncoder):
    """ddsp's ``OneHotEncoder``: a learned embedding of an integer id (e.g. the instrument).

    Input keys ``[one_hot_key, 'f0_scaled']``; ``ids [batch, 1]`` -> ``{'z': [batch, 1,
    n_dims]}`` with ``skip_expand`` (the default: the decoder broadcasts it over time), else
    repeated to ``[batch, n_frames, n_dims]``. Child ``embedding`` (keras' uniform
    [-0.05, 0.05) initialiser; ddsp creates it at the first call).
    """

    def __init__(self, one_hot_key: str = "instrument", vocab_size: int = 1024,
                 n_dims: int = 256, skip_expand: bool = True, seed: Any = None,
                 name: str | None = None):  # fmt: skip
        super().__init__(input_keys=[one_hot_key], name=name)
        self.one_hot_key = one_hot_key
        self.vocab_size, self.n_dims = vocab_size, n_dims
        self.skip_expand = bool(skip_expand)
        self.embedding = get_embedding(vocab_size=vocab_size, n_dims=n_dims, seed=seed)

    def children(self) -> dict[str, Module]:
        return {"embedding": self.embedding}

    def compute_z(self, one_hot: Any) -> Any:
        return self.embedding(one_hot)

    def expand_z(self, z: Any, time_steps: int) -> Any:
        return z if self.skip_expand else super().expand_z(z, time_steps)


class ExpressionEncoder(ZEncoder):
    """ddsp's ``ExpressionEncoder``: features (and optionally MFCCs) -> ``net`` -> layer
    Normalize -> Dense(z_dims) -> optional mean over time.

    The inputs named by ``input_keys`` are concatenated on the last axis. When 'audio' is one
    of them it is replaced by its MFCCs (``compute_mfcc(audio, 20, 8000, fft_size, mel_bins,
    mfcc_bins)``, instance-normalised by ``norm_mfcc``, resampled to the frames of the first
    other input) placed last. Deviation: ddsp crashes on 'audio' (it pops from a tuple);
    here it works as written.

    Args:
        net: the trunk, e.g. ``nn.FcStack`` (a Module, or a callable without parameters);
            required (ddsp fails without one too, but later).
        z_dims: output size.
        input_keys: feature keys.
        mfcc_bins, fft_size, mel_bins: the MFCCs of 'audio'.
        pool_time: average ``z`` over time (``[batch, 1, z_dims]``, then repeated to the
            frames of ``f0_scaled``).
        seed: int, None or Generator for the Dense layer.

    Children: ``net`` (when a Module), ``norm``, ``dense_out``, ``norm_mfcc`` (with 'audio').
    """

    def __init__(self, net: Any = None, z_dims: int = 128,
                 input_keys: Sequence[str] = ("f0_scaled", "ld_scaled"), mfcc_bins: int = 60,
                 fft_size: int = 1024, mel_bins: int = 128, pool_time: bool = True,
                 seed: Any = None, name: str | None = None):  # fmt: skip
        if net is None or not callable(net):
            raise TypeError("ExpressionEncoder: net must be a layer (e.g. nn.FcStack), got None")
        super().__init__(list(input_keys), name=name)
        self.feature_keys = list(input_keys)
        self.compute_mfccs = "audio" in self.feature_keys
        self.mfcc_bins, self.fft_size, self.mel_bins = mfcc_bins, fft_size, mel_bins
        self.pool_time = bool(pool_time)
        self.net = net
        self.norm = Normalize("layer", name="norm")
        self.dense_out = Dense(z_dims, seed=seed, name="dense_out")
        self.norm_mfcc = Normalize("instance", name="norm_mfcc") if self.compute_mfccs else None

    def children(self) -> dict[str, Module]:
        out = {"net": self.net} if isinstance(self.net, Module) else {}
        out.update(norm=self.norm, dense_out=self.dense_out)
        if self.norm_mfcc is not None:
            out["norm_mfcc"] = self.norm_mfcc
        return out

    def compute_z(self, *inputs: Any) -> Any:
        inputs = [_features(x) for x in inputs]
        if self.compute_mfccs:
            audio = inputs.pop(self.feature_keys.index("audio"))
            if not inputs:
                raise ValueError("ExpressionEncoder: 'audio' needs another input for the frames")
            mfccs = compute_mfcc(audio, lo_hz=20.0, hi_hz=8000.0, fft_size=self.fft_size,
                                 mel_bins=self.mel_bins, mfcc_bins=self.mfcc_bins)  # fmt: skip
            inputs.append(core.resample(self.norm_mfcc(mfccs), int(inputs[0].shape[1])))
        z = self.dense_out(self.norm(self.net(ops.concatenate(inputs, axis=-1))))
        return ops.mean(z, axis=1, keepdims=True) if self.pool_time else z


# ddsp's gin names: @encoders.MfccRnnEncoder() ...
for _cls in (MfccRnnEncoder, AggregateFeaturesEncoder, OneHotEncoder, ExpressionEncoder):
    register(_cls, module="ddsp_ref.training.encoders")
del _cls


# ddsp's sinusoidal and MIDI encoders (ddsp.training.encoders.X): imported on first use
# (they import this module).
__getattr__ = lazy_getattr(
    __name__,
    attributes={
        "ResnetSinusoidalEncoder": ".encoders_sinusoidal",
        "SinusoidalToHarmonicEncoder": ".encoders_sinusoidal",
        "MidiEncoder": ".encoders_midi",
        "HarmonicToMidiEncoder": ".encoders_midi",
    },
)
