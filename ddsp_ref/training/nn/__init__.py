"""ddsp's ``training.nn`` building blocks as ``Module``s (parameters are nested dicts of arrays).

Dense, LayerNormalization, normalize_op / Normalize, Fc / FcStack / FcStackOut, Rnn (also
bidirectional) / StatelessRnn / RnnSandwich / SingleGru, get_nonlinearity, split_to_dict,
DictLayer / OutputSplitsLayer, Conv1D / Conv1DTranspose, ConditionalScaleAndShift /
ConditionalNorm, DilatedConvStack, with keras' seeded initialisers.
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
from .initializers import glorot_uniform, orthogonal
from .layers import (
    Dense,
    Fc,
    FcStack,
    FcStackOut,
    LayerNormalization,
    Normalize,
    ensure_4d,
    inv_ensure_4d,
    normalize_op,
    split_to_dict,
)
from .recurrent import Rnn, RnnSandwich, SingleGru, StatelessRnn

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
]
