"""The spectral_ops / losses package surface: exported names, module paths, lazy submodules, the
``composed`` kernel switch, and bad arguments of every public spectral_ops callable."""

from __future__ import annotations

import importlib
import subprocess
import sys

import numpy as np
import pytest

import ddsp_ref
from ddsp_ref import spectral_ops

DDSP_SPECTRAL_OPS = {
    "stft", "stft_np", "compute_mag", "compute_mel", "compute_logmag", "compute_logmel",
    "compute_mfcc", "get_framed_lengths", "pad", "compute_rms_energy", "compute_power",
    "compute_loudness", "compute_f0", "pad_or_trim_to_expected_length", "a_weighting",
    "F0_RANGE", "DB_RANGE", "CREPE_SAMPLE_RATE", "CREPE_FRAME_SIZE",
    # documented extras of ddsp_ref
    "istft", "linear_to_mel_weight_matrix", "activations_to_f0_and_confidence",
    "crepe_viterbi_decode", "normalize_frames",
}  # fmt: skip


def test_exported_names():
    assert set(spectral_ops.__all__) == DDSP_SPECTRAL_OPS
    for name in spectral_ops.__all__:
        assert getattr(spectral_ops, name) is not None
    from ddsp_ref import losses

    names = ("Loss", "LossGroup", "mean_difference", "SpectralLoss", "MelSpectralLoss",
             "HarmonicConsistencyLoss", "PretrainedCREPEEmbeddingLoss", "ParamLoss")  # fmt: skip
    for name in names:
        assert name in losses.__all__ and hasattr(losses, name)


@pytest.mark.parametrize(
    "module",
    ["spectrograms", "energy", "pitch_hmm", "losses_consistency", "losses_pretrained"],
)
def test_old_module_paths_are_gone(module):
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module(f"ddsp_ref.{module}")


def test_documented_submodules_after_plain_import():
    """In a fresh interpreter: ``import ddsp_ref`` then attribute access (lazy), no numba."""
    code = (
        "import sys, ddsp_ref\n"
        "assert 'numba' not in sys.modules and 'ddsp_ref.losses' not in sys.modules\n"
        "from ddsp_ref.pitch import compute_f0\n"
        "assert ddsp_ref.pitch.compute_f0 is compute_f0 is ddsp_ref.spectral_ops.compute_f0\n"
        "assert ddsp_ref.losses.SpectralLoss and ddsp_ref.spectral_ops.energy.compute_loudness\n"
        "assert 'numba' not in sys.modules and 'scipy' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_gin_names_stay_under_losses():
    gin = pytest.importorskip("gin")
    from ddsp_ref import losses  # noqa: F401  (registers)

    gin.clear_config()
    try:  # parsing fails with "No configurable matching" for an unknown name
        gin.parse_config(
            "losses.LossGroup.dag = [(@losses.SpectralLoss(), ['a', 'b']),"
            " (@losses.HarmonicConsistencyLoss(), ['c'])]"
        )
        dag = gin.query_parameter("losses.LossGroup.dag")
        assert [node[0].configurable.name for node in dag] == [
            "SpectralLoss",
            "HarmonicConsistencyLoss",
        ]
    finally:
        gin.clear_config()


# -- DDSP_REF_KERNELS=composed -------------------------------------------------------------------
def test_composed_switch_frames_and_overlap_adds_without_kernels(monkeypatch):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 300))
    fused = (
        spectral_ops.compute_mag(x, 64),
        spectral_ops.istft(spectral_ops.stft(x, 64), 64, n_samples=300),
        spectral_ops.compute_rms_energy(x, 8000, 500, 32),
    )

    def forbidden(*args, **kwargs):
        raise AssertionError("a framing kernel ran under DDSP_REF_KERNELS=composed")

    monkeypatch.setenv("DDSP_REF_KERNELS", "composed")
    monkeypatch.setattr("ddsp_ref.kernels.overlap_add.frame", forbidden)
    monkeypatch.setattr("ddsp_ref.kernels.overlap_add.overlap_add", forbidden)
    composed = (
        spectral_ops.compute_mag(x, 64),
        spectral_ops.istft(spectral_ops.stft(x, 64), 64, n_samples=300),
        spectral_ops.compute_rms_energy(x, 8000, 500, 32),
    )
    for a, b in zip(fused, composed, strict=True):
        np.testing.assert_allclose(b, a, rtol=1e-12, atol=1e-12)
    small = x[:, :90]
    ddsp_ref.check_grads(lambda a: spectral_ops.istft(spectral_ops.stft(a, 16), 16), small)
    ddsp_ref.check_grads(lambda a: spectral_ops.stft(a, 16, overlap=0.5, pad_end=False), small)
    ddsp_ref.check_grads(lambda a: spectral_ops.compute_rms_energy(a, 8000, 1000, 16), small)


# -- E: bad arguments ------------------------------------------------------------------------------
X = np.zeros((2, 640), np.float32)
Z = spectral_ops.stft(np.ones((1, 640), np.float32), 64)

