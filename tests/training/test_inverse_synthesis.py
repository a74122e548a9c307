"""ddsp's InverseSynthesis (DDSP-INV): parity with ddsp 3.7.0 (record_inv_golden.py: outputs,
losses and gradients of the model on a (synthetic, real) pair and on synthetic controls alone),
float64 gradient checks, the stop-gradient, reverb, training with the Trainer, bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ddsp_ref import check_grads, losses
from ddsp_ref.autodiff import value_and_grad
from ddsp_ref.module import flatten_dict, unflatten_dict
from ddsp_ref.training import nn
from ddsp_ref.training.trainers import Trainer

from .inv_setup import (
    GOLDEN,
    N_MAGS,
    N_SAMPLES,
    N_SIN,
    FixedNoise,
    case,
    formula_params,
    golden_features,
    golden_model,
    harmonic_encoder,
    model,
    sinusoidal_encoder,
)


def close(a, b, rtol=2e-4, atol=2e-5):
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=rtol, atol=atol)


def _total(m, params, ss, audio):
    _, lo = m.apply(params, (ss, {"audio": audio}))
    return lo["total_loss"]


def test_zipped_outputs_and_losses_match_ddsp():
    m, _, _ = golden_model()
    ss, real = golden_features()
    out, lo = m((ss, real), return_losses=True)
    c = case("zipped")
    outs = {k[4:]: v for k, v in c.items() if k.startswith("out/")}
    assert sorted(outs) == sorted(out)  # the same keys (dict entries dropped, as ddsp)
    for k, want in outs.items():
        # audio: float32 phase accumulation over 512 samples of frequencies that differ by
        # ~1e-5 relative (softmax rounding) moves late samples by up to ~3e-4
        atol = (1e-3 if k.endswith("audio") else 2e-4) * max(1.0, np.abs(want).max())
        close(out[k], want, rtol=1e-3, atol=atol)
    want_losses = {k[5:]: v for k, v in c.items() if k.startswith("loss/")}
    assert sorted(want_losses) == sorted(lo)
    for k, want in want_losses.items():
        close(lo[k], want, rtol=5e-4)  # the KDE loss sums ~1e4 in float32


def test_self_supervised_dict_losses_match_ddsp():
    m, _, _ = golden_model()
    ss, _ = golden_features()
    _, lo = m(ss, return_losses=True)
    want = {k[5:]: v for k, v in case("ss").items() if k.startswith("loss/")}
    assert sorted(want) == sorted(k for k in lo if k != "total_loss")
    for k, v in want.items():
        close(lo[k], v, rtol=5e-4)


def _rel(a, b):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return np.linalg.norm(a - b) / np.linalg.norm(b)


def test_zipped_gradients_match_ddsp():
    """Gradients of total_loss. Compared: the real audio's, every parameter's after the
    ResNet's last-but-one block (in full), and the last block's (sums of squares). Not
    compared: the earlier ResNet parameters'. At this point (formula weights, the synthetic
    half's log-mel) the loss is kinked along them: float64 central differences with h = 1e-4
    and 1e-5 disagree by ~70% on stack_0's, so TF's float32 rounding (~1e-5 in the
    activations) lands on other ReLU sides; ddsp_ref gives the same values in float32 and
    float64 there. The ResNet's gradients are compared with ddsp in test_resnet.py."""
    m, params, names = golden_model()
    ss, real = golden_features()
    c = case("zipped")
    total = value_and_grad(lambda p, a: _total(m, p, ss, a), argnums=(0, 1))
    gp, ga = total(params, real["audio"])[1]
    gp = flatten_dict(gp)
    # float32 phase accumulation over 512 samples moves ddsp's audio by ~3e-4, and the L1
    # spectral loss' gradient follows: 1% (relative norm)
    assert _rel(ga, c["grad/audio"]) < 2e-2
    full = {k[len("grad/params/") :]: v for k, v in c.items() if k.startswith("grad/params/")}
    compared = [n for n in full if "resnet" not in n or "stack_1/layer_2/norm_relu" in n
                or "stack_1/norm/" in n]  # fmt: skip
    assert len(compared) >= 15
    for name in compared:
        assert _rel(gp[name], full[name]) < 2e-2, name
    last = [i for i, n in enumerate(names) if "stack_1/layer_2/norm_relu" in n
            or "stack_1/norm/" in n]  # fmt: skip
    sums = [float(np.sum(np.asarray(gp[names[i]], np.float64) ** 2)) for i in last]
    close(sums, c["grad_sums"][last], rtol=2e-2)


def test_harmonic_encoder_matches_ddsp():
    c = case("harm")
    h = harmonic_encoder()
    h(c["sin_freqs"], c["sin_amps"])
    params = formula_params(h, "")
    h.set_parameters(params)
    out = h(c["sin_freqs"], c["sin_amps"])
    keys = ("harm_amp", "harm_dist", "f0_hz")
    for k in keys:
        close(out[k], c[f"out/{k}"], rtol=1e-4, atol=1e-6)

    def fun(p, f, a):
        o = h.apply(p, f, a)
        return sum((o[k] * c[f"cot/{k}"]).sum() for k in keys)

    gp, gf, ga = value_and_grad(fun, argnums=(0, 1, 2))(params, c["sin_freqs"], c["sin_amps"])[1]
    close(gf, c["grad/sin_freqs"], rtol=1e-3, atol=1e-6)
    close(ga, c["grad/sin_amps"], rtol=1e-3, atol=1e-4)
    for name, g in flatten_dict(gp).items():
        want = c[f"grad/params/{name}"]
        close(g, want, rtol=1e-3, atol=1e-4 * max(1.0, np.abs(want).max()))


