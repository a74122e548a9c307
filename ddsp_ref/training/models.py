"""ddsp's ``training.models``: the Model base (losses dict) and the Autoencoder.

Restoring a model from checkpoints (ddsp's ``Model.restore``) is not here yet.
"""

from __future__ import annotations

import inspect
from typing import Any

from ..core.utils import make_iterable
from ..gin_support import register
from ..module import Module

__all__ = ["Model", "Autoencoder"]

_SUBMODULE_NAMES = ("preprocessor", "encoder", "decoder", "processor_group")


class Model(Module):
    """ddsp's ``Model``: a module whose call may gather losses in :attr:`losses_dict`.

    ``model(*args, return_losses=False, **kwargs)`` resets the losses dict, runs :meth:`call`
    and, with ``return_losses=True``, returns ``(outputs, losses_dict)`` where the dict also
    holds ``total_loss``, the sum of every loss. :attr:`losses_dict` and :attr:`total_loss`
    stay readable after the call.
    """

    def __init__(self, name: str | None = None):
        super().__init__(name=name, trainable=True)
        self._losses_dict: dict[str, Any] = {}

    @property
    def losses_dict(self) -> dict[str, Any]:
        """The losses of the last call, by name (scalars)."""
        return self._losses_dict

    @property
    def total_loss(self) -> Any:
        """Sum of :attr:`losses_dict`'s values, without ``total_loss`` itself (0.0 if empty)."""
        values = [v for k, v in self._losses_dict.items() if k != "total_loss"]
        total = 0.0
        for v in values:
            total = total + v
        return total

    def __call__(self, *args: Any, return_losses: bool = False, **kwargs: Any) -> Any:
        self._losses_dict = {}
        outputs = self.call(*args, **kwargs)
        if not return_losses:
            return outputs
        self._losses_dict["total_loss"] = self.total_loss
        return outputs, self._losses_dict

    def call(self, *args: Any, **kwargs: Any) -> Any:
        raise TypeError(f"{type(self).__name__} must define call()")

    def get_audio_from_outputs(self, outputs: dict) -> Any:
        raise TypeError(f"{type(self).__name__} must define get_audio_from_outputs()")

    def _update_losses_dict(self, loss_objs: Any, *args: Any, **kwargs: Any) -> None:
        """Add ``loss.get_losses_dict(*args, **kwargs)`` of every loss object (objects without
        that method are skipped, as in ddsp)."""
        for loss_obj in make_iterable(loss_objs):
            if hasattr(loss_obj, "get_losses_dict"):
                self._losses_dict.update(loss_obj.get_losses_dict(*args, **kwargs))