BAD_CALLS = [
    ("stft complex", lambda: spectral_ops.stft(X + 0j, 64), TypeError, "audio must be real"),
    ("stft str", lambda: spectral_ops.stft(np.array(["a"] * 640), 64), TypeError, "audio"),
    ("stft rank", lambda: spectral_ops.stft(X[None, :, :, None], 64), ValueError, "audio"),
    ("stft size", lambda: spectral_ops.stft(X, 0), ValueError, "frame_size"),
    ("stft size nan", lambda: spectral_ops.stft(X, np.nan), ValueError, "frame_size"),
    ("stft overlap", lambda: spectral_ops.stft(X, 64, overlap=-0.5), ValueError, "overlap"),
    ("stft overlap str", lambda: spectral_ops.stft(X, 64, overlap="0.5"), ValueError, "overlap"),
    ("stft_np size", lambda: spectral_ops.stft_np(X, 29.5), ValueError, "frame_size"),
    ("istft n_samples", lambda: spectral_ops.istft(Z, 64, n_samples=-640), ValueError,
     "n_samples"),
    ("istft str", lambda: spectral_ops.istft(np.array(["a", "b"]), 64), TypeError, "stft"),
    ("istft rank", lambda: spectral_ops.istft(Z[0, 0], 64), ValueError, "stft_frames"),
    ("istft bins", lambda: spectral_ops.istft(Z, 128), ValueError, "frequency bins"),
    ("mag size", lambda: spectral_ops.compute_mag(X, size="64"), ValueError, "frame_size"),
    ("logmag overlap", lambda: spectral_ops.compute_logmag(X, 64, 1.5), ValueError, "overlap"),
    ("mel bins", lambda: spectral_ops.compute_mel(X, bins=0, fft_size=64), ValueError, "bins"),
    ("mel rate", lambda: spectral_ops.compute_mel(X, sample_rate=np.nan), ValueError,
     "sample_rate"),
    ("logmel lo", lambda: spectral_ops.compute_logmel(X, lo_hz=-1.0), ValueError, "lower"),
    ("mfcc bins", lambda: spectral_ops.compute_mfcc(X, mfcc_bins=0), ValueError, "mfcc_bins"),
    ("mel matrix", lambda: spectral_ops.linear_to_mel_weight_matrix(20, 0), ValueError,
     "num_spectrogram_bins"),
    ("rms rank", lambda: spectral_ops.compute_rms_energy(np.zeros((1, 2, 640))), ValueError,
     r"\[batch, n_samples\]"),
    ("rms rate", lambda: spectral_ops.compute_rms_energy(X, 0), ValueError, "sample_rate"),
    ("rms frame rate", lambda: spectral_ops.compute_rms_energy(X, 16000, -250), ValueError,
     "frame_rate"),
    ("rms frame", lambda: spectral_ops.compute_rms_energy(X, frame_size=29.5), ValueError,
     "frame_size"),
    ("power range", lambda: spectral_ops.compute_power(X, range_db=0.0), ValueError, "range_db"),
    ("loudness rate", lambda: spectral_ops.compute_loudness(X, "16000"), ValueError,
     "sample_rate"),
    ("loudness ref", lambda: spectral_ops.compute_loudness(X, ref_db=np.inf), ValueError,
     "ref_db"),
    ("loudness complex", lambda: spectral_ops.compute_loudness(X + 1j), TypeError, "real"),
    ("framed lengths", lambda: spectral_ops.get_framed_lengths(640, 64, 0), ValueError,
     "hop_size"),
    ("framed str", lambda: spectral_ops.get_framed_lengths("640", 64, 16), ValueError,
     "input_length"),
    ("pad hop", lambda: spectral_ops.pad(X, 64, 29.5), ValueError, "hop_size"),
    ("pad axis", lambda: spectral_ops.pad(X, 64, 16, axis=5), ValueError, "axis"),
    ("pad reflect", lambda: spectral_ops.pad(X[:, :10], 64, 16, mode="REFLECT"), ValueError,
     "REFLECT"),
    ("pad empty", lambda: spectral_ops.pad(X[:, :0], 64, 16), ValueError, "no samples"),
    ("pad_or_trim len", lambda: spectral_ops.pad_or_trim_to_expected_length(X, -5), ValueError,
     "expected_len"),
    ("pad_or_trim tol", lambda: spectral_ops.pad_or_trim_to_expected_length(X, 5, len_tolerance=-1),
     ValueError, "len_tolerance"),
    ("a_weighting", lambda: spectral_ops.a_weighting(np.array(["x"])), TypeError, "frequencies"),
    ("normalize complex", lambda: spectral_ops.normalize_frames(X + 1j), TypeError, "frames"),
]  # fmt: skip


@pytest.mark.parametrize("call, error, match", [c[1:] for c in BAD_CALLS],
                         ids=[c[0] for c in BAD_CALLS])  # fmt: skip
def test_bad_arguments_are_named(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_zero_frame_inputs_are_clear():
    with pytest.raises(ValueError, match="shorter than one frame"):
        spectral_ops.compute_rms_energy(X[:, :100], padding="valid")
    with pytest.raises(ValueError, match="shorter than one frame"):
        spectral_ops.compute_loudness(X[:, :100], padding="valid")
    with pytest.raises(ValueError, match="no samples"):
        spectral_ops.compute_mag(X[:, :0], 64)
    with pytest.raises(ValueError, match="at least one frame"):
        spectral_ops.istft(Z[:, :0], 64)


def test_shortest_legal_inputs_give_documented_shapes():
    """One sample (pad_end), one frame, one hop: finite output of the documented shape."""
    one = np.full((1, 1), 0.5, np.float32)
    mag = spectral_ops.compute_mag(one, 64)
    np.testing.assert_allclose(mag[0, 0], np.abs(np.fft.rfft(np.r_[0.0, np.zeros(63)])))
    frame = np.ones((1, 64), np.float32)
    np.testing.assert_allclose(spectral_ops.compute_rms_energy(frame, 16000, 250, 64, "valid"),
                               [[1.0]])  # fmt: skip
    assert np.all(np.isfinite(spectral_ops.compute_loudness(frame, n_fft=64, padding="valid")))
