"""ddsp's TensorFlow checkpoints on ddsp_ref models, without TensorFlow.

ddsp 3.7.0 saves ``tf.train.Checkpoint(model=model, optimizer=optimizer)`` (``Trainer.save``):
object-based keys such as ``model/decoder/rnn/rnn/cell/kernel/.ATTRIBUTES/VARIABLE_VALUE``,
following keras' attribute tracking. This module finds a checkpoint (a folder, a ``ckpt-N``
prefix or its ``.index``), reads it with :class:`~ddsp_ref.training.tf_bundle.TensorBundle`,
and maps the model's variables onto a ddsp_ref model's parameters:

======================================================  =========================================
ddsp checkpoint key (without ``/.ATTRIBUTES/...``)       ddsp_ref parameter
======================================================  =========================================
``model/decoder/input_stacks/<i>/layer_with_weights-    ``decoder/input_stack_<i>/fc_<j>/dense/``
<j>/layer_with_weights-0/{kernel,bias}``                 ``{kernel,bias}``
``.../layer_with_weights-<j>/layer_with_weights-1/      ``.../fc_<j>/layer_norm/{gamma,beta}``
{gamma,beta}``
``model/decoder/out_stack/...``                          ``decoder/out_stack/...`` (as above)
``model/decoder/rnn/rnn/cell/{kernel,recurrent_kernel,  ``decoder/rnn/{kernel,recurrent_kernel,``
bias}``                                                  ``bias}`` (same layouts: keras' GRU with
                                                         ``reset_after``, bias ``[2, 3 * units]``)
``model/decoder/dense_out/{kernel,bias}``                ``decoder/dense_out/{kernel,bias}``
``.../rnn/rnn/{forward,backward}_layer/cell/...``        ``.../rnn/...``, ``.../rnn/backward/...``
(``bidir=True``, keras' ``Bidirectional``)
``model/encoder/{z_norm,rnn/rnn/cell,dense_out}/...``    ``encoder/{z_norm,rnn,dense_out}/...``
``model/processor_group/<name>/<variable>``              ``processor_group/<name>/<variable>``
                                                         (e.g. ``reverb/ir``)
``model/decoder/dilated_conv_stack/conv_in/{kernel,      ``decoder/dilated_conv_stack/conv_in/``
bias}`` (keras' ``[k, 1, a, b]`` kernels)                ``{kernel,bias}`` (``[k, a, b]``)
``.../layers/<i>/layer_with_weights-0/...``,             ``.../dilated_conv_<i>/...``,
``.../norms/<i>/...``, ``.../resample_layers/<r>/...``   ``.../norm_<i>/...``,
                                                         ``.../resample_<r>/...``
``<conv>/w``, ``<conv>/layer/bias``, ``<conv>/sn_u``     ``<conv>/kernel``, ``<conv>/bias``,
(``spectral_norm``: the SpectralNormalization wrapper)   ``<conv>/sn_u`` (non-trainable)
======================================================  =========================================

ddsp's ``FcStack`` and ``Fc`` are keras ``Sequential`` models, which name their weighted layers
``layer_with_weights-<k>`` in order. Layers that are not built yet (keras builds them at the
first call) are built here from the checkpoint's shapes, as keras' deferred restore does.

Typical use (ddsp's colab; ``import ddsp_ref.losses, ddsp_ref.training`` first, so that gin
knows every name the config uses)::

    gin.parse_config_file(find_operative_config(folder), skip_unknown=True)
    model = gin.get_configurable("models.Autoencoder")()  # gin-registered: bindings apply
    restore_tf_checkpoint(model, folder)
    outputs = model(features, training=False)
"""

from __future__ import annotations

import glob
import os
import re
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np

from ..module import Module
from .decoders import RnnFcDecoder
from .nn.base import Layer
from .nn.conv import Conv1D, Conv1DTranspose, DilatedConvStack
from .nn.layers import Dense, Fc, FcStack, LayerNormalization, Normalize
from .nn.recurrent import Rnn, StatelessRnn
from .tf_bundle import TensorBundle

__all__ = [
    "is_tf_checkpoint",
    "latest_tf_checkpoint",
    "find_operative_config",
    "load_tf_checkpoint",
    "tf_params_for",
    "restore_tf_checkpoint",
    "tf_checkpoint_params",
    "tf_adam_state_for",
]

