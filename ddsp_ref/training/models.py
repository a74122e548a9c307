"""ddsp's ``training.models``: the Model base (losses dict, ``restore``), the Autoencoder and
the ``get_model`` gin helper.
"""

from __future__ import annotations

import inspect
import os
import sys
from typing import Any

import numpy as np

from ..backend import array_namespace
from ..core.utils import make_iterable
from ..gin_support import configurable
from ..lazy import lazy_getattr
from ..module import Module, flatten_dict, outer_training_phase, training_phase, unflatten_dict

__all__ = ["Model", "Autoencoder", "get_model", "load_model_params"]

_SUBMODULE_NAMES = ("preprocessor", "encoder", "decoder", "processor_group")


class Model(Module):
    """ddsp's ``Model``: a module whose call may gather losses in :attr:`losses_dict`.

    ``model(*args, return_losses=False, **kwargs)`` resets the losses dict, runs :meth:`call`
    and, with ``return_losses=True``, returns ``(outputs, losses_dict)`` where the dict also
    holds ``total_loss``, the sum of every loss. :attr:`losses_dict` and :attr:`total_loss`
    stay readable after the call. ``training`` is resolved as keras does: an explicit value,
    else the phase of an enclosing call, else the default of :meth:`call`'s ``training``
    (``Autoencoder``: True, as in ddsp). It sets keras' training phase of every layer inside
    (``module.training_phase``): in a training call outside :meth:`apply`, spectrally
    normalised layers rewrite their stored kernels first, as ddsp does.
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
        training = _resolve_training(self.call, kwargs)
        if training is None:
            outputs = self.call(*args, **kwargs)
        else:
            with training_phase(training):
                outputs = self.call(*args, training=training, **kwargs)
        if not return_losses:
            return outputs
        self._losses_dict["total_loss"] = self.total_loss
        return outputs, self._losses_dict

    def call(self, *args: Any, **kwargs: Any) -> Any:
        raise TypeError(f"{type(self).__name__} must define call()")

    def _checkpoint_params(self, checkpoint_path: str | os.PathLike) -> tuple[str, dict]:
        """ddsp_ref's ``ckpt-<step>.npz`` (preferred when a folder holds both), else ddsp's
        TensorFlow checkpoint (``tf_checkpoint``: mapped onto this model's layers, building
        those not built yet from the saved shapes)."""
        from .checkpoints import latest_checkpoint
        from .tf_checkpoint import is_tf_checkpoint, tf_checkpoint_params

        path = os.fspath(checkpoint_path)
        ours = latest_checkpoint(path) if os.path.isdir(path) else path.endswith(".npz")
        if not ours and is_tf_checkpoint(path):
            return tf_checkpoint_params(self, path, strict=False)
        return load_model_params(path)

    def restore(self, checkpoint_path: str | os.PathLike, verbose: bool = True,
                restore_keys: list[str] | None = None) -> str:  # fmt: skip
        """Load parameters from a checkpoint (ddsp's ``Model.restore``).

        The parameters saved by :class:`~ddsp_ref.training.trainers.Trainer` (``params/...`` of
        ``ckpt-<step>.npz``; the optimiser state is ignored). Each value keeps the model's current
        dtype and device (numpy or cupy).

        ddsp's TensorFlow checkpoints (a folder of ``ckpt-<step>.index`` / ``.data-*`` files, a
        prefix or an ``.index`` file) are read without TensorFlow and mapped onto the model
        (``tf_checkpoint``); their layers are built from the saved shapes, so the colab's
        ``model = Autoencoder(); model.restore(ckpt_dir)`` works before any call.

        For ddsp_ref's checkpoints the model must have been called once (e.g. ``model(batch)``)
        when it has layers sized by their first input (Dense, RNN): their parameters do not
        exist before, and a checkpoint holding them is refused with an error saying so.

        Args:
            checkpoint_path: a checkpoint file, or a folder whose latest checkpoint is used.
            verbose: print which checkpoint and which sub-modules were restored (to stderr).
            restore_keys: names of top-level sub-modules to restore, e.g. ``['decoder']``
                (the others keep their values); None restores every parameter.

        Returns:
            the checkpoint file read.

        Raises:
            FileNotFoundError: no such file, or a folder without a checkpoint.
            KeyError: a restore key that is not a sub-module with parameters in both the model
                and the checkpoint; parameters the model lacks (call it once first) or that
                the checkpoint lacks.
            ValueError: a shape mismatch (e.g. the model was configured with other sizes).
        """
        where = f"{type(self).__name__}.restore"
        path, loaded = self._checkpoint_params(checkpoint_path)
        current = self.parameters()
        if restore_keys is None:
            keys = sorted(set(loaded) | set(current))
        else:
            keys = [restore_keys] if isinstance(restore_keys, str) else list(restore_keys)
            absent = [k for k in keys if k not in loaded or k not in current]
            if absent:
                raise KeyError(
                    f"{where}: restore_keys {absent} are not sub-modules with parameters in both "
                    f"the checkpoint {path} (has {sorted(loaded)}) and the model (has "
                    f"{sorted(current)})"
                )
        chosen_loaded = {k: loaded[k] for k in keys if k in loaded}
        chosen_current = {k: current[k] for k in keys if k in current}
        self.set_parameters(_restored_like(chosen_loaded, chosen_current, path, where))
        if verbose:
            what = "all parameters" if restore_keys is None else ", ".join(keys)
            print(f"{where}: restored {what} from {path}", file=sys.stderr)
        return path

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
    n_samples]``. With ``training=True`` (the default, as in ddsp: ``model(batch)`` is a
    training call) each loss gets ``(features['audio'], outputs['audio_synth'])`` and
    :attr:`losses_dict` / :attr:`total_loss` are filled; inference passes ``training=False``.

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

    def call(self, features: dict, training: bool = True) -> dict:
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


def load_model_params(checkpoint_path: str | os.PathLike) -> tuple[str, dict]:
    """The checkpoint file a path designates and its parameter tree (numpy arrays).

    The one place that knows checkpoint formats: ddsp_ref's ``ckpt-<step>.npz`` (a file, or the
    latest complete one of a folder). Another format (ddsp's TensorFlow checkpoints) is added
    here as one more branch returning the same ``(path, params)``.

    Raises:
        FileNotFoundError: no such file, or a folder without a checkpoint.
        ValueError: a file that is not a ddsp_ref checkpoint.
    """
    from .checkpoints import load_checkpoint, resolve_checkpoint

    path = resolve_checkpoint(checkpoint_path, "restore")
    _, params, _, _ = load_checkpoint(path)
    return path, params


def _restored_like(loaded: dict, current: dict, path: str, where: str) -> dict:
    """``loaded`` checked leaf by leaf against ``current`` (names and shapes), each leaf cast
    to the current one's dtype on its device."""
    flat_loaded, flat_current = flatten_dict(loaded), flatten_dict(current)
    not_in_model = sorted(set(flat_loaded) - set(flat_current))
    if not_in_model:
        raise KeyError(
            f"{where}: the model has no parameters {not_in_model[:8]} (of {len(not_in_model)}) "
            f"that {path} holds. Layers sized by their input (Dense, RNN) are created on the "
            "first call: call the model once on a batch, e.g. model(batch), then restore"
        )
    not_in_ckpt = sorted(set(flat_current) - set(flat_loaded))
    if not_in_ckpt:
        raise KeyError(f"{where}: {path} lacks the model's parameters {not_in_ckpt[:8]}")
    out = {}
    for key, want in flat_current.items():
        got = flat_loaded[key]
        if np.shape(got) != np.shape(want):
            raise ValueError(
                f"{where}: {key} has shape {np.shape(got)} in {path}, {np.shape(want)} in the "
                "model (was it configured with other sizes?)"
            )
        out[key] = array_namespace(want).asarray(got, dtype=want.dtype)
    return unflatten_dict(out)


def get_model(model: Any = None) -> Any:
    """ddsp's gin helper: the model bound to ``get_model.model`` (e.g. ``get_model.model =
    @models.Autoencoder()`` in models/*.gin)."""
    if model is None:
        raise ValueError(
            "get_model: no model configured; a model config binds get_model.model (e.g. "
            "--gin_file=models/solo_instrument.gin)"
        )
    return model


get_model = configurable(get_model, module="ddsp_ref.training.models")


def _resolve_training(call: Any, kwargs: dict) -> bool | None:
    """keras' training value of a call (popped from ``kwargs``): explicit (not None), else the
    enclosing call's phase, else the default of ``call``'s ``training`` parameter; None when
    ``call`` takes no ``training`` and none was given."""
    explicit = kwargs.pop("training", None)
    if explicit is not None:
        return bool(explicit)
    param = inspect.signature(call).parameters.get("training")
    if param is None:
        return None
    outer = outer_training_phase()
    if outer is not None:
        return outer
    return None if param.default in (inspect.Parameter.empty, None) else bool(param.default)


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


# ddsp's gin name @models.Autoencoder(); configurable as in ddsp, so that the colab's
# ``gin.parse_config_file(...)`` followed by ``models.Autoencoder()`` in Python uses the bindings.
Autoencoder = configurable(Autoencoder, module="ddsp_ref.training.models")


# ddsp's other models (ddsp.training.models.X): imported on first use (they import this module).
__getattr__ = lazy_getattr(
    __name__,
    attributes={
        "InverseSynthesis": ".inverse_synthesis",
        "MidiAutoencoder": ".midi_autoencoder",
        "ZMidiAutoencoder": ".midi_autoencoder",
    },
)
