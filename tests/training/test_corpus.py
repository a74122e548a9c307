"""The bundled corpus: present as package data, and its prepared f0 matches the known notes."""

from __future__ import annotations

import os

import numpy as np
import soundfile as sf

from ddsp_ref.data import corpus_dir, corpus_files, corpus_notes
from ddsp_ref.training.data import DatasetProvider
from ddsp_ref.training.data_preparation import prepare_dataset


def test_corpus_files_and_notes():
    notes = corpus_notes()
    names = [os.path.basename(p) for p in corpus_files()]
    assert names == sorted(notes)
    assert len(corpus_files("violin")) >= 3 and corpus_files("flute") and corpus_files("speech")
    for name in names:
        info = sf.info(os.path.join(corpus_dir(), name))
        assert info.channels == 1 and abs(info.duration - notes[name]["duration_s"]) < 1e-2
    violin_s = sum(notes[os.path.basename(p)]["duration_s"] for p in corpus_files("violin"))
    assert violin_s > 120


def truth_midi(notes: list, times_s: np.ndarray) -> np.ndarray:
    """Known MIDI pitch at each time (NaN outside notes, and in each note's first 50 ms)."""
    out = np.full(times_s.shape, np.nan)
    for onset, offset, pitch in notes:
        out[(times_s >= onset + 0.05) & (times_s <= offset)] = pitch
    return out


def test_prepared_corpus_f0_matches_the_known_pitch(tmp_path):
    name = "flute_frere_jacques.flac"
    path = os.path.join(corpus_dir(), name)
    manifest = prepare_dataset(
        [path], str(tmp_path / "out"), hop_secs=4, num_workers=1, progress=None
    )
    provider = DatasetProvider(str(tmp_path / "out"))
    batch = provider.examples(range(provider.n_examples))
    assert provider.n_examples == manifest["files"][0]["n_examples"]["train"] == 5
    # Example j starts at 4 j s; 'same' padding: frame k spans [k hop, k hop + 1024) samples,
    # so it is centred 32 ms after k / frame_rate.
    times = 4.0 * np.arange(5)[:, None] + np.arange(1000)[None] / 250 + 0.032
    truth = truth_midi(corpus_notes()[name]["notes"], times)
    voiced = ~np.isnan(truth)
    cents = 100 * (12 * np.log2(batch["f0_hz"][voiced] / 440.0) + 69 - truth[voiced])
    assert voiced.sum() > 2500
    assert np.mean(np.abs(cents) < 50) > 0.97
    assert np.median(batch["f0_confidence"][voiced]) > 0.9
