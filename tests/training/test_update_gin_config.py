"""ddsp's update_gin_config: old operative configs rewritten so that they load again."""

from __future__ import annotations

import os
import textwrap

import pytest

from ddsp_ref.training import update_gin_config as ugc
from ddsp_ref.training.model_dir import SHIPPED_MODEL_DIR

OLD = textwrap.dedent(
    """\
    import ddsp
    # Parameters for Autoencoder:
    Autoencoder.decoder = @decoders.ZRnnFcDecoder()
    ZRnnFcDecoder.rnn_channels = 512
    train/ZRnnFcDecoder.ch = 256
    SpectralLoss.delta_delta_freq_weight = 0.0
    losses.SpectralLoss.delta_delta_time_weight = 0.0
    SpectralLoss.delta_freq_weight = 0.0
    DilatedConvDecoder.resample = False
    DilatedConvDecoder.resample_stride = 2
    DilatedConvDecoder.resample_after_convolve = True
    XZRnnFcDecoder.ch = 1"""
)
# Written by hand from the rules (not by running the code).
NEW = textwrap.dedent(
    """\
    import ddsp
    # Parameters for Autoencoder:
    Autoencoder.decoder = @decoders.RnnFcDecoder()
    RnnFcDecoder.rnn_channels = 512
    train/RnnFcDecoder.ch = 256
    SpectralLoss.delta_freq_weight = 0.0
    DilatedConvDecoder.resample_stride = 2
    DilatedConvDecoder.resample_after_convolve = True
    XZRnnFcDecoder.ch = 1

    RnnFcDecoder.input_keys = ("f0_scaled", "ld_scaled")
    """
)


def test_old_config_text_is_updated_by_the_rules():
    text, log = ugc.update_config_text(OLD)
    assert text == NEW
    assert log == [
        "Swapped: Autoencoder.decoder = @decoders.ZRnnFcDecoder() -> "
        "Autoencoder.decoder = @decoders.RnnFcDecoder()",
        "Swapped: ZRnnFcDecoder.rnn_channels = 512 -> RnnFcDecoder.rnn_channels = 512",
        "Swapped: train/ZRnnFcDecoder.ch = 256 -> train/RnnFcDecoder.ch = 256",
        "Removed: SpectralLoss.delta_delta_freq_weight = 0.0",
        "Removed: losses.SpectralLoss.delta_delta_time_weight = 0.0",
        "Removed: DilatedConvDecoder.resample = False",
        'Added: RnnFcDecoder.input_keys = ("f0_scaled", "ld_scaled")',
    ]


def test_update_is_idempotent_and_skips_what_is_there():
    once, _ = ugc.update_config_text(OLD)
    twice, log = ugc.update_config_text(once)
    assert twice == once
    assert log == [
        'Skipped Add: RnnFcDecoder.input_keys = ("f0_scaled", "ld_scaled"), '
        "RnnFcDecoder.input_keys already present."
    ]
    text, log = ugc.update_config_text("Harmonic.n_samples = 64000\n")
    assert text == "Harmonic.n_samples = 64000\n"
    assert log == [
        'Skipped Add: RnnFcDecoder.input_keys = ("f0_scaled", "ld_scaled"), '
        "RnnFcDecoder not present."
    ]
    assert ugc.update_config_text("") == ("", [log[0]])


def _old_violin_config() -> str:
    """The shipped model's operative config turned into an old ddsp one: ZRnnFcDecoder, no
    input_keys binding (then ('f0_scaled', 'ld_scaled') implicitly), delta-delta weights."""
    path = os.path.join(SHIPPED_MODEL_DIR, "operative_config-6000.gin")
    with open(path, encoding="utf-8") as f:
        lines = [line for line in f if not line.startswith("RnnFcDecoder.input_keys")]
    lines.append("SpectralLoss.delta_delta_freq_weight = 0.0\n")
    return "".join(lines).replace("RnnFcDecoder", "ZRnnFcDecoder")


def test_updated_old_config_parses_strictly_and_builds_the_model():
    gin = pytest.importorskip("gin")
    import ddsp_ref.training  # noqa: F401  (registers ddsp's gin names)
    from ddsp_ref.training.models import Autoencoder

    old = _old_violin_config()
    gin.clear_config()
    with pytest.raises(ValueError):  # what the update is for: the old names do not parse
        gin.parse_config(old)
    gin.clear_config()
    gin.parse_config(ugc.update_config_text(old)[0])
    try:
        model = Autoencoder()
    finally:
        gin.clear_config()
    assert tuple(model.decoder.input_keys) == ("f0_scaled", "ld_scaled")
    assert model.decoder.rnn.dims == 256


def test_files_are_written_beside_or_over_the_originals(tmp_path, capsys):
    for step in (100, 200):
        (tmp_path / f"operative_config-{step}.gin").write_text(OLD)
    (tmp_path / "keep.gin").write_text(OLD)
    pattern = str(tmp_path / "operative_config-*.gin")
    assert ugc.main([pattern]) == 0
    for step in (100, 200):
        assert (tmp_path / f"updated_operative_config-{step}.gin").read_text() == NEW
        assert (tmp_path / f"operative_config-{step}.gin").read_text() == OLD
    assert not (tmp_path / "updated_keep.gin").exists()
    assert "Removed: DilatedConvDecoder.resample = False" in capsys.readouterr().out
    assert ugc.main(["--path", str(tmp_path / "keep.gin"), "--overwrite"]) == 0
    assert (tmp_path / "keep.gin").read_text() == NEW
    assert sorted(os.listdir(tmp_path)) == [
        "keep.gin",
        "operative_config-100.gin",
        "operative_config-200.gin",
        "updated_operative_config-100.gin",
        "updated_operative_config-200.gin",
    ]


def test_no_matching_file_is_an_error(tmp_path, capsys):
    assert ugc.main([str(tmp_path / "operative_config-*.gin")]) == 2
    assert "no file matches" in capsys.readouterr().err