class Autoencoder(Model):
    """ddsp's ``Autoencoder``: preprocessor -> encoder -> decoder -> processor group.

    ``model(features, training=False)`` with a features dict (``audio [batch, n_samples]``,
    ``f0_hz``, ``loudness_db`` ``[batch, n_frames]``, ...) returns ddsp's outputs dict: the
    features, updated by the preprocessor, encoder and decoder outputs, plus each processor's
    ``{'signal', 'controls'}`` under its name, ``'out'`` and ``audio_synth [batch,
    n_samples]``. With ``training=True`` each loss gets ``(features['audio'],
    outputs['audio_synth'])`` and :attr:`losses_dict` / :attr:`total_loss` are filled.

    Unlike ddsp in eager mode, the caller's features dict is not modified (a shallow copy is
    updated).

    Parameters: :meth:`parameters` nests the sub-modules by name (``preprocessor``,
    ``encoder``, ``decoder``, ``processor_group``; those without parameters are left out), so
    ``value_and_grad(lambda p: model.apply(p, features)[1]['total_loss'])`` trains the model
    (:meth:`apply` defaults to ``training=True`` and ``return_losses=True``). As in keras, the
    layers sized by their inputs (Dense, RNN) have parameters only after the first call: call
    the model once on a batch before taking :meth:`parameters` for training.

    Args:
        preprocessor: a DictLayer such as ``F0LoudnessPreprocessor``, or None.
        encoder: a DictLayer producing e.g. ``z``, or None.
        decoder: a DictLayer such as ``RnnFcDecoder``.
        processor_group: a ``ProcessorGroup`` rendering the audio.
        losses: a loss or list of losses (objects with ``get_losses_dict``), or None.
    """

    def __init__(self, preprocessor: Any = None, encoder: Any = None, decoder: Any = None,
                 processor_group: Any = None, losses: Any = None,
                 name: str | None = None):  # fmt: skip
        super().__init__(name=name)
        self.preprocessor = preprocessor
        self.encoder = encoder
        self.decoder = decoder
        self.processor_group = processor_group
        self.loss_objs = make_iterable(losses) if losses is not None else []

    def children(self) -> dict[str, Module]:
        subs = {n: getattr(self, n) for n in _SUBMODULE_NAMES}
        return {n: m for n, m in subs.items() if isinstance(m, Module)}

    def encode(self, features: dict, training: bool = True) -> dict:
        """Features updated by the preprocessor's and the encoder's outputs (a new dict)."""
        features = _features_dict(features, "encode")
        if self.preprocessor is not None:
            features.update(_call_with_training(self.preprocessor, features, training))
        if self.encoder is not None:
            features.update(self.encoder(features))
        return features

    def decode(self, features: dict, training: bool = True) -> Any:
        """Audio ``[batch, n_samples]`` from encoded features (decoder, then processors)."""
        features = _features_dict(features, "decode")
        features.update(self._decoder(features, training))
        return self.processor_group(features)

    def call(self, features: dict, training: bool = False) -> dict:
        features = self.encode(features, training=training)
        features.update(self._decoder(features, training))
        if self.processor_group is None:
            raise ValueError("Autoencoder: a processor_group is needed to render audio")
        group_outputs = self.processor_group(features, return_outputs_dict=True)
        outputs = dict(group_outputs["controls"])
        outputs["audio_synth"] = group_outputs["signal"]
        if training:
            if "audio" not in features:
                raise KeyError("Autoencoder: training needs the target 'audio' in the features")
            self._update_losses_dict(self.loss_objs, features["audio"], outputs["audio_synth"])
        return outputs

    def _decoder(self, features: dict, training: bool) -> dict:
        if self.decoder is None:
            raise ValueError("Autoencoder: a decoder is needed")
        return _call_with_training(self.decoder, features, training)

    def get_audio_from_outputs(self, outputs: dict) -> Any:
        """The synthesized audio ``outputs['audio_synth']`` ``[batch, n_samples]``."""
        return outputs["audio_synth"]

    def apply(self, params: dict, features: dict, training: bool = True,
              return_losses: bool = True) -> Any:  # fmt: skip
        """Call with ``params`` in place of the stored parameters (see :class:`Module`);
        returns ``(outputs, losses_dict)`` by default, the losses dict holding ``total_loss``."""
        return super().apply(params, features, training=training, return_losses=return_losses)


def _call_with_training(layer: Any, features: dict, training: bool) -> Any:
    """``layer(features, training=training)`` if the layer's ``call`` takes ``training`` (or
    ``**kwargs``), else ``layer(features)``: keras drops the flag for layers that ignore it."""
    params = inspect.signature(getattr(layer, "call", layer)).parameters.values()
    if any(p.name == "training" or p.kind is p.VAR_KEYWORD for p in params):
        return layer(features, training=training)
    return layer(features)


def _features_dict(features: Any, where: str) -> dict:
    if not isinstance(features, dict):
        raise TypeError(
            f"Autoencoder.{where}: features must be a dict, got {type(features).__name__}"
        )
    return dict(features)


# ddsp's gin name: @models.Autoencoder().
for _cls in (Autoencoder,):
    register(_cls, module="ddsp_ref.training.models")
del _cls
