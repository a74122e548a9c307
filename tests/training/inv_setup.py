"""The tiny DDSP-INV configuration of record_inv_golden.py, built with ddsp_ref (shared by the
InverseSynthesis and sinusoidal-encoder tests)."""

from __future__ import annotations

import functools
import json
import os

import numpy as np

from ddsp_ref import core, losses
from ddsp_ref.module import flatten_dict, unflatten_dict
from ddsp_ref.spectral_ops import compute_logmel
from ddsp_ref.training import nn
from ddsp_ref.training.encoders_sinusoidal import (
    ResnetSinusoidalEncoder,
    SinusoidalToHarmonicEncoder,
)
from ddsp_ref.training.inverse_synthesis import InverseSynthesis

from .formula_weights import formula_weights

GOLDEN = np.load(os.path.join(os.path.dirname(__file__), "golden_inv_3_7_0.npz"))
SR, N_SAMPLES, N_SIN, N_HARM, DEPTH, N_MAGS = 2000, 512, 3, 4, 4, 5
LOGMEL = dict(lo_hz=0.0, hi_hz=1000.0, bins=32, fft_size=128, overlap=0.5, pad_end=True,
              sample_rate=SR)  # fmt: skip
SPLITS = (("frequencies", N_SIN * DEPTH), ("amplitudes", N_SIN), ("noise_magnitudes", N_MAGS))
LOSS_NAMES = ("spectral_loss", "kde_loss", "twm_loss", "noise_loss", "harmonic_loss")


def case(name: str) -> dict:
    prefix = name + "/"
    return {k[len(prefix) :]: GOLDEN[k] for k in GOLDEN.files if k.startswith(prefix)}


def formula_params(module, prefix: str = "") -> dict:
    """The recorder's weights for every parameter of ``module`` (built), under our names."""
    flat = {}
    for name, value in flatten_dict(module.parameters()).items():
        shape = tuple(value.shape)
        full = prefix + name
        keras_shape = (1, 1, 1) + shape if full.endswith(("scale", "shift")) else shape
        flat[name] = formula_weights(full, keras_shape).reshape(shape)
    return unflatten_dict(flat)


def harmonic_encoder(seed=0) -> SinusoidalToHarmonicEncoder:
    scale = functools.partial(core.frequencies_softmax, depth=DEPTH, hz_min=20.0, hz_max=600.0)
    return SinusoidalToHarmonicEncoder(
        net=nn.Dense(8, activation="relu", name="net"), n_harmonics=N_HARM, f0_depth=DEPTH,
        freq_scale_fn=scale, sample_rate=SR, seed=seed,
    )  # fmt: skip


def sinusoidal_encoder(size="small", seed=0) -> ResnetSinusoidalEncoder:
    spectral = functools.partial(compute_logmel, **LOGMEL)
    return ResnetSinusoidalEncoder(SPLITS, spectral, size=size, seed=seed)


def model(reverb=False, seed=0, **kwargs) -> InverseSynthesis:
    """The recorder's model and losses (ddsp_ref's names for them, see LOSS_NAMES)."""
    config = dict(
        sinusoidal_encoder=sinusoidal_encoder(seed=seed),
        harmonic_encoder=harmonic_encoder(seed=seed),
        losses=[losses.SpectralLoss(fft_sizes=(64, 32), loss_type="L1", mag_weight=1.0,
                                    logmag_weight=1.0, name=LOSS_NAMES[0])],
        sinusoidal_consistency_losses=[losses.KDEConsistencyLoss(
            weight_a=1.0, weight_b=1.0, weight_mean_amp=0.1, scale_a=0.1, scale_b=0.1,
            name=LOSS_NAMES[1])],
        twm_loss=losses.TWMLoss(sample_rate=SR, name=LOSS_NAMES[2]),
        filtered_noise_consistency_loss=losses.FilteredNoiseConsistencyLoss(name=LOSS_NAMES[3]),
        harmonic_consistency_losses=[losses.HarmonicConsistencyLoss(name=LOSS_NAMES[4])],
        freq_scale_fn=functools.partial(core.frequencies_softmax, depth=DEPTH, hz_min=20.0,
                                        hz_max=900.0),
        reverb=reverb, n_samples=N_SAMPLES, sample_rate=SR, seed=seed,
    )  # fmt: skip
    config.update(kwargs)
    return InverseSynthesis(**config)


class FixedNoise:
    """Stands in for FilteredNoise's NoiseSource: ``noise[:batch]`` at every call (what the
    recorder gives ddsp's FilteredNoise)."""

    def __init__(self, noise):
        self.noise = np.asarray(noise)

    def uniform(self, xp, shape, dtype):
        assert tuple(shape[1:]) == self.noise.shape[1:]
        return xp.asarray(self.noise[: shape[0]], dtype=dtype)


def golden_features(dtype=np.float32):
    keys = ("sin_amps", "sin_freqs", "noise_magnitudes", "harm_amp", "harm_dist", "f0_hz")
    ss = {k: GOLDEN[f"ss_features/{k}"].astype(dtype) for k in keys}
    return ss, {"audio": GOLDEN["real_audio"].astype(dtype)}


def golden_model(dtype=np.float32):
    """The recorder's model with its weights and noise, built on the golden pair."""
    m = model()
    m.filtered_noise_synth._noise = FixedNoise(GOLDEN["noise"])
    ss, real = golden_features(dtype)
    m((ss, real))  # build
    params = {
        "sinusoidal_encoder": formula_params(m.sinusoidal_encoder, "sinusoidal_encoder/"),
        "harmonic_encoder": formula_params(m.harmonic_encoder, "harmonic_encoder/"),
    }
    names = json.loads(str(GOLDEN["zipped/names"]))
    assert sorted(flatten_dict(params)) == sorted(names)  # every ddsp variable, our names
    params = unflatten_dict({k: v.astype(dtype) for k, v in flatten_dict(params).items()})
    m.set_parameters(params)
    return m, params, names
