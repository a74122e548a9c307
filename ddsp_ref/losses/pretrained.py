"""Losses of ddsp.losses that need a pretrained network or tensorflow_probability in ddsp.

``EmbeddingLoss`` (any differentiable embedding model), ``PretrainedCREPEEmbeddingLoss`` (CREPE
activations from a network the user supplies: the weights are not bundled) and
``HmmTranscriber`` (the note-transcription HMM, with its forward algorithm and Viterbi decoding
written out instead of tfp.distributions.HiddenMarkovModel). Re-exported by ``ddsp_ref.losses``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from ..autodiff import ops, stop_gradient
from ..backend import array_namespace
from ..core.utils import to_float
from ..gin_support import register
from ..module import Module
from ..validation import positive_int, positive_number
from .base import Loss, check_loss_type, loss_weight, mean_difference

__all__ = [
    "CREPE_EMBEDDING_SCALES",
    "EmbeddingLoss",
    "PretrainedCREPE",
    "PretrainedCREPEEmbeddingLoss",
    "HmmTranscriber",
]

_HALF_LOG_2PI = 0.5 * math.log(2.0 * math.pi)


# -- perceptual (embedding) losses -------------------------------------------------------------
class EmbeddingLoss(Loss):
    """Distance between embeddings of the target and the audio by a (pretrained) model.

    Args:
        weight: loss weight; the loss is 0 when ``weight <= 0``.
        loss_type: 'L1', 'L2' or 'COSINE'.
        pretrained_model: any differentiable callable ``audio [batch, n_samples] ->
            embedding`` written with ddsp_ref ops (or a Module).
        name: name of the loss.

    Call arguments: ``(target_audio, audio)``; returns
    ``weight * mean_difference(model(target_audio), model(audio), loss_type)``.

    Raises:
        ValueError: calling with ``weight > 0`` and no model.
    """

    def __init__(
        self,
        weight: float = 1.0,
        loss_type: str = "L1",
        pretrained_model: Callable | None = None,
        name: str = "embedding_loss",
    ):
        super().__init__(name=name)
        check_loss_type(loss_type)
        self.weight = loss_weight(weight, "weight", type(self).__name__)
        self.loss_type = loss_type
        self.pretrained_model = pretrained_model

    def call(self, target_audio: Any, audio: Any) -> Any:
        if self.weight <= 0.0:
            return 0.0
        if self.pretrained_model is None:
            raise ValueError(
                f"{self.name}: no pretrained_model was given (a callable audio -> embedding)"
            )
        target_emb = self.pretrained_model(to_float(target_audio))
        synth_emb = self.pretrained_model(to_float(audio))
        return self.weight * mean_difference(target_emb, synth_emb, self.loss_type)


# Per-layer factors that bring CREPE activation losses to comparable scales (ddsp's table).
CREPE_EMBEDDING_SCALES = {
    "conv1-BN": 1.3,
    "conv1-maxpool": 1.0,
    "conv2-BN": 1.4,
    "conv2-maxpool": 1.1,
    "conv3-BN": 1.9,
    "conv3-maxpool": 1.6,
    "conv4-BN": 1.5,
    "conv4-maxpool": 1.4,
    "conv5-BN": 1.9,
    "conv5-maxpool": 1.7,
    "conv6-BN": 30.0,
    "conv6-maxpool": 25.0,
    "classifier": 130.0,
}


class PretrainedCREPE(Module):
    """CREPE activations of audio, with ddsp's framing (losses version).

    ddsp loads the CREPE weights with the ``crepe`` package; they cannot be shipped here, so
    the network is supplied by the user: ``activation_model(frames [n, 1024]) -> [n, ...]``, a
    differentiable callable returning the activations of ``activation_layer`` (e.g. a port of
    CREPE with its published weights).

    Audio ``[batch, n_samples]`` is zero padded by 512 on both sides, cut into frames of 1024
    with hop 1024 (no end padding), each frame normalised to ``(x - mean) / (std + 1e-5)``.
    A silent frame has std 0, whose gradient is infinite (as in ddsp).

    Returns activations ``[batch, n_frames, features]``.
    """

    frame_length = 1024

    def __init__(
        self,
        activation_model: Callable,
        model_capacity: str = "tiny",
        activation_layer: str = "conv5-maxpool",
        name: str = "pretrained_crepe",
    ):
        super().__init__(name=name)
        if not callable(activation_model):
            raise ValueError(
                f"PretrainedCREPE: activation_model must be callable, got "
                f"{type(activation_model).__name__}"
            )
        self.activation_model = activation_model
        self.model_capacity = model_capacity
        self.activation_layer = activation_layer

    def frame_audio(self, audio: Any, hop_length: int = 1024, center: bool = True) -> Any:
        """Normalised frames ``[batch, n_frames, 1024]``."""
        audio = to_float(audio)
        if center:
            pad = self.frame_length // 2
            audio = ops.pad(audio, [(0, 0), (pad, pad)])
        frames = ops.frame(audio, self.frame_length, hop_length)
        mean = ops.mean(frames, axis=-1, keepdims=True)
        centred = frames - mean
        std = ops.sqrt(ops.mean(ops.square(centred), axis=-1, keepdims=True))
        return centred / (std + 1e-5)

    def __call__(self, audio: Any) -> Any:
        frames = self.frame_audio(audio)
        batch, n_frames = frames.shape[0], frames.shape[1]
        outputs = self.activation_model(ops.reshape(frames, (-1, self.frame_length)))
        return ops.reshape(outputs, (batch, n_frames, -1))


class PretrainedCREPEEmbeddingLoss(EmbeddingLoss):
    """Embedding loss on CREPE activations (ddsp.losses.PretrainedCREPEEmbeddingLoss).

    The effective weight is ``20 * CREPE_EMBEDDING_SCALES[activation_layer] * weight``, as in
    ddsp. The CREPE network must be supplied (see :class:`PretrainedCREPE`): pass
    ``activation_model``, a callable on normalised frames ``[n, 1024]``.

    Raises:
        ValueError: unknown ``activation_layer`` (the message lists the valid ones), or no
            ``activation_model``.
    """

    def __init__(
        self,
        weight: float = 1.0,
        loss_type: str = "L1",
        model_capacity: str = "tiny",
        activation_layer: str = "classifier",
        activation_model: Callable | None = None,
        name: str = "pretrained_crepe_embedding_loss",
    ):
        weight = loss_weight(weight, "weight", "PretrainedCREPEEmbeddingLoss")
        if activation_layer not in CREPE_EMBEDDING_SCALES:
            raise ValueError(
                f"activation layer {activation_layer!r} not found, valid names are "
                f"{list(CREPE_EMBEDDING_SCALES)}"
            )
        if activation_model is None:
            raise ValueError(
                "PretrainedCREPEEmbeddingLoss: the CREPE weights are not bundled with ddsp_ref; "
                "pass activation_model, a callable mapping frames [n, 1024] to the activations "
                f"of {activation_layer!r}"
            )
        scale = CREPE_EMBEDDING_SCALES[activation_layer]
        model = PretrainedCREPE(activation_model, model_capacity, activation_layer)
        super().__init__(
            weight=20.0 * scale * weight, loss_type=loss_type, pretrained_model=model, name=name
        )


# -- HMM transcriber ---------------------------------------------------------------------------
class HmmTranscriber(Module):
    """HMM over MIDI pitch states for transcribing (pitch, amplitude) traces to notes.

    ddsp builds it with tfp.distributions.HiddenMarkovModel; here the forward algorithm (for
    :meth:`nll`, differentiable) and Viterbi decoding (:meth:`predict_midi`) are written out.
    States 0..n_pitches-1: state 0 is "off" (pitch ~ N(n/2, n), amplitude ~ N(amps_off_center,
    amps_off_scale)); state k > 0 is MIDI pitch k (pitch ~ N(k, midi_std), amplitude ~
    N(amps_on_center, amps_on_scale)). Uniform initial distribution; a transition keeps the
    state with probability ``1 - 1/avg_length`` and spreads the rest uniformly.

    Calling it returns :meth:`nll`.
    """

    def __init__(
        self,
        avg_length: float = 200,
        midi_std: float = 0.5,
        amps_on_center: float = 1.5,
        amps_on_scale: float = 0.5,
        amps_off_center: float = 0.0,
        amps_off_scale: float = 0.1,
        n_timesteps: int = 1000,
        n_pitches: int = 128,
        weight: float = 1.0,
        name: str = "hmm_transcriber",
    ):
        super().__init__(name=name)
        where = "HmmTranscriber"
        n_pitches = positive_int(n_pitches, "n_pitches", where)
        n_timesteps = positive_int(n_timesteps, "n_timesteps", where)
        weight = loss_weight(weight, "weight", where)
        for key, value in (
            ("avg_length", avg_length),
            ("midi_std", midi_std),
            ("amps_on_scale", amps_on_scale),
            ("amps_off_scale", amps_off_scale),
        ):
            positive_number(value, key, where)  # fmt: skip
        for key, value in (
            ("amps_on_center", amps_on_center),
            ("amps_off_center", amps_off_center),
        ):
            loss_weight(value, key, where)
        if n_pitches < 2 or avg_length <= 1 or min(midi_std, amps_on_scale, amps_off_scale) <= 0:
            raise ValueError(
                f"HmmTranscriber: need n_pitches >= 2 ({n_pitches}), avg_length > 1 "
                f"({avg_length}) and positive scales ({midi_std}, {amps_on_scale}, "
                f"{amps_off_scale})"
            )
        self.avg_length, self.midi_std = avg_length, midi_std
        self.n_timesteps, self.n_pitches, self.weight = int(n_timesteps), int(n_pitches), weight
        hold = 1.0 - 1.0 / avg_length
        other = (1.0 - hold) / (n_pitches - 1)
        transitions = (hold - other) * np.eye(n_pitches) + other
        self.log_transitions = np.log(transitions / transitions.sum(axis=1, keepdims=True))
        on = np.ones(n_pitches - 1)
        pitch_loc = np.concatenate([[n_pitches / 2.0], np.arange(1, n_pitches)])
        pitch_scale = np.concatenate([[float(n_pitches)], on * midi_std])
        amps_loc = np.concatenate([[amps_off_center], on * amps_on_center])
        amps_scale = np.concatenate([[amps_off_scale], on * amps_on_scale])
        self.loc = np.stack([pitch_loc, amps_loc], axis=-1)  # [states, 2]
        self.scale = np.stack([pitch_scale, amps_scale], axis=-1)

    def __call__(self, pitch: Any, amps: Any) -> Any:
        return self.nll(pitch, amps)

    @staticmethod
    def straight_through(x: Any, x_quant: Any) -> Any:
        """Value of ``x_quant``, gradient of ``x`` (straight-through estimator)."""
        return x - stop_gradient(x - x_quant)

    def _emission_log_probs(self, pitch: Any, amps: Any) -> Any:
        """log p(observation_t | state) ``[batch, n_timesteps, states]`` (diagonal Normal)."""
        pitch, amps = to_float(pitch), to_float(amps)
        shapes = (tuple(pitch.shape), tuple(amps.shape))
        if (
            len(shapes[0]) != 3
            or shapes[0] != shapes[1]
            or shapes[0][-1] != 1
            or shapes[0][1] != self.n_timesteps
        ):
            raise ValueError(
                f"HmmTranscriber: pitch and amps must both be [batch, "
                f"{self.n_timesteps}, 1], got {shapes[0]} and {shapes[1]}"
            )
        xp = array_namespace(pitch, amps)
        loc = xp.asarray(self.loc, dtype=pitch.dtype)
        scale = xp.asarray(self.scale, dtype=pitch.dtype)
        log_norm = xp.sum(xp.log(scale), axis=-1) + 2 * _HALF_LOG_2PI
        z_pitch = (pitch - loc[:, 0]) / scale[:, 0]
        z_amps = (amps - loc[:, 1]) / scale[:, 1]
        return -0.5 * (ops.square(z_pitch) + ops.square(z_amps)) - log_norm

    def nll(self, pitch: Any, amps: Any, per_example_loss: bool = False) -> Any:
        """``weight * -log p(pitch, amps) / n_timesteps`` (forward algorithm), batch mean.

        Args:
            pitch: MIDI pitch ``[batch, n_timesteps, 1]``.
            amps: amplitudes ``[batch, n_timesteps, 1]``.
            per_example_loss: return ``[batch]`` instead of the mean.
        """
        emissions = self._emission_log_probs(pitch, amps)
        xp = array_namespace(stop_gradient(emissions))
        log_a = xp.asarray(self.log_transitions, dtype=emissions.dtype)
        alpha = emissions[:, 0] - math.log(self.n_pitches)
        for t in range(1, self.n_timesteps):
            alpha = ops.logsumexp(ops.expand_dims(alpha, -1) + log_a, axis=-2) + emissions[:, t]
        avg_nll = -ops.logsumexp(alpha, axis=-1) / self.n_timesteps
        loss = avg_nll if per_example_loss else ops.mean(avg_nll)
        return self.weight * loss

    def predict_midi(self, pitch: Any, amps: Any, channel_dim: bool = True) -> Any:
        """Most likely state sequence (Viterbi) as MIDI ``[batch, n_timesteps(, 1)]``; 0 = off."""
        emissions = stop_gradient(self._emission_log_probs(pitch, amps))
        xp = array_namespace(emissions)
        log_a = xp.asarray(self.log_transitions, dtype=emissions.dtype)
        delta = emissions[:, 0] - math.log(self.n_pitches)
        back = []
        for t in range(1, self.n_timesteps):
            scores = delta[:, :, None] + log_a  # [batch, from, to]
            back.append(xp.argmax(scores, axis=1))
            delta = xp.max(scores, axis=1) + emissions[:, t]
        state = xp.argmax(delta, axis=-1)
        path = [state]
        for pointers in reversed(back):
            state = xp.take_along_axis(pointers, state[:, None], axis=1)[:, 0]
            path.append(state)
        q_pitch = xp.stack(path[::-1], axis=1).astype(emissions.dtype)
        return q_pitch[:, :, None] if channel_dim else q_pitch


for _cls in (EmbeddingLoss, PretrainedCREPEEmbeddingLoss, HmmTranscriber):
    register(_cls, module="ddsp_ref.losses")
del _cls