VALUE_SUFFIX = "/.ATTRIBUTES/VARIABLE_VALUE"
_CKPT_RE = re.compile(r"^(.*)-(\d+)\.index$")


def latest_tf_checkpoint(path: str | os.PathLike) -> str:
    """The checkpoint prefix meant by ``path``: a prefix (``.../ckpt-300``), its ``.index`` or
    ``.data-*`` file, or a folder (the one its ``checkpoint`` file names, else the highest
    ``<name>-<step>.index``), as ddsp's ``train_util.get_latest_checkpoint`` resolves them.

    Raises:
        FileNotFoundError: nothing that looks like a TF checkpoint there.
    """
    path = os.fspath(path)
    if os.path.isdir(path):
        return _latest_in_folder(path)
    if path.endswith(".index"):
        path = path[: -len(".index")]
    path = re.sub(r"\.data-\d{5}-of-\d{5}$", "", path)
    if os.path.isfile(path + ".index"):
        return path
    raise FileNotFoundError(f"no TensorFlow checkpoint at {path!r} (no {path}.index)")


def is_tf_checkpoint(path: str | os.PathLike) -> bool:
    """Whether ``path`` names a TF checkpoint (as :func:`latest_tf_checkpoint` resolves it), for
    a ``restore`` that accepts both ddsp_ref's and ddsp's checkpoints."""
    try:
        latest_tf_checkpoint(path)
    except FileNotFoundError:
        return False
    return True


def _latest_in_folder(folder: str) -> str:
    state = os.path.join(folder, "checkpoint")
    if os.path.isfile(state):  # text proto: model_checkpoint_path: "ckpt-300"
        with open(state, encoding="utf-8") as f:
            match = re.search(r'^model_checkpoint_path:\s*"(.*)"', f.read(), re.M)
        if match:
            prefix = os.path.join(folder, match.group(1))
            if os.path.isfile(prefix + ".index"):
                return prefix
    found = []
    for index in glob.glob(os.path.join(glob.escape(folder), "*.index")):
        m = _CKPT_RE.match(index)
        if m:
            found.append((int(m.group(2)), m.group(1) + "-" + m.group(2)))
    if not found:
        raise FileNotFoundError(f"no TensorFlow checkpoint (*-<step>.index) in {folder!r}")
    return max(found)[1]


def find_operative_config(path: str | os.PathLike) -> str:
    """The ``operative_config-<step>.gin`` with the highest step in the checkpoint's folder
    (``path`` as for :func:`latest_tf_checkpoint`, or the folder itself).

    Raises:
        FileNotFoundError: no operative config there.
    """
    path = os.fspath(path)
    folder = path if os.path.isdir(path) else os.path.dirname(path) or "."
    configs = []
    for name in os.listdir(folder):
        m = re.match(r"^operative_config-(\d+)\.gin$", name)
        if m:
            configs.append((int(m.group(1)), os.path.join(folder, name)))
    if not configs:
        raise FileNotFoundError(f"no operative_config-<step>.gin in {folder!r}")
    return max(configs)[1]


