"""ddsp's experimental encoders of DDSP-INV (``encoders.ResnetSinusoidalEncoder`` and
``encoders.SinusoidalToHarmonicEncoder``): audio -> sinusoids -> harmonics.

Both are DictLayers registered with gin under ddsp's names (``@encoders.X()``); the model that
uses them is :class:`ddsp_ref.training.inverse_synthesis.InverseSynthesis`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

from .. import core
from ..autodiff import ops
from ..core.utils import to_float
from ..gin_support import register
from ..module import Module
from ..spectral_ops import compute_logmel
from ..validation import check_rank, positive_int
from .nn import Dense, DictLayer
from .nn.initializers import child_seed, make_rng
from .nn.resnet import ResNet

__all__ = ["ResnetSinusoidalEncoder", "SinusoidalToHarmonicEncoder"]

_DEFAULT_SPLITS = (("frequencies", 100 * 64), ("amplitudes", 100), ("noise_magnitudes", 60))

# ddsp's default f0 scaling: a 64-bin softmax between 20 Hz and 1200 Hz (a partial, not a
# lambda, so that the encoder pickles).
_F0_SCALE = functools.partial(core.frequencies_softmax, depth=64, hz_min=20.0, hz_max=1200.0)


class ResnetSinusoidalEncoder(DictLayer):
    """Audio straight to sinusoidal synthesizer controls (unscaled network outputs).

    ``spectral_fn(audio)`` (a log-mel spectrogram by default) ``[batch, n_frames, n_bins]`` is
    read as a one-channel image by a :class:`~ddsp_ref.training.nn.resnet.ResNet` of ``size``
    (``[batch, n_frames, n_bins / 32, 32 ch]``), whose frequency and channel axes are
    flattened; one Dense layer per ``(key, size)`` of ``output_splits`` gives ``{key:
    [batch, n_frames, size]}``. The Dense layers are sized by their input at the first call.

    As in ddsp the default ``size='tiny'`` is not a ResNet size, so it raises: configs set
    ``'small'``, ``'medium'`` or ``'large'`` (the ICML 2020 config uses 'small').

    Args:
        output_splits: ``((key, size), ...)``; ddsp's default is 100 sinusoids with 64-bin
            frequency logits, 100 amplitudes and 60 noise magnitudes.
        spectral_fn: ``audio [batch, n_samples] -> [batch, n_frames, n_bins]``.
        size: ResNet size.
        seed: int, None or numpy Generator for the initial weights.
        name: layer name.

    Call: ``{'audio': [batch, n_samples]}`` (or the array) -> ``{key: [batch, n_frames, size]}``.
    """

    def __init__(self, output_splits: Sequence[tuple[str, int]] = _DEFAULT_SPLITS,
                 spectral_fn: Callable = compute_logmel, size: str = "tiny",
                 seed: Any = None, name: str | None = None):  # fmt: skip
        where = "ResnetSinusoidalEncoder"
        self.output_splits = tuple(
            (str(k), positive_int(n, f"size of {k!r}", where)) for k, n in output_splits
        )
        super().__init__(output_keys=[k for k, _ in self.output_splits], name=name)
        self.spectral_fn = spectral_fn
        rng = make_rng(seed)
        self.resnet = ResNet(size=size, seed=child_seed(rng), name="resnet")
        self.dense_outs = [
            Dense(n, seed=child_seed(rng), name=f"dense_{k}") for k, n in self.output_splits
        ]

    def children(self) -> dict[str, Module]:
        return {"resnet": self.resnet, **{d.name: d for d in self.dense_outs}}

    def call(self, audio: Any) -> dict:
        where = "ResnetSinusoidalEncoder"
        audio = to_float(audio, "audio", where)
        check_rank(audio, 2, "audio", where, "[batch, n_samples]")
        mag = self.spectral_fn(audio)  # [batch, n_frames, n_bins]
        x = self.resnet(ops.expand_dims(mag, -1))  # [batch, n_frames, n_bins / 32, ch]
        batch, n_frames = int(x.shape[0]), int(x.shape[1])
        x = ops.reshape(x, (batch, n_frames, -1))
        return {key: dense(x) for (key, _), dense in zip(self.output_splits, self.dense_outs)}


class SinusoidalToHarmonicEncoder(DictLayer):
    """Harmonic controls (amplitude, distribution, f0) from sinusoidal ones.

    The frequencies in units of Nyquist (``hz_to_unit(sin_freqs, 0, sample_rate / 2)``) and
    the amplitudes are concatenated and run through ``net`` (its output, or the ``'out'`` of
    a dict it returns, ``[batch, n_frames, ch]``); three Dense heads give the amplitude (1),
    the harmonic distribution (``n_harmonics``) and f0 logits (``f0_depth``), scaled by
    ``amp_scale_fn`` / ``amp_scale_fn`` / ``freq_scale_fn``. Harmonics at or above Nyquist
    are removed from the distribution, which is then normalised to sum to one
    (``safe_divide``).

    Args:
        net: a module ``[batch, n_frames, 2 n_sinusoids] -> [batch, n_frames, ch]`` (e.g.
            ``nn.RnnSandwich``, as ddsp's ICML 2020 config; ``nn.FcStack``). Required.
        n_harmonics: size of the harmonic distribution.
        f0_depth: number of f0 logits.
        amp_scale_fn: scaling of the amplitude and distribution (default ``exp_sigmoid``).
        freq_scale_fn: logits -> f0 [Hz] (default 64-bin ``frequencies_softmax``, 20-1200 Hz).
        sample_rate: Hz.
        seed: int, None or numpy Generator for the heads' initial weights.

    Call: ``(sin_freqs, sin_amps)`` ``[batch, n_frames, n_sinusoids]`` (Hz, linear) ->
    ``{'harm_amp' [batch, n_frames, 1], 'harm_dist' [..., n_harmonics], 'f0_hz' [..., 1]}``.
    """

    def __init__(self, net: Any = None, n_harmonics: int = 100, f0_depth: int = 64,
                 amp_scale_fn: Callable = core.exp_sigmoid,
                 freq_scale_fn: Callable = _F0_SCALE, sample_rate: int = 16000,
                 seed: Any = None, name: str | None = None):  # fmt: skip
        super().__init__(output_keys=["harm_amp", "harm_dist", "f0_hz"], name=name)
        where = "SinusoidalToHarmonicEncoder"
        self.net = net
        self.n_harmonics = positive_int(n_harmonics, "n_harmonics", where)
        self.f0_depth = positive_int(f0_depth, "f0_depth", where)
        self.amp_scale_fn, self.freq_scale_fn = amp_scale_fn, freq_scale_fn
        self.sample_rate = positive_int(sample_rate, "sample_rate", where)
        rng = make_rng(seed)
        self.amp_out = Dense(1, seed=child_seed(rng), name="amp_out")
        self.hd_out = Dense(self.n_harmonics, seed=child_seed(rng), name="hd_out")
        self.f0_out = Dense(self.f0_depth, seed=child_seed(rng), name="f0_out")

    def children(self) -> dict[str, Module]:
        out = {"net": self.net} if isinstance(self.net, Module) else {}
        return {**out, "amp_out": self.amp_out, "hd_out": self.hd_out, "f0_out": self.f0_out}

    def call(self, sin_freqs: Any, sin_amps: Any) -> tuple[Any, Any, Any]:
        where = "SinusoidalToHarmonicEncoder"
        if self.net is None:
            raise ValueError(f"{where}: a net is needed (e.g. net=nn.FcStack(...))")
        sin_freqs = to_float(sin_freqs, "sin_freqs", where)
        sin_amps = to_float(sin_amps, "sin_amps", where)
        layout = "[batch, n_frames, n_sinusoids]"
        check_rank(sin_freqs, 3, "sin_freqs", where, layout)
        check_rank(sin_amps, 3, "sin_amps", where, layout)
        if tuple(sin_freqs.shape[:2]) != tuple(sin_amps.shape[:2]):
            raise ValueError(
                f"{where}: sin_freqs {tuple(sin_freqs.shape)} and sin_amps "
                f"{tuple(sin_amps.shape)} need the same batch and frames"
            )
        unit = core.hz_to_unit(sin_freqs, hz_min=0.0, hz_max=self.sample_rate / 2.0)
        x = self.net(ops.concatenate([unit, sin_amps], axis=-1))
        x = x["out"] if isinstance(x, dict) else x
        harm_amp = self.amp_scale_fn(self.amp_out(x))
        harm_dist = self.amp_scale_fn(self.hd_out(x))
        f0_hz = self.freq_scale_fn(self.f0_out(x))
        harm_freqs = core.get_harmonic_frequencies(f0_hz, self.n_harmonics)
        harm_dist = core.remove_above_nyquist(harm_freqs, harm_dist, self.sample_rate)
        harm_dist = core.safe_divide(harm_dist, ops.sum(harm_dist, axis=-1, keepdims=True))
        return harm_amp, harm_dist, f0_hz


# ddsp's gin names: @encoders.ResnetSinusoidalEncoder(), @encoders.SinusoidalToHarmonicEncoder()
for _cls in (ResnetSinusoidalEncoder, SinusoidalToHarmonicEncoder):
    register(_cls, module="ddsp_ref.training.encoders")
del _cls
# ...and the spectral_fn of ddsp's config for them, @f0_spectral/spectral_ops.compute_logmel
register(compute_logmel, module="ddsp_ref.spectral_ops")
