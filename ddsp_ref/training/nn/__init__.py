"""ddsp's ``training.nn`` building blocks as ``Module``s (parameters are nested dicts of arrays).

Dense, LayerNormalization, normalize_op / Normalize, Fc / FcStack / FcStackOut, Rnn (also
bidirectional) / StatelessRnn / RnnSandwich / SingleGru, get_nonlinearity, split_to_dict,
DictLayer / OutputSplitsLayer, Conv1D / Conv1DTranspose, ConditionalScaleAndShift /
ConditionalNorm, DilatedConvStack, with keras' seeded initialisers; the straight-through
estimators, note masks and pooling, polyphase_resample / PolyphaseResample, RnnFc,
Embedding / get_embedding, VectorQuantization and the ResNet (Conv2D, NormReluConv,
ResidualLayer, ResidualStack).
"""

from .activations import NONLINEARITIES, get_nonlinearity
from .base import Layer
from .conv import (
    ConditionalNorm,
    ConditionalScaleAndShift,
    Conv1D,
    Conv1DTranspose,
    DilatedConvStack,
    conv_kernel_initializer,
    dilation_rates,
)
from .dict_layer import DictLayer, OutputSplitsLayer
from .embedding import Embedding, get_embedding
from .estimators import (
    straight_through_choice,
    straight_through_int_quantization,
    straight_through_softmax,
)
from .initializers import glorot_uniform, orthogonal
from .layers import (
    Dense,
    Fc,
    FcStack,
    FcStackOut,
    Identity,
    LayerNormalization,
    Normalize,
    ensure_4d,
    inv_ensure_4d,
    normalize_op,
    split_to_dict,
)
from .notes import (
    get_note_lengths,
    get_note_mask,
    get_note_mask_from_onset,
    get_note_moments,
    get_short_note_loss_mask,
    pool_over_notes,
)
from .quantization import VectorQuantization
from .recurrent import Rnn, RnnSandwich, SingleGru, StatelessRnn
from .resample import PolyphaseResample, polyphase_resample
from .resnet import Conv2D, NormReluConv, ResidualLayer, ResidualStack, ResNet, max_pool_freq
from .rnn_fc import RnnFc

__all__ = [
    "Layer",
    "DictLayer",
    "OutputSplitsLayer",
    "Dense",
    "LayerNormalization",
    "normalize_op",
    "Normalize",
    "Fc",
    "FcStack",
    "FcStackOut",
    "Identity",
    "Rnn",
    "StatelessRnn",
    "RnnSandwich",
    "SingleGru",
    "Conv1D",
    "Conv1DTranspose",
    "ConditionalScaleAndShift",
    "ConditionalNorm",
    "DilatedConvStack",
    "conv_kernel_initializer",
    "dilation_rates",
    "get_nonlinearity",
    "NONLINEARITIES",
    "split_to_dict",
    "ensure_4d",
    "inv_ensure_4d",
    "glorot_uniform",
    "orthogonal",
    "straight_through_softmax",
    "straight_through_choice",
    "straight_through_int_quantization",
    "get_note_mask",
    "get_note_mask_from_onset",
    "get_note_lengths",
    "get_note_moments",
    "pool_over_notes",
    "get_short_note_loss_mask",
    "polyphase_resample",
    "PolyphaseResample",
    "RnnFc",
    "Embedding",
    "get_embedding",
    "VectorQuantization",
    "Conv2D",
    "max_pool_freq",
    "NormReluConv",
    "ResidualLayer",
    "ResidualStack",
    "ResNet",
]