def test_ddsp_default_loss_names_are_recorded():
    """ddsp's default loss names (which name the model's losses); ddsp_ref's default names of
    two of them differ, so the parity cases name every loss explicitly."""
    names = json.loads(str(GOLDEN["ddsp_default_loss_names"]))
    assert names[0] == losses.SpectralLoss().name
    assert names[3] == losses.FilteredNoiseConsistencyLoss().name


# -- the class beyond the golden case --------------------------------------------------------
def _small_model(dtype=np.float64, **kwargs):
    """The golden configuration with stand-ins fast and smooth enough for float64 finite
    differences: a Dense encoder of 64-sample frames for the ResNet, tanh for the harmonic
    net's ReLU and an L2 magnitude spectral loss (some finite-difference steps would cross
    the kinks of ReLU and L1, and the log magnitude's curvature at near-empty bins makes
    central differences inexact)."""
    smooth = [losses.SpectralLoss(fft_sizes=(64, 32), loss_type="L2")]
    m = model(**{"losses": smooth, **kwargs})
    m.sinusoidal_encoder = _DenseSinusoidalEncoder()
    m.harmonic_encoder.net = nn.Dense(8, activation="tanh", seed=5, name="net")
    return m


class _DenseSinusoidalEncoder(nn.DictLayer):
    """audio -> frames (64 samples) -> Dense per output split (a stand-in for the ResNet)."""

    def __init__(self):
        super().__init__(output_keys=["frequencies", "amplitudes", "noise_magnitudes"])
        splits = (("frequencies", N_SIN * 4), ("amplitudes", N_SIN), ("noise_magnitudes", N_MAGS))
        self.dense = {k: nn.Dense(n, seed=i, name=k) for i, (k, n) in enumerate(splits)}

    def children(self):
        return dict(self.dense)

    def call(self, audio):
        from ddsp_ref.autodiff import ops

        frames = ops.reshape(audio, (int(audio.shape[0]), -1, 64))
        return {k: d(frames) for k, d in self.dense.items()}


def _float64(params):
    return unflatten_dict({k: np.asarray(v, np.float64) for k, v in flatten_dict(params).items()})


def _features(dtype, batch=2, n_frames=8, seed=0):
    rng = np.random.default_rng(seed)
    t = (1, n_frames)
    ss = {"sin_amps": rng.uniform(0.0, 0.2, t + (N_SIN,)),
          "sin_freqs": rng.uniform(60.0, 900.0, t + (N_SIN,)),
          "noise_magnitudes": rng.uniform(0.0, 0.02, t + (N_MAGS,)),
          "harm_amp": rng.uniform(0.0, 0.5, t + (1,)),
          "harm_dist": rng.uniform(0.0, 1.0, t + (4,)),
          "f0_hz": rng.uniform(60.0, 300.0, t + (1,))}  # fmt: skip
    audio = 0.1 * rng.standard_normal((batch, n_frames * 64))
    return {k: v.astype(dtype) for k, v in ss.items()}, {"audio": audio.astype(dtype)}


@pytest.mark.parametrize("reverb", [False, True])
def test_float64_gradients_of_every_subset_of_parameters(reverb):
    # stop_gradient=False: finite differences see through a stop-gradient (tested below)
    m = _small_model(reverb=reverb, n_samples=N_SAMPLES, stop_gradient=False)
    m.filtered_noise_synth._noise = FixedNoise(np.random.default_rng(1).uniform(-1, 1, (3, 512)))
    if reverb:
        m.reverb._synth._noise = FixedNoise(np.random.default_rng(2).uniform(-1, 1, (1, 4000)))
    ss, real = _features(np.float64)
    m((ss, real))
    params = _float64(m.parameters())
    assert ("processor_group" in params) == reverb

    for keys in [[k] for k in params] + [list(params)]:

        def loss(sub, keys=keys):
            return _total(m, {**params, **dict(zip(keys, sub))}, ss, real["audio"])

        check_grads(lambda *sub, f=loss: f(sub), *[params[k] for k in keys])


def test_float64_gradient_with_respect_to_the_audio():
    m = _small_model(n_samples=N_SAMPLES, stop_gradient=False)
    m.filtered_noise_synth._noise = FixedNoise(np.random.default_rng(1).uniform(-1, 1, (3, 512)))
    ss, real = _features(np.float64)
    m((ss, real))
    params = _float64(m.parameters())
    check_grads(lambda a: _total(m, params, ss, a), real["audio"])


