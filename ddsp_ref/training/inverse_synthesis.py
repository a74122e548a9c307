"""ddsp's experimental DDSP-INV model (``models.InverseSynthesis``, ICML 2020 workshop paper):
audio -> sinusoids -> harmonics -> sinusoids -> audio, with self-supervision on synthetic
notes whose controls are known.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from .. import core, effects, processors, synths
from ..autodiff import ops, stop_gradient
from ..core.utils import make_iterable
from ..gin_support import configurable
from ..losses import HarmonicConsistencyLoss
from ..module import Module
from ..validation import positive_int
from .models import Model, _call_with_training

__all__ = ["InverseSynthesis"]

_SYNTH_CONTROLS = ("sin_amps", "sin_freqs", "noise_magnitudes")


def _iterable(x: Any) -> list:
    return [] if x is None else list(make_iterable(x))


class InverseSynthesis(Model):
    """ddsp's ``InverseSynthesis`` (DDSP-INV, experimental in ddsp).

    **Forward** (:meth:`forward`): ``sinusoidal_encoder(features)`` gives unscaled
    ``frequencies``, ``amplitudes`` and ``noise_magnitudes`` ``[batch, n_frames, ...]``; they
    are scaled here (``freq_scale_fn``, default a 64-bin ``frequencies_softmax``; ``exp_sigmoid``
    for both amplitudes) and rendered by the model's own processor group: ``Sinusoidal`` +
    ``FilteredNoise`` (window 0) -> ``Add`` -> ``FilteredNoiseReverb`` (2 s, trainable, when
    ``reverb``). With a ``harmonic_encoder`` the sinusoids (behind a stop-gradient when
    ``stop_gradient``) are encoded to ``harm_amp``, ``harm_dist``, ``f0_hz``, turned back into
    sinusoids ``harm_freqs = f0 * k``, ``harm_amps = harm_amp * harm_dist`` and rendered through
    the same group. Outputs: ``audio``, ``noise_magnitudes``, ``sin_audio``, ``sin_amps``,
    ``sin_freqs`` ``[batch, ...]``, the group's outputs (dicts per processor, ``out``) and, with
    the harmonic branch, ``harm_audio``, ``harm_amp``, ``harm_dist``, ``f0_hz``,
    ``harm_freqs``, ``harm_amps``.

    **Call** (``model(features)``): ``features`` is one of
      * a dict with ``audio [batch, n_samples]``: the autoencoder losses only;
      * a dict of synthetic controls ``sin_amps``, ``sin_freqs`` ``[batch, n_frames,
        n_sinusoids]`` (linear, Hz), ``noise_magnitudes`` and, for harmonic self-supervision,
        ``harm_amp``, ``harm_dist``, ``f0_hz``: the audio is rendered from the controls and both
        the autoencoder and the self-supervised ``ss_`` losses are taken;
      * a pair of such dicts (real, synthetic) in either order, as ``ZippedProvider`` gives:
        the two audio batches are concatenated along the batch for one forward pass, split
        again, and the real half gets the autoencoder losses, the synthetic half the ``ss_``
        losses. Returns the real half's outputs (dict-valued entries dropped, as in ddsp).

    Loss names are ddsp's: ``sin_<loss>``, ``harm_<loss>``, the prior's and consistency losses'
    own names, ``ss_<loss>`` (``ss_harm_amp_loss``... for ``HarmonicConsistencyLoss``,
    ``ss_harm_<loss>`` for another harmonic consistency loss).

    Args: as ddsp; ``seed`` (ours) seeds the noise of the FilteredNoise synth and of the
    reverb's impulse response and the reverb's initial magnitudes (each call draws fresh noise,
    as in ddsp). The training-phase default is True, as in ddsp.
    """

    def __init__(self, sinusoidal_encoder: Any = None, harmonic_encoder: Any = None,
                 losses: Any = None, sinusoidal_consistency_losses: Any = None,
                 harmonic_consistency_losses: Any = None,
                 filtered_noise_consistency_loss: Any = None, twm_loss: Any = None,
                 harmonic_distribution_prior: Any = None, freq_scale_fn: Callable | None = None,
                 reverb: bool = True, n_samples: int = 64000, sample_rate: int = 16000,
                 stop_gradient: bool = True, seed: Any = None,
                 name: str | None = None):  # fmt: skip
        super().__init__(name=name)
        where = "InverseSynthesis"
        self.sinusoidal_encoder = sinusoidal_encoder
        self.harmonic_encoder = harmonic_encoder
        self.audio_loss_objs = _iterable(losses)
        self.sinusoidal_consistency_losses = _iterable(sinusoidal_consistency_losses)
        self.harmonic_consistency_losses = _iterable(harmonic_consistency_losses)
        self.filtered_noise_consistency_loss = filtered_noise_consistency_loss
        self.twm_loss = twm_loss
        self.harmonic_distribution_prior = harmonic_distribution_prior
        self.stop_gradient = bool(stop_gradient)
        self.n_samples = positive_int(n_samples, "n_samples", where)
        self.sample_rate = positive_int(sample_rate, "sample_rate", where)
        self.amps_scale_fn = core.exp_sigmoid
        self.freq_scale_fn = freq_scale_fn or functools.partial(core.frequencies_softmax, depth=64)
        self.processor_group = self._processor_group(bool(reverb), seed)

    def _processor_group(self, reverb: bool, seed: Any) -> processors.ProcessorGroup:
        """Sinusoidal + FilteredNoise -> Add (-> FilteredNoiseReverb): controls come scaled."""
        self.sinusoidal_synth = synths.Sinusoidal(
            n_samples=self.n_samples, sample_rate=self.sample_rate, amp_scale_fn=None,
            freq_scale_fn=None, name="sinusoidal",
        )  # fmt: skip
        self.filtered_noise_synth = synths.FilteredNoise(
            n_samples=self.n_samples, window_size=0, scale_fn=None, seed=seed,
            name="filtered_noise",
        )  # fmt: skip
        dag = [
            (self.sinusoidal_synth, ["amplitudes", "frequencies"]),
            (self.filtered_noise_synth, ["noise_magnitudes"]),
            (processors.Add(name="add"), ["filtered_noise/signal", "sinusoidal/signal"]),
        ]
        self.reverb = None
        if reverb:
            self.reverb = effects.FilteredNoiseReverb(
                reverb_length=2 * self.sample_rate, window_size=257, n_frames=500,
                n_filter_banks=16, trainable=True, seed=seed, name="reverb",
            )  # fmt: skip
            dag.append((self.reverb, ["add/signal"]))
        return processors.ProcessorGroup(dag=dag)

    def children(self) -> dict[str, Module]:
        subs = {
            "sinusoidal_encoder": self.sinusoidal_encoder,
            "harmonic_encoder": self.harmonic_encoder,
            "processor_group": self.processor_group,
        }
        return {k: m for k, m in subs.items() if isinstance(m, Module)}

    # -- inputs ---------------------------------------------------------------------------
    def generate_synthetic_audio(self, features: dict) -> Any:
        """Audio ``[batch, n_samples]`` rendered from synthetic controls ``sin_amps``,
        ``sin_freqs`` ``[batch, n_frames, n_sinusoids]`` and ``noise_magnitudes``."""
        missing = [k for k in _SYNTH_CONTROLS if k not in features]
        if missing:
            raise KeyError(
                f"InverseSynthesis: synthetic features lack {missing} (have {sorted(features)})"
            )
        return self.processor_group({
            "amplitudes": features["sin_amps"],
            "frequencies": features["sin_freqs"],
            "noise_magnitudes": features["noise_magnitudes"],
        })  # fmt: skip

    def parse_zipped_features(self, features: Any) -> tuple[dict, dict]:
        """``(real, synthetic)`` from a pair of feature dicts in either order (the synthetic
        one holds ``sin_amps``)."""
        if len(features) != 2 or not all(isinstance(f, dict) for f in features):
            raise ValueError(
                "InverseSynthesis: zipped features must be a pair of dicts (real, synthetic), "
                f"got {len(features)} items of types {[type(f).__name__ for f in features]}"
            )
        ss_idx = int(features[1].get("sin_amps") is not None)
        return features[1 - ss_idx], features[ss_idx]

    def get_audio_from_outputs(self, outputs: dict) -> Any:
        """``harm_audio`` with a harmonic encoder, else ``sin_audio`` ``[batch, n_samples]``."""
        return outputs["sin_audio" if self.harmonic_encoder is None else "harm_audio"]

    # -- call -----------------------------------------------------------------------------
    def call(self, features: Any, training: bool = True) -> dict:
        if isinstance(features, (list, tuple)):
            real, ss_features = self.parse_zipped_features(features)
            ss_features = dict(ss_features)
            ss_features["audio"] = self.generate_synthetic_audio(ss_features)
            audio = _audio(real)
            batch = int(audio.shape[0])
            both = ops.concatenate([audio, ss_features["audio"]], axis=0)
            all_outputs = self.forward({"audio": both}, training)
            arrays = {k: v for k, v in all_outputs.items() if not isinstance(v, dict)}
            outputs = {k: v[:batch] for k, v in arrays.items()}
            self.append_losses(outputs)
            self.append_losses({k: v[batch:] for k, v in arrays.items()}, ss_features)
            return outputs
        if not isinstance(features, dict):
            raise TypeError(
                "InverseSynthesis: features must be a dict or a pair of dicts, got "
                f"{type(features).__name__}"
            )
        if features.get("sin_amps") is not None:  # self-supervised pretraining
            ss_features = dict(features)
            ss_features["audio"] = self.generate_synthetic_audio(ss_features)
            outputs = self.forward(ss_features, training)
            self.append_losses(outputs)
            self.append_losses(outputs, ss_features)
            return outputs
        outputs = self.forward(features, training)
        self.append_losses(outputs)
        return outputs

    def forward(self, features: dict, training: bool = True) -> dict:
        """The model without losses (see the class docstring for the outputs)."""
        if self.sinusoidal_encoder is None:
            raise ValueError("InverseSynthesis: a sinusoidal_encoder is needed")
        audio = _audio(features)
        pg_in = dict(_call_with_training(self.sinusoidal_encoder, features, training))
        sin_freqs = self.freq_scale_fn(pg_in["frequencies"])
        sin_amps = self.amps_scale_fn(pg_in["amplitudes"])
        noise_magnitudes = self.amps_scale_fn(pg_in["noise_magnitudes"])
        pg_in.update(frequencies=sin_freqs, amplitudes=sin_amps, noise_magnitudes=noise_magnitudes)
        controls = self.processor_group.get_controls(pg_in)
        outputs = {
            "audio": audio,
            "noise_magnitudes": noise_magnitudes,
            "sin_audio": self.processor_group.get_signal(controls),
            "sin_amps": sin_amps,
            "sin_freqs": sin_freqs,
        }
        outputs.update(controls)
        if self.harmonic_encoder is not None:
            outputs.update(self._harmonic_branch(pg_in, sin_freqs, sin_amps, noise_magnitudes))
        return outputs

    def _harmonic_branch(self, pg_in: dict, sin_freqs: Any, sin_amps: Any,
                         noise_magnitudes: Any) -> dict:  # fmt: skip
        """Sinusoids -> harmonic controls -> harmonic sinusoids -> audio."""
        if self.stop_gradient:  # the harmonic errors do not reach the sinusoidal encoder
            sin_freqs, sin_amps = stop_gradient(sin_freqs), stop_gradient(sin_amps)
            noise_magnitudes = stop_gradient(noise_magnitudes)
        h = self.harmonic_encoder(sin_freqs, sin_amps)
        harm_amp, harm_dist, f0_hz = h["harm_amp"], h["harm_dist"], h["f0_hz"]
        harm_freqs = core.get_harmonic_frequencies(f0_hz, int(harm_dist.shape[-1]))
        harm_amps = harm_amp * harm_dist
        pg_in = dict(pg_in, frequencies=harm_freqs, amplitudes=harm_amps,
                     noise_magnitudes=noise_magnitudes)  # fmt: skip
        return {
            "harm_audio": self.processor_group(pg_in),
            "harm_amp": harm_amp,
            "harm_dist": harm_dist,
            "f0_hz": f0_hz,
            "harm_freqs": harm_freqs,
            "harm_amps": harm_amps,
        }

    # -- losses ---------------------------------------------------------------------------
    def append_losses(self, outputs: dict, self_supervised_features: dict | None = None) -> None:
        """Add the losses of ``outputs`` to :attr:`losses_dict`: the autoencoder losses, or,
        given the synthetic features, the self-supervised ``ss_`` ones."""
        if self_supervised_features is None:
            self._autoencoder_losses(outputs)
        else:
            self._self_supervised_losses(outputs, self_supervised_features)

    def _autoencoder_losses(self, o: dict) -> None:
        for loss_obj in self.audio_loss_objs:
            self._losses_dict[f"sin_{loss_obj.name}"] = loss_obj(o["audio"], o["sin_audio"])
        if self.harmonic_encoder is not None:
            self._update_losses_dict(self.harmonic_distribution_prior, o["harm_dist"])
            for loss_obj in self.audio_loss_objs:
                self._losses_dict[f"harm_{loss_obj.name}"] = loss_obj(o["audio"], o["harm_audio"])
            if self.sinusoidal_consistency_losses:
                sin_amps, sin_freqs = o["sin_amps"], o["sin_freqs"]
                if self.stop_gradient:
                    sin_amps, sin_freqs = stop_gradient(sin_amps), stop_gradient(sin_freqs)
                self._update_losses_dict(self.sinusoidal_consistency_losses, sin_amps,
                                         sin_freqs, o["harm_amps"], o["harm_freqs"])  # fmt: skip
        if self.twm_loss is not None:
            f0_candidates = o["sin_freqs"] if self.harmonic_encoder is None else o["f0_hz"]
            self._update_losses_dict(self.twm_loss, f0_candidates, o["sin_freqs"], o["sin_amps"])

    def _self_supervised_losses(self, o: dict, f: dict) -> None:
        for loss_obj in self.sinusoidal_consistency_losses:
            self._losses_dict[f"ss_{loss_obj.name}"] = loss_obj(
                o["sin_amps"], o["sin_freqs"], f["sin_amps"], f["sin_freqs"]
            )
        fncl = self.filtered_noise_consistency_loss
        if fncl is not None:
            self._losses_dict[f"ss_{fncl.name}"] = fncl(
                o["noise_magnitudes"], f["noise_magnitudes"]
            )
        for loss_obj in self.harmonic_consistency_losses:
            if isinstance(loss_obj, HarmonicConsistencyLoss):
                losses = loss_obj(o["harm_amp"], f["harm_amp"], o["harm_dist"], f["harm_dist"],
                                  o["f0_hz"], f["f0_hz"])  # fmt: skip
                self._losses_dict.update({f"ss_{k}": v for k, v in losses.items()})
            else:
                self._losses_dict[f"ss_harm_{loss_obj.name}"] = loss_obj(
                    o["harm_amp"], o["f0_hz"], f["harm_amp"], f["f0_hz"]
                )

    def apply(self, params: dict, features: Any, training: bool = True,
              return_losses: bool = True) -> Any:  # fmt: skip
        """Call with ``params`` in place of the stored parameters; returns ``(outputs,
        losses_dict)`` by default (what :class:`~ddsp_ref.training.trainers.Trainer` uses)."""
        return super().apply(params, features, training=training, return_losses=return_losses)


def _audio(features: dict) -> Any:
    if "audio" not in features:
        raise KeyError(
            "InverseSynthesis: the features need 'audio' [batch, n_samples] (or the synthetic "
            f"controls {list(_SYNTH_CONTROLS)}); have {sorted(features)}"
        )
    return features["audio"]


# ddsp's gin name @models.InverseSynthesis()
InverseSynthesis = configurable(InverseSynthesis, module="ddsp_ref.training.models")
