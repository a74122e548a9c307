"""The tiny float64 training set-up shared by the MPI ranks and the single-process reference
of tests/training/test_mpi.py: the noise-free model of test_trainers (0.25 s, 50 frames), eight
distinct examples, a small clip norm so that clipping acts at every step."""

from __future__ import annotations

import numpy as np

from ddsp_ref.autodiff import tree_map
from ddsp_ref.training.data import InMemoryProvider
from ddsp_ref.training.trainers import Trainer

from ..test_spectral_norm import sn_model
from ..test_trainers import FRAMES, N_SAMPLES, tiny_model

GLOBAL_BATCH = 4
SETTINGS = dict(learning_rate=0.01, grad_clip_norm=0.05)
EARLY_STOP = 2.0  # total_loss threshold of the early-stop scenario


def make_provider() -> InMemoryProvider:
    """Eight examples differing in pitch and level (float64)."""
    t = np.arange(N_SAMPLES) / 16000
    f0 = 110.0 * 2.0 ** (np.arange(8) / 5.0)
    gain = np.linspace(0.1, 0.5, 8)
    audio = gain[:, None] * np.sin(2 * np.pi * f0[:, None] * t) * np.minimum(1.0, 20 * t)
    return InMemoryProvider({
        "audio": audio,
        "f0_hz": np.repeat(f0[:, None], FRAMES, axis=1),
        "loudness_db": np.repeat(20 * np.log10(gain)[:, None] - 20, FRAMES, axis=1),
    })  # fmt: skip


def make_trainer(strategy=None, perturb: bool = False, spectral_norm: bool = False) -> Trainer:
    """A Trainer on the tiny model with float64 parameters (seeded initialisers; ``perturb``
    adds noise to them, so that only a broadcast can make the ranks agree); ``spectral_norm``:
    with test_spectral_norm's DilatedConvDecoder instead of the RNN decoder."""
    model = sn_model() if spectral_norm else tiny_model()
    model(make_provider().examples([0]))
    rng = np.random.default_rng(1)
    shift = (lambda p: 0.1 * rng.standard_normal(np.shape(p))) if perturb else (lambda p: 0.0)
    model.set_parameters(tree_map(lambda p: np.asarray(p, np.float64) + shift(p),
                                  model.parameters()))  # fmt: skip
    return Trainer(model, strategy=strategy, **SETTINGS)