def test_stop_gradient_keeps_harmonic_losses_off_the_sinusoidal_encoder():
    for stop, expect_zero in ((True, True), (False, False)):
        m = _small_model(np.float32, stop_gradient=stop, losses=None, twm_loss=None,
                         filtered_noise_consistency_loss=None,
                         harmonic_consistency_losses=None)  # fmt: skip
        ss, real = _features(np.float32)
        m(real)
        params = m.parameters()
        # only kde_loss (sinusoids vs harmonics) remains for real audio
        g = value_and_grad(lambda p, m=m, r=real: m.apply(p, r)[1]["total_loss"])(params)[1]
        flat = flatten_dict(g["sinusoidal_encoder"])
        norm = sum(float(np.sum(np.asarray(v) ** 2)) for v in flat.values())
        assert (norm == 0.0) == expect_zero
        assert sum(float(np.sum(np.asarray(v) ** 2)) for v in flatten_dict(
            g["harmonic_encoder"]).values()) > 0  # fmt: skip


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtypes_one_frame_and_silence(dtype):
    m = _small_model(dtype, n_samples=64)
    ss, real = _features(dtype, batch=1, n_frames=1)
    real["audio"] = np.zeros_like(real["audio"])  # silence
    out, lo = m((ss, real), return_losses=True)
    assert out["sin_audio"].shape == (1, 64) and out["harm_audio"].dtype == dtype
    assert out["sin_amps"].shape == (1, 1, N_SIN)
    assert all(np.isfinite(float(v)) for v in lo.values())
    assert out["sin_audio"].dtype == dtype


def test_pair_order_and_plain_audio():
    m = _small_model(np.float32, n_samples=N_SAMPLES)
    m.filtered_noise_synth._noise = FixedNoise(np.random.default_rng(1).uniform(-1, 1, (3, 512)))
    ss, real = _features(np.float32)
    m((ss, real))
    a, la = m((ss, real), return_losses=True)
    b, lb = m((real, ss), return_losses=True)
    for k in la:
        close(la[k], lb[k], rtol=1e-6)
    # the real half of a pair is what the model gives the real batch alone (the encoder is
    # frame-wise, so batching does not change it)
    c, lc = m(real, return_losses=True)
    close(a["sin_audio"], c["sin_audio"], rtol=1e-5, atol=1e-6)
    assert not any(k.startswith("ss_") for k in lc)
    assert m.get_audio_from_outputs(c) is c["harm_audio"]
    m.harmonic_encoder = None
    d = m(real)
    assert "harm_audio" not in d and m.get_audio_from_outputs(d) is d["sin_audio"]


def test_reverb_is_the_last_processor_and_trainable():
    m = model(reverb=True)
    assert m.processor_group.processor_names[-1] == "reverb"
    assert m.reverb.trainable and m.reverb.reverb_length == 2 * 2000
    assert flatten_dict(m.parameters())["processor_group/reverb/magnitudes"].shape == (500, 16)


def test_trainer_steps_lower_the_loss():
    m = _small_model(np.float32, n_samples=N_SAMPLES, reverb=True)
    ss, real = _features(np.float32)
    trainer = Trainer(m)
    batch = (real, ss)
    trainer.build(batch)
    first = trainer.train_step(batch)["total_loss"]
    for _ in range(8):
        last = trainer.train_step(batch)["total_loss"]
    assert np.isfinite(last) and last < first


def test_bad_input_raises_clear_errors():
    m = _small_model(np.float32, n_samples=N_SAMPLES)
    ss, real = _features(np.float32)
    with pytest.raises(KeyError, match="'audio'"):
        m({"f0_hz": ss["f0_hz"]})
    with pytest.raises(ValueError, match="pair of dicts"):
        m((ss, real, real))
    with pytest.raises(TypeError, match="dict or a pair"):
        m(real["audio"])
    with pytest.raises(KeyError, match="noise_magnitudes"):
        m({k: v for k, v in ss.items() if k != "noise_magnitudes"})
    with pytest.raises(ValueError, match="sinusoidal_encoder"):
        model(sinusoidal_encoder=None)(real)
    with pytest.raises(ValueError, match="n_samples"):
        model(n_samples=0)


def test_gin_name_and_ddsp_signature():
    import inspect

    from ddsp_ref.training import inverse_synthesis

    gin = pytest.importorskip("gin")
    gin.clear_config()
    try:
        gin.parse_config(
            "import ddsp_ref.training\n"
            "models.InverseSynthesis.reverb = False\n"
            "models.InverseSynthesis.n_samples = 1024\n"
        )
        m = inverse_synthesis.InverseSynthesis()
        assert m.reverb is None and m.n_samples == 1024
    finally:
        gin.clear_config()
    params = list(inspect.signature(inverse_synthesis.InverseSynthesis).parameters)
    assert params[:14] == [
        "sinusoidal_encoder", "harmonic_encoder", "losses", "sinusoidal_consistency_losses",
        "harmonic_consistency_losses", "filtered_noise_consistency_loss", "twm_loss",
        "harmonic_distribution_prior", "freq_scale_fn", "reverb", "n_samples", "sample_rate",
        "stop_gradient", "seed",
    ]  # fmt: skip
    assert sinusoidal_encoder is not None and harmonic_encoder is not None
