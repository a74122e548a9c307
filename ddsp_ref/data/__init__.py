"""Data shipped with ddsp_ref: a small corpus of rendered instrument melodies and one voice."""

from __future__ import annotations

import json
import os

__all__ = ["corpus_dir", "corpus_files", "corpus_notes"]


def corpus_dir() -> str:
    """Folder of the bundled corpus (FLAC files, ``notes.json``, ``README.md``)."""
    return os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")


def corpus_files(prefix: str = "") -> list[str]:
    """Paths of the corpus's FLAC files whose name starts with ``prefix`` ('violin', 'flute',
    'speech'), sorted."""
    folder = corpus_dir()
    return sorted(
        os.path.join(folder, n)
        for n in os.listdir(folder)
        if n.endswith(".flac") and n.startswith(prefix)
    )


def corpus_notes() -> dict:
    """``{file name: {'notes': [[onset_s, offset_s, midi], ...], ...}}``: the known pitch of
    every rendered note (the speech file has its text instead)."""
    with open(os.path.join(corpus_dir(), "notes.json"), encoding="utf-8") as f:
        return json.load(f)
