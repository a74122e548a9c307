"""ddsp's MIDI autoencoders (``training.models``, EXPERIMENTAL in ddsp): MidiAutoencoder and
ZMidiAutoencoder.

Two stacked autoencoders. The inner "synthcoder" branch decodes (f0, loudness[, z]) to
harmonic-plus-noise controls and renders ``synth_audio``; the outer branch encodes those
controls (log-scaled, gradient stopped by default) to an unquantised MIDI pitch ``z_pitch``,
rounds it with a straight-through estimator (``q_pitch``; velocity zeroed), decodes MIDI back
to controls and renders ``midi_audio`` with the same synthesizer. Without a MIDI encoder the
ground-truth piano roll ``note_active_velocities`` gives the MIDI.

The synthesizer is fixed: ``Harmonic() + FilteredNoise()`` through ``Add``, then (``reverb``)
a trainable ``FilteredNoiseReverb(reverb_length=24000, n_frames=500, n_filter_banks=32)``.

Deviations from ddsp 3.7.0 (where ddsp fails): a missing ``midi_decoder`` raises a clear
ValueError (ddsp: NameError); ZMidiAutoencoder's note latents are the per-note mean and std
concatenated (ddsp passes the (mean, std) tuple to ``tf.concat`` and fails), and either of
``z_global`` / ``z_notes`` may be absent. The slowness loss's short-note mask compares each
note's own length with 40 frames: ddsp takes ``note_lengths[..., 0]`` (the first note's length,
``[batch]``) against the pitches ``[batch, notes]``, which fails for batch > 1 and uses the
first note's length for every note at batch 1.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import core
from ..autodiff import ops, stop_gradient
from ..backend import array_namespace
from ..core.utils import make_iterable
from ..effects import FilteredNoiseReverb
from ..gin_support import configurable
from ..module import Module
from ..processors import Add, ProcessorGroup
from ..synths import FilteredNoise, Harmonic
from . import nn
from .models import Model, _call_with_training
from .preprocessing import F0PowerPreprocessor

__all__ = ["MidiAutoencoder", "ZMidiAutoencoder"]

_SUBMODULES = ("preprocessor", "synthcoder", "midi_encoder", "midi_decoder", "processor_group",
               "reconstruction_losses")  # fmt: skip


def _synth_group(reverb: bool, seed: Any) -> ProcessorGroup:
    dag = [
        (Harmonic(), ["amplitudes", "harmonic_distribution", "f0_hz"]),
        (FilteredNoise(), ["magnitudes"]),
        (Add(), ["filtered_noise/signal", "harmonic/signal"]),
    ]
    if reverb:
        rev = FilteredNoiseReverb(trainable=True, reverb_length=24000, n_frames=500,
                                  n_filter_banks=32, name="reverb", seed=seed)  # fmt: skip
        dag.append((rev, ["add/signal"]))
    return ProcessorGroup(dag=dag)


class MidiAutoencoder(Model):
    """ddsp's ``MidiAutoencoder``: an autoencoder with MIDI at its bottleneck (see the module).

    Args:
        synthcoder: DictLayer (e.g. ``DilatedConvDecoder``) from the preprocessed features to
            ``amplitudes``, ``harmonic_distribution``, ``magnitudes``.
        midi_encoder: e.g. ``HarmonicToMidiEncoder``, called ``(f0_midi, amps_db, hd,
            noise_db)``; None: MIDI from the features' piano roll.
        midi_decoder: e.g. ``MidiToHarmonicDecoder``, called ``(q_pitch, q_vel)``; required.
        sg_before_midiae: stop the gradient into the MIDI encoder's inputs.
        reverb: add the trainable reverb to the synthesizer.
        preprocessor: e.g. ``F0LoudnessPreprocessor`` (reads ``loudness_db``) or
            ``F0PowerPreprocessor`` (reads ``power_db``).
        reconstruction_losses: a ``LossGroup`` over the outputs dict (training calls only).
        qpitch_f0rec_loss: loss object given ``|q_pitch - f0_midi_pred|`` (its
            ``get_losses_dict``); None: skipped. So are the next three.
        pitch_f0rec_loss: loss object given ``|z_pitch - f0_midi_pred|``.
        pitch_qpitch_loss: loss object given ``(z_pitch, q_pitch)``.
        midi_slowness_loss: callable ``(z_pitch, loss_mask)`` -> scalar, stored under its
            ``name``; the mask marks the frames of sounding notes shorter than 40 frames.
        mask_f0_loss: with a ground-truth piano roll, ``f0_loss_weights`` is 1 where
            ``|f0_midi - q_pitch| < 2``, else 0 (with an encoder: ones).
        seed: int or None for the reverb's initial magnitudes.

    Call: ``features`` with ``f0_hz [batch, n_frames, 1]`` [Hz], ``loudness_db`` (or
    ``power_db``) ``[batch, n_frames, 1]``, ``audio [batch, n_samples]`` for the losses and
    ``note_active_velocities [batch, n_frames, 128]`` without an encoder -> the outputs dict
    (ddsp's keys: ``synth_audio``, ``midi_audio`` ``[batch, n_samples]``, ``q_pitch``,
    ``z_pitch``, ``pianoroll [.., 128]``, ``f0_midi_pred``, ``f0_hz_pred``, ``amps``, ``hd``,
    ``noise`` and their ``*_pred`` (dB for amps / noise), ``f0_loss_weights``, the features and
    the synthcoder's processor outputs). :meth:`apply` defaults to a training call returning
    ``(outputs, losses_dict)``, so :class:`~ddsp_ref.training.trainers.Trainer` trains it.
    """

    def __init__(self, synthcoder: Any = None, midi_encoder: Any = None,
                 midi_decoder: Any = None, sg_before_midiae: bool = True, reverb: bool = True,
                 preprocessor: Any = None, reconstruction_losses: Any = None,
                 qpitch_f0rec_loss: Any = None, pitch_f0rec_loss: Any = None,
                 pitch_qpitch_loss: Any = None, midi_slowness_loss: Any = None,
                 mask_f0_loss: bool = True, seed: Any = None,
                 name: str | None = None):  # fmt: skip
        super().__init__(name=name)
        self.synthcoder = synthcoder
        self.midi_encoder = midi_encoder
        self.midi_decoder = midi_decoder
        self.reconstruction_losses = reconstruction_losses
        self.mask_f0_loss = bool(mask_f0_loss)
        self.qpitch_f0rec_loss = qpitch_f0rec_loss
        self.pitch_f0rec_loss = pitch_f0rec_loss
        self.pitch_qpitch_loss = pitch_qpitch_loss
        self.slowness_loss = midi_slowness_loss
        self.sg_before_midiae = bool(sg_before_midiae)
        self.preprocessor = preprocessor
        self.db_key = "power_db" if isinstance(preprocessor, F0PowerPreprocessor) else "loudness_db"
        self.processor_group = _synth_group(bool(reverb), seed)

    def children(self) -> dict[str, Module]:
        subs = {n: getattr(self, n) for n in self._submodule_names()}
        return {n: m for n, m in subs.items() if isinstance(m, Module)}

    def _submodule_names(self) -> tuple[str, ...]:
        return _SUBMODULES

    # --- The pieces (ddsp's method names) ------------------------------------------------
    def encode_to_midi(self, *args: Any) -> tuple[Any, Any, Any, Any]:
        """``(z_pitch, q_pitch, z_vel, q_vel)`` from the encoder's inputs; velocity zeroed."""
        if self.sg_before_midiae:
            args = [stop_gradient(a) for a in args]
        out = self.midi_encoder(*args)
        z_pitch, z_vel = out["z_pitch"], out["z_vel"]
        q_pitch = nn.straight_through_int_quantization(z_pitch)
        z_vel = z_vel * 0.0
        return z_pitch, q_pitch, z_vel, z_vel

    def synthesize_audio(self, f0_hz: Any, db: Any, z: Any = None, training: bool = False,
                         return_params: bool = False) -> Any:  # fmt: skip
        """Preprocessor -> synthcoder -> synthesizer: audio ``[batch, n_samples]`` (and the
        processor group's outputs dict with ``return_params``)."""
        features = {"f0_hz": f0_hz, self.db_key: db}
        if z is not None:
            features["z"] = z
        features.update(self.preprocessor(features))
        features.update(_call_with_training(self.synthcoder, features, training))
        synth_params = self.processor_group.get_controls(features)
        audio = self.processor_group.get_signal(synth_params)
        return (audio, synth_params) if return_params else audio

    @staticmethod
    def extract_harm_controls(synth_params: dict, log_scale: bool = True,
                              stop_gradient: bool = False) -> tuple[Any, Any, Any]:  # fmt: skip
        """``(amps, hd, noise)`` from a processor group's outputs; amps and noise in dB."""
        amps = synth_params["harmonic"]["controls"]["amplitudes"]
        hd = synth_params["harmonic"]["controls"]["harmonic_distribution"]
        noise = synth_params["filtered_noise"]["controls"]["magnitudes"]
        if log_scale:
            amps = core.amplitude_to_db(amps, use_tf=True)
            noise = core.amplitude_to_db(noise, use_tf=True)
        if stop_gradient:
            amps, hd, noise = (_stop(x) for x in (amps, hd, noise))
        return amps, hd, noise

    @staticmethod
    def pianoroll_to_midi(pianoroll: Any) -> tuple[Any, Any]:
        """Monophonic piano roll ``[batch, n_frames, n_keys]`` -> ``(notes, velocities)``, each
        ``[batch, n_frames, 1]`` float32: the loudest key (the first one on ties) and its value."""
        roll = stop_gradient(pianoroll)
        xp = array_namespace(roll)
        notes = xp.argmax(roll, axis=-1).astype(xp.float32)[..., None]
        return notes, xp.max(roll, axis=-1)[..., None].astype(xp.float32)

    @staticmethod
    def midi_to_pianoroll(q_pitch: Any, q_vel: Any = None, piano_keys: int = 128,
                          thresh: float = 20.0) -> np.ndarray:  # fmt: skip
        """Quantised pitch -> one-hot piano roll (velocity ignored, as ddsp), float32.

        As ddsp: ``q_pitch`` is squeezed (every size-1 axis), pitches not above ``thresh`` become
        key 0, pitches are truncated to integers, and keys outside ``[0, piano_keys)`` give an
        all-zero row.
        """
        q = stop_gradient(q_pitch)
        xp = array_namespace(q)
        q = xp.squeeze(q)
        if thresh > 0.0:
            q = q * (q > thresh).astype(q.dtype)
        keys = q.astype(xp.int32)
        return (keys[..., None] == xp.arange(piano_keys)).astype(xp.float32)

    def add_closeness_loss(self, loss_obj: Any, f0: Any, pitch: Any, tag: str = "") -> None:
        """``loss_obj`` on ``|pitch - f0|``."""
        self._update_losses_dict(loss_obj, ops.abs(pitch - f0))

    def add_slowness_loss(self, loss_obj: Any, z_pitch: Any, q_pitch: Any, tag: str = "") -> None:
        """``loss_obj(z_pitch, mask)``: the mask marks frames of notes shorter than 40 frames."""
        if loss_obj is None:
            return
        note_mask = nn.get_note_mask(q_pitch, note_on_only=False)
        lengths = nn.get_note_lengths(note_mask)
        pitches = nn.get_note_moments(q_pitch, note_mask, return_std=False)
        # Each note's own length (ddsp's lengths[..., 0] is the first note's: see the module).
        loss_mask = nn.get_short_note_loss_mask(note_mask, lengths, pitches[..., 0],
                                                min_length=40)  # fmt: skip
        name = getattr(loss_obj, "name", type(loss_obj).__name__)
        self._losses_dict[f"{name}{tag}"] = self.slowness_loss(z_pitch, loss_mask)

    def add_zpitch_losses(self, z_pitch: Any, q_pitch: Any, f0_midi_pred: Any) -> None:
        """The pitch encoder's losses (when it ran): slowness, pitch-qpitch, closeness."""
        if z_pitch is None:
            return
        self.add_slowness_loss(self.slowness_loss, z_pitch, q_pitch)
        self._update_losses_dict(self.pitch_qpitch_loss, z_pitch, q_pitch)
        self.add_closeness_loss(self.pitch_f0rec_loss, f0_midi_pred, z_pitch)

    def midi_to_audio(self, q_pitch: Any, q_vel: Any, z: Any = None,
                      return_synth_params: bool = False) -> Any:  # fmt: skip
        """Decode MIDI (and latents) to audio ``[batch, n_samples]``."""
        pg_in = self.midi_decoder(q_pitch, q_vel, z)
        params = self.processor_group.get_controls(pg_in)
        audio = self.processor_group.get_signal(params)
        return (audio, params) if return_synth_params else audio

    def get_audio_from_outputs(self, outputs: dict) -> Any:
        """``outputs['synth_audio']`` (ddsp's choice whenever a MIDI decoder exists)."""
        return outputs["midi_audio"] if self.midi_decoder is None else outputs["synth_audio"]

    def preprocess(self, features: dict) -> dict:
        """Preprocessor outputs plus ``f0_midi = hz_to_midi(f0_hz)`` and ``db`` (a new dict)."""
        if not isinstance(features, dict):
            raise TypeError(f"{type(self).__name__}: features must be a dict, got "
                            f"{type(features).__name__}")  # fmt: skip
        features = dict(features)
        features.update(self.preprocessor(features))
        features["f0_midi"] = core.hz_to_midi(features["f0_hz"])
        features["db"] = features[self.db_key]
        return features

    def synthcoder_branch(self, features: dict, training: bool = True, z: Any = None) -> tuple:
        return self.synthesize_audio(features["f0_hz"], features["db"], z=z, training=training,
                                     return_params=True)  # fmt: skip

    def get_gt_midi(self, features: dict) -> tuple[Any, Any, Any]:
        """``(q_pitch, q_vel * 0, f0_loss_weights)`` from ``note_active_velocities``."""
        if "note_active_velocities" not in features:
            raise KeyError(
                f"{type(self).__name__}: without a midi_encoder the features need the piano "
                "roll 'note_active_velocities' [batch, n_frames, 128]"
            )
        q_pitch, q_vel = self.pianoroll_to_midi(features["note_active_velocities"])
        weights = None
        if self.mask_f0_loss:
            f0_midi = stop_gradient(features["f0_midi"])
            xp = array_namespace(f0_midi)
            weights = (xp.abs(f0_midi - q_pitch) < 2.0).astype(xp.float32)
        return q_pitch, q_vel * 0.0, weights

    def _encode_midi(self, features: dict, amps: Any, hd: Any, noise: Any) -> tuple:
        """``(z_pitch, q_pitch, q_vel, f0_loss_weights)`` by the encoder or the piano roll."""
        if self.midi_encoder is None:
            q_pitch, q_vel, weights = self.get_gt_midi(features)
            return None, q_pitch, q_vel, weights
        f0_midi = features["f0_midi"]
        z_pitch, q_pitch, _, q_vel = self.encode_to_midi(f0_midi, amps, hd, noise)
        xp = array_namespace(stop_gradient(f0_midi))
        return z_pitch, q_pitch, q_vel, xp.ones_like(stop_gradient(f0_midi))

    def _decode_midi(self, q_pitch: Any, q_vel: Any, z: Any = None) -> tuple[Any, dict, Any]:
        if self.midi_decoder is None:
            raise ValueError(f"{type(self).__name__}: a midi_decoder is required (ddsp 3.7.0 "
                             "fails without one too)")  # fmt: skip
        pg_in = self.midi_decoder(q_pitch, q_vel) if z is None else self.midi_decoder(
            q_pitch, q_vel, z)  # fmt: skip
        params = self.processor_group.get_controls(pg_in)
        return pg_in["f0_midi"], params, self.processor_group.get_signal(params)

    def _finish(self, features: dict, synth_params: dict, training: bool, **named: Any) -> dict:
        """ddsp's outputs dict (None entries dropped), features and synth params merged in,
        then the reconstruction losses."""
        outputs = {"synth_params": synth_params, **named}
        outputs["pianoroll"] = self.midi_to_pianoroll(named["q_pitch"], named["q_vel"])
        outputs["f0_hz_pred"] = core.midi_to_hz(named["f0_midi_pred"])
        outputs[f"{self.db_key}_pred"] = features["db"]
        order = ["synth_params", "synth_audio", "midi_synth_params", "midi_audio", "q_pitch",
                 "q_vel", "z_pitch", "z_vel", "z_global", "z_notes", "pianoroll",
                 "f0_midi_pred", "f0_hz_pred", "amps", "hd", "noise", "amps_pred", "hd_pred",
                 "noise_pred", "f0_loss_weights", f"{self.db_key}_pred"]  # fmt: skip
        outputs = {k: outputs[k] for k in order if outputs.get(k) is not None}
        outputs.update({k: v for k, v in features.items() if k not in outputs})
        outputs.update(synth_params)
        if training and self.reconstruction_losses is not None:
            self._losses_dict.update(self.reconstruction_losses(outputs))
        return outputs

    def call(self, features: dict, training: bool = True) -> dict:
        features = self.preprocess(features)
        synth_audio, synth_params = self.synthcoder_branch(features, training)
        amps, hd, noise = self.extract_harm_controls(synth_params)
        z_pitch, q_pitch, q_vel, weights = self._encode_midi(features, amps, hd, noise)
        f0_midi_pred, midi_params, midi_audio = self._decode_midi(q_pitch, q_vel)
        amps_pred, hd_pred, noise_pred = self.extract_harm_controls(midi_params)
        if training:
            self.add_zpitch_losses(z_pitch, q_pitch, f0_midi_pred)
            self.add_closeness_loss(self.qpitch_f0rec_loss, f0_midi_pred, q_pitch)
        return self._finish(
            features, synth_params, training, synth_audio=synth_audio,
            midi_synth_params=midi_params, midi_audio=midi_audio, q_pitch=q_pitch, q_vel=q_vel,
            z_pitch=z_pitch, f0_midi_pred=f0_midi_pred, amps=amps, hd=hd, noise=noise,
            amps_pred=amps_pred, hd_pred=hd_pred, noise_pred=noise_pred,
            f0_loss_weights=weights,
        )  # fmt: skip

    def apply(self, params: dict, features: dict, training: bool = True,
              return_losses: bool = True) -> Any:  # fmt: skip
        """Call with ``params``; returns ``(outputs, losses_dict)`` by default (training)."""
        return super().apply(params, features, training=training, return_losses=return_losses)


def _stop(x: Any) -> Any:
    return stop_gradient(x)


def _concat_z(zs: list) -> Any:
    zs = [z for z in zs if z is not None]
    if not zs:
        return None
    return zs[0] if len(zs) == 1 else ops.concatenate(zs, axis=-1)


class ZMidiAutoencoder(MidiAutoencoder):
    """ddsp's ``ZMidiAutoencoder``: a :class:`MidiAutoencoder` with extra latents.

    Args (beyond :class:`MidiAutoencoder`'s):
        z_synth_encoders: list of ZEncoders whose ``z`` (concatenated) conditions the
            synthcoder (its features get ``'z'``).
        z_global_encoders: list of ZEncoders whose ``z`` (concatenated) goes to the MIDI decoder.
        z_note_encoder: a ZEncoder whose ``z`` is pooled over the notes of ``q_pitch`` (each
            frame gets its note's mean and std, concatenated: see the module's deviations).
            Its features also hold ``amps_scaled``, ``hd_scaled``, ``noise_scaled``.
        z_preconditioning_stack: a layer applied to the decoder's latent (e.g. FcStackOut).
        z_global_prior, z_note_prior: loss objects on the latents that also sample them
            (``prior(z)``); None: skipped.

    Outputs additionally hold ``z_global`` and ``z_notes`` when present.
    """

    def __init__(self, synthcoder: Any = None, midi_encoder: Any = None,
                 midi_decoder: Any = None, sg_before_midiae: bool = True, reverb: bool = True,
                 preprocessor: Any = None, reconstruction_losses: Any = None,
                 qpitch_f0rec_loss: Any = None, pitch_f0rec_loss: Any = None,
                 pitch_qpitch_loss: Any = None, midi_slowness_loss: Any = None,
                 mask_f0_loss: bool = True, z_synth_encoders: Any = None,
                 z_global_encoders: Any = None, z_note_encoder: Any = None,
                 z_preconditioning_stack: Any = None, z_global_prior: Any = None,
                 z_note_prior: Any = None, seed: Any = None,
                 name: str | None = None):  # fmt: skip
        super().__init__(synthcoder, midi_encoder, midi_decoder, sg_before_midiae, reverb,
                         preprocessor, reconstruction_losses, qpitch_f0rec_loss,
                         pitch_f0rec_loss, pitch_qpitch_loss, midi_slowness_loss,
                         mask_f0_loss, seed=seed, name=name)  # fmt: skip
        self.z_synth_encoders = _layers(z_synth_encoders)
        self.z_global_encoders = _layers(z_global_encoders)
        self.z_note_encoder = z_note_encoder
        self.z_preconditioning_stack = z_preconditioning_stack
        self.z_global_prior = z_global_prior
        self.z_note_prior = z_note_prior

    def children(self) -> dict[str, Module]:
        out = super().children()
        for group in ("z_synth_encoders", "z_global_encoders"):
            for i, enc in enumerate(getattr(self, group) or []):
                if isinstance(enc, Module):
                    out[f"{group}_{i}"] = enc
        for n in ("z_note_encoder", "z_preconditioning_stack", "z_global_prior", "z_note_prior"):
            if isinstance(getattr(self, n), Module):
                out[n] = getattr(self, n)
        return out

    def z_synth_encode(self, features: dict) -> Any:
        return _concat_z([e(features)["z"] for e in self.z_synth_encoders or []])

    def z_global_encode(self, features: dict) -> Any:
        return _concat_z([e(features)["z"] for e in self.z_global_encoders or []])

    def z_note_encode(self, features: dict, q_pitch: Any) -> Any:
        if self.z_note_encoder is None:
            return None
        z = self.z_note_encoder(features)["z"]
        mean, std = nn.pool_over_notes(z, nn.get_note_mask(q_pitch))
        return ops.concatenate([mean, std], axis=-1)

    def _z_for_decoder(self, features: dict, q_pitch: Any) -> tuple[Any, Any, Any]:
        z_global = self.z_global_encode(features)
        z_notes = self.z_note_encode(features, q_pitch)
        if self.z_global_prior is not None and z_global is not None:
            self._update_losses_dict(self.z_global_prior, z_global)
            z_global = self.z_global_prior(z_global)
        if self.z_note_prior is not None and z_notes is not None:
            self._update_losses_dict(self.z_note_prior, z_notes)
            z_notes = self.z_note_prior(z_notes)
        z = _concat_z([z_global, z_notes])
        if self.z_preconditioning_stack is not None and z is not None:
            z = self.z_preconditioning_stack(z)
        return z_global, z_notes, z

    def call(self, features: dict, training: bool = True) -> dict:
        features = self.preprocess(features)
        z_synth = self.z_synth_encode(features)
        synth_audio, synth_params = self.synthcoder_branch(features, training, z_synth)
        amps, hd, noise = self.extract_harm_controls(synth_params)
        features.update(amps_scaled=amps, hd_scaled=hd, noise_scaled=noise)
        z_pitch, q_pitch, q_vel, weights = self._encode_midi(features, amps, hd, noise)
        z_global, z_notes, z = self._z_for_decoder(features, q_pitch)
        f0_midi_pred, midi_params, midi_audio = self._decode_midi(q_pitch, q_vel, z)
        amps_pred, hd_pred, noise_pred = self.extract_harm_controls(midi_params)
        if training:
            self.add_closeness_loss(self.qpitch_f0rec_loss, f0_midi_pred, q_pitch)
            self.add_zpitch_losses(z_pitch, q_pitch, f0_midi_pred)
        return self._finish(
            features, synth_params, training, synth_audio=synth_audio,
            midi_synth_params=midi_params, midi_audio=midi_audio, q_pitch=q_pitch, q_vel=q_vel,
            z_pitch=z_pitch, z_global=z_global, z_notes=z_notes, f0_midi_pred=f0_midi_pred,
            amps=amps, hd=hd, noise=noise, amps_pred=amps_pred, hd_pred=hd_pred,
            noise_pred=noise_pred, f0_loss_weights=weights,
        )  # fmt: skip


def _layers(value: Any) -> list | None:
    return None if value is None else list(make_iterable(value))


# ddsp's gin names: @models.MidiAutoencoder(), @models.ZMidiAutoencoder().
MidiAutoencoder = configurable(MidiAutoencoder, module="ddsp_ref.training.models")
ZMidiAutoencoder = configurable(ZMidiAutoencoder, module="ddsp_ref.training.models")