def load_tf_checkpoint(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Every numeric tensor of the checkpoint at ``path`` (see :func:`latest_tf_checkpoint`)
    by its key (e.g. ``model/decoder/dense_out/kernel/.ATTRIBUTES/VARIABLE_VALUE``), each
    crc32c-checked. String tensors (the object graph) are left out."""
    return dict(_BundleView(TensorBundle(latest_tf_checkpoint(path))))


class _BundleView(Mapping):
    """The numeric tensors of a bundle as a read-only mapping that reads (and checks) a tensor
    only when it is looked up: restoring a model then skips the optimizer's slots."""

    def __init__(self, bundle: TensorBundle):
        self.bundle = bundle
        self._keys = [k for k, e in bundle.entries.items() if e.dtype != 7]  # 7: DT_STRING

    def __contains__(self, key: object) -> bool:  # without reading the tensor
        entry = self.bundle.entries.get(key) if isinstance(key, str) else None
        return entry is not None and entry.dtype != 7

    def __getitem__(self, key: str) -> np.ndarray:
        if key not in self:
            raise KeyError(key)
        return self.bundle.read(key)

    def __iter__(self) -> Iterator[str]:
        return iter(self._keys)

    def __len__(self) -> int:
        return len(self._keys)


# -- mapping ------------------------------------------------------------------------------------
# (ddsp_ref path, checkpoint key, owning module) of every parameter a module expects.
_Expected = Iterator[tuple[tuple[str, ...], str, Module]]


def _layer_names(layer: Layer) -> list[str]:
    """Parameter names of an nn layer, also before it is built."""
    if isinstance(layer, Dense):
        return ["kernel"] + (["bias"] if layer.use_bias else [])
    if isinstance(layer, LayerNormalization):
        return (["gamma"] if layer.scale else []) + (["beta"] if layer.center else [])
    if isinstance(layer, Normalize):
        return ["scale", "shift"]
    if isinstance(layer, (Conv1D, Conv1DTranspose)):
        return ["kernel", "bias"] + (["sn_u"] if layer.spectral_norm else [])
    return ["kernel", "recurrent_kernel", "bias"]  # GRU / LSTM


# ddsp's SpectralNormalization wrapper tracks the kernel as its `w` and the layer as `layer`.
_SPECTRAL_NORM_KEYS = {"kernel": "w", "bias": "layer/bias", "sn_u": "sn_u"}


def _layer_key(layer: Layer, tf: str, name: str) -> str:
    if getattr(layer, "spectral_norm", False):
        return f"{tf}/{_SPECTRAL_NORM_KEYS[name]}"
    return f"{tf}/{name}"


def _expected(module: Module, tf: str, ours: tuple[str, ...]) -> _Expected:
    """The parameters of ``module`` (ddsp_ref path ``ours``, checkpoint path ``tf``)."""
    if isinstance(module, (Rnn, StatelessRnn)):
        # ddsp's Rnn holds the keras GRU / LSTM as `rnn`; with bidir, keras' Bidirectional
        # holds two of them as `forward_layer` and `backward_layer` (trainable in that order).
        backward = getattr(module, "backward", None)
        if backward is not None:
            yield from _layer_expected(module, f"{tf}/rnn/forward_layer/cell", ours)
            back_tf, back_ours = f"{tf}/rnn/backward_layer/cell", ours + ("backward",)
            yield from _layer_expected(backward, back_tf, back_ours)
            return
        tf = f"{tf}/rnn/cell"
    if isinstance(module, Layer):
        yield from _layer_expected(module, tf, ours)
        return
    for name in module._params:  # processors' own variables (Reverb's ir, ...)
        yield ours + (name,), f"{tf}/{name}", module
    for name, child in module.children().items():
        yield from _expected(child, _child_tf_path(module, name, child, tf), ours + (name,))


def _layer_expected(layer: Layer, tf: str, ours: tuple[str, ...]) -> _Expected:
    for name in _layer_names(layer):
        yield ours + (name,), _layer_key(layer, tf, name), layer


def _child_tf_path(parent: Module, name: str, child: Module, tf: str) -> str:
    """Where keras' tracking puts ``parent``'s child ``name`` in ddsp's checkpoints."""
    if isinstance(parent, RnnFcDecoder) and name.startswith("input_stack_"):
        return f"{tf}/input_stacks/{name[len('input_stack_') :]}"  # a tracked list
    if isinstance(parent, FcStack):  # keras Sequential: weighted layers in order
        return f"{tf}/layer_with_weights-{parent.layers.index(child)}"
    if isinstance(parent, Fc):  # Sequential([Dense, LayerNormalization, activation])
        return f"{tf}/layer_with_weights-{0 if name == 'dense' else 1}"
    if isinstance(parent, DilatedConvStack):  # tracked lists; layers are Sequential(relu, conv)
        for ours, theirs in _CONV_STACK_LISTS:
            if name.startswith(ours):
                return f"{tf}/{theirs.format(name[len(ours) :])}"
    return f"{tf}/{name}"  # Autoencoder sub-modules, processors of a group, ...


_CONV_STACK_LISTS = (
    ("dilated_conv_", "layers/{}/layer_with_weights-0"),
    ("norm_", "norms/{}"),
    ("resample_", "resample_layers/{}"),
)


def tf_params_for(model: Module, variables: Mapping[str, Any], strict: bool = True,
                  root: str = "model") -> dict[str, Any]:  # fmt: skip
    """ddsp checkpoint variables (:func:`load_tf_checkpoint`) as ``model``'s nested parameters
    dict, ready for ``model.set_parameters``.

    Layers not built yet are built from the checkpoint's shapes (so ``set_parameters``
    accepts the dict); built ones must match. Values are float32 numpy arrays.

    Args:
        model: a ddsp_ref model (e.g. :class:`~ddsp_ref.training.models.Autoencoder`) or any
            module whose variables sit under ``root`` in the checkpoint.
        variables: checkpoint key -> array.
        strict: also fail if the checkpoint holds ``root/...`` variables the model has no
            place for (as TF's ``assert_consumed``); optimizer slots are never required.
        root: the checkpoint's name for the model (ddsp's ``Trainer`` uses ``model``).

    Raises:
        KeyError: a model parameter is missing from the checkpoint (all are listed), or, with
            ``strict``, checkpoint variables are left over.
        ValueError: a shape that differs from the model's.
    """
    expected = list(_expected(model, root, ()))
    missing = [tf for _, tf, _ in expected if tf + VALUE_SUFFIX not in variables]
    if missing:
        raise KeyError(
            f"tf_params_for: the checkpoint lacks {len(missing)} variable(s) of the "
            f"{type(model).__name__}: {missing}; it has {_model_keys(variables, root)}"
        )
    params: dict[str, Any] = {}
    for path, tf, owner in expected:
        value = _checked(np.asarray(variables[tf + VALUE_SUFFIX]), owner, path)
        node = params
        for key in path[:-1]:
            node = node.setdefault(key, {})
        node[path[-1]] = value
    if strict:
        used = {tf for _, tf, _ in expected}
        extra = [k for k in _model_keys(variables, root) if k not in used]
        if extra:
            raise KeyError(
                f"tf_params_for: the checkpoint has variables the {type(model).__name__} has "
                f"no place for: {extra} (pass strict=False to ignore them)"
            )
    return params


def _model_keys(variables: Mapping[str, Any], root: str) -> list[str]:
    """The model's variable keys (suffix removed), without the legacy optimizer's slots
    (``<variable>/.OPTIMIZER_SLOT/optimizer/m``), which sit under the model's keys."""
    n, head = len(VALUE_SUFFIX), root + "/"
    return sorted(
        k[:-n]
        for k in variables
        if k.startswith(head) and k.endswith(VALUE_SUFFIX) and "/.OPTIMIZER_SLOT/" not in k
    )


def _checked(value: np.ndarray, owner: Module, path: tuple[str, ...]) -> np.ndarray:
    """``value`` as float32 in the owner's shape; builds an unbuilt layer from it."""
    name = path[-1]
    if isinstance(owner, Layer) and not owner.built:  # its first parameter gives the input size
        owner.build(_input_size(owner, name, value.shape))
    current = owner._params.get(name)
    if current is not None:
        want = tuple(current.shape)
        if value.shape != want:
            if _squeezed(value.shape) != _squeezed(want):
                raise ValueError(
                    f"tf_params_for: {'/'.join(path)} has shape {value.shape} in the "
                    f"checkpoint, the model expects {want}"
                )
            value = value.reshape(want)  # e.g. ddsp's Normalize stores [1, 1, 1, ch]
    return value.astype(np.float32)


def _input_size(layer: Layer, name: str, shape: tuple[int, ...]) -> int:
    """A layer's input size from its first checkpoint variable: keras' Conv2D kernel is
    ``[k, 1, c_in, filters]``, Conv2DTranspose's ``[k, 1, filters, c_in]``, Dense's and the
    RNNs' ``[c_in, units]``; normalisation scales end with the channels."""
    if isinstance(layer, Conv1D):
        return int(shape[-2])
    if name == "kernel" and not isinstance(layer, Conv1DTranspose):
        return int(shape[0])
    return int(shape[-1])


def _squeezed(shape: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(int(d) for d in shape if d != 1)


def tf_checkpoint_params(model: Module, path: str | os.PathLike,
                         strict: bool = True) -> tuple[str, dict[str, Any]]:  # fmt: skip
    """``(checkpoint prefix, model's parameters dict)`` from ddsp's TF checkpoint at ``path``
    (folder, prefix or ``.index``), reading only the model's tensors; what ``Model.restore``
    uses for ddsp checkpoints."""
    prefix = latest_tf_checkpoint(path)
    return prefix, tf_params_for(model, _BundleView(TensorBundle(prefix)), strict=strict)


def restore_tf_checkpoint(model: Module, path: str | os.PathLike, strict: bool = True) -> None:
    """Load ddsp's TF checkpoint at ``path`` (folder, prefix or ``.index``) into ``model``."""
    model.set_parameters(tf_checkpoint_params(model, path, strict)[1])


def tf_adam_state_for(model: Module, variables: Mapping[str, Any], root: str = "model",
                      optimizer: str = "optimizer") -> dict:  # fmt: skip
    """The Adam state of a ddsp checkpoint as ddsp_ref's
    :class:`~ddsp_ref.training.optimizers.Adam` state: ``{'step': int, 'm': tree, 'v': tree}``
    with the trees shaped like the trainable part of ``tf_params_for(model, variables)``
    (``model.partition``; call that first: it builds the model's layers). To resume a ddsp
    run.

    Two layouts are read: keras' legacy optimizer (TF < 2.11) stores each moment beside its
    variable (``<key>/.OPTIMIZER_SLOT/optimizer/m``), with the step in ``optimizer/iter``;
    the current one stores a list ``optimizer/_variables/<i>`` (0: the step, then ``m``, ``v``
    of each trainable variable in ``model.trainable_variables`` order, which is the order
    of the model's parameters here), with the step in ``optimizer/_iterations``.

    Raises:
        KeyError: no Adam state in the checkpoint (e.g. a model exported without optimizer).
        ValueError: the slots do not line up with the model's parameters (count or shapes).
    """
    # ddsp's trainable_variables: every variable but the non-trainable ones (sn_u).
    expected = [e for e in _expected(model, root, ()) if e[0][-1] not in e[2]._non_trainable]
    slots = {
        key: variables.get(f"{optimizer}/{key}{VALUE_SUFFIX}") for key in ("iter", "_iterations")
    }
    legacy = slots["iter"] is not None
    step = slots["iter"] if legacy else slots["_iterations"]
    if step is None:
        raise KeyError(
            f"tf_adam_state_for: no optimizer state ({optimizer}/iter or {optimizer}/_iterations)"
            " in the checkpoint"
        )
    if not legacy:
        _check_slot_count(variables, optimizer, len(expected))
    state: dict[str, Any] = {"step": int(step), "m": {}, "v": {}}
    for k, (path, tf, _) in enumerate(expected):
        for j, moment in enumerate(("m", "v")):
            if legacy:
                key = f"{tf}/.OPTIMIZER_SLOT/{optimizer}/{moment}"
            else:
                key = f"{optimizer}/_variables/{2 * k + 1 + j}"
            value = variables.get(key + VALUE_SUFFIX)
            want = variables[tf + VALUE_SUFFIX].shape
            if value is None or value.shape != want:
                got = "missing" if value is None else f"of shape {value.shape}"
                raise ValueError(
                    f"tf_adam_state_for: the {moment} slot of {tf} ({key}) is {got}, expected "
                    f"shape {want}"
                )
            node = state[moment]
            for part in path[:-1]:
                node = node.setdefault(part, {})
            node[path[-1]] = np.asarray(value, np.float32).reshape(
                _built_shape(model, path, value.shape)
            )
    return state


def _check_slot_count(variables: Mapping[str, Any], optimizer: str, n_params: int) -> None:
    pattern = re.compile(rf"^{re.escape(optimizer)}/_variables/(\d+){re.escape(VALUE_SUFFIX)}$")
    found = sorted(int(m.group(1)) for k in variables if (m := pattern.match(k)))
    if found != list(range(1, 2 * n_params + 1)):
        raise ValueError(
            f"tf_adam_state_for: the optimizer holds slots {found[:3]}..{found[-3:]} "
            f"({len(found)}), expected m and v for each of the model's {n_params} parameters"
        )


def _built_shape(model: Module, path: tuple[str, ...], shape: tuple) -> tuple:
    """The shape of the model's parameter at ``path`` (after tf_params_for built it)."""
    node: Any = model
    for part in path[:-1]:
        node = node.children()[part]
    current = node._params.get(path[-1])
    return tuple(current.shape) if current is not None else tuple(shape)
