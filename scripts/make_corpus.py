"""Regenerate the bundled corpus in ddsp_ref/data/corpus/ (needs fluidsynth and espeak-ng).

    apt-get install -y fluidsynth fluid-soundfont-gm espeak-ng
    python scripts/make_corpus.py

Public-domain melodies, written here as note lists, are rendered through the FluidR3 General MIDI
soundfont (sampled violin and flute, MIT licence) to 16 kHz mono FLAC; ``notes.json`` keeps every
note's onset, offset and MIDI pitch, so the corpus has a known f0. One spoken sentence (espeak-ng)
is the non-instrument recording for timbre transfer. The library never needs these tools.
"""

from __future__ import annotations

import json
import os
import struct
import subprocess
import tempfile

import numpy as np
import soundfile as sf

OUT = os.path.join(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "ddsp_ref", "data", "corpus"
)
SOUNDFONT = "/usr/share/sounds/sf2/FluidR3_GM.sf2"
SAMPLE_RATE = 16000
NAMES = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}


def midi(name: str) -> int:
    """'C#5' -> 73."""
    pitch, octave = name[:-1], int(name[-1])
    return 12 * (octave + 1) + NAMES[pitch[0]] + pitch.count("#") - pitch.count("b")


def parse(melody: str) -> list[tuple[int, float]]:
    """'B4:1 C5:0.5 ...' -> [(midi, beats)]; 'R' is a rest."""
    out = []
    for token in melody.split():
        name, beats = token.split(":")
        out.append((-1 if name == "R" else midi(name), float(beats)))
    return out


# Melodies (all public domain), transcribed by hand. Beats per note after the colon.
ODE_TO_JOY = parse(  # Beethoven, Symphony No. 9 (1824), theme, in G
    "B4:1 B4:1 C5:1 D5:1 D5:1 C5:1 B4:1 A4:1 G4:1 G4:1 A4:1 B4:1 B4:1.5 A4:0.5 A4:2 "
    "B4:1 B4:1 C5:1 D5:1 D5:1 C5:1 B4:1 A4:1 G4:1 G4:1 A4:1 B4:1 A4:1.5 G4:0.5 G4:2 "
    "A4:1 A4:1 B4:1 G4:1 A4:1 B4:0.5 C5:0.5 B4:1 G4:1 A4:1 B4:0.5 C5:0.5 B4:1 A4:1 G4:1 A4:1 "
    "D4:2 B4:1 B4:1 C5:1 D5:1 D5:1 C5:1 B4:1 A4:1 G4:1 G4:1 A4:1 B4:1 A4:1.5 G4:0.5 G4:2"
)
MINUET_IN_G = parse(  # Petzold, Minuet in G (BWV Anh. 114), first strain
    "D5:1 G4:0.5 A4:0.5 B4:0.5 C5:0.5 D5:1 G4:1 G4:1 E5:1 C5:0.5 D5:0.5 E5:0.5 F#5:0.5 "
    "G5:1 G4:1 G4:1 C5:1 D5:0.5 C5:0.5 B4:0.5 A4:0.5 B4:1 C5:0.5 B4:0.5 A4:0.5 G4:0.5 "
    "F#4:1 G4:0.5 A4:0.5 B4:0.5 G4:0.5 A4:3 D5:1 G4:0.5 A4:0.5 B4:0.5 C5:0.5 D5:1 G4:1 G4:1 "
    "E5:1 C5:0.5 D5:0.5 E5:0.5 F#5:0.5 G5:1 G4:1 G4:1 C5:1 D5:0.5 C5:0.5 B4:0.5 A4:0.5 "
    "B4:1 C5:0.5 B4:0.5 A4:0.5 G4:0.5 A4:1 B4:0.5 A4:0.5 G4:0.5 F#4:0.5 G4:3"
)
GREENSLEEVES = parse(  # traditional English (16th century), in A minor
    "A4:1 C5:2 D5:1 E5:1.5 F5:0.5 E5:1 D5:2 B4:1 G4:1.5 A4:0.5 B4:1 C5:2 A4:1 A4:1.5 G#4:0.5 "
    "A4:1 B4:2 G#4:1 E4:2 A4:1 C5:2 D5:1 E5:1.5 F5:0.5 E5:1 D5:2 B4:1 G4:1.5 A4:0.5 B4:1 "
    "C5:1.5 B4:0.5 A4:1 G#4:1.5 F#4:0.5 G#4:1 A4:3 G5:3 G5:1.5 F#5:0.5 E5:1 D5:2 B4:1 "
    "G4:1.5 A4:0.5 B4:1 C5:2 A4:1 A4:1.5 G#4:0.5 A4:1 B4:2 G#4:1 E4:3"
)
TWINKLE = parse(  # "Ah ! vous dirai-je, maman" (French, 18th century), in D, an octave up
    "D5:1 D5:1 A5:1 A5:1 B5:1 B5:1 A5:2 G5:1 G5:1 F#5:1 F#5:1 E5:1 E5:1 D5:2 "
    "A5:1 A5:1 G5:1 G5:1 F#5:1 F#5:1 E5:2 A5:1 A5:1 G5:1 G5:1 F#5:1 F#5:1 E5:2 "
    "D5:1 D5:1 A5:1 A5:1 B5:1 B5:1 A5:2 G5:1 G5:1 F#5:1 F#5:1 E5:1 E5:1 D5:2"
)
FRERE_JACQUES = parse(  # traditional French round, in F
    "F4:1 G4:1 A4:1 F4:1 F4:1 G4:1 A4:1 F4:1 A4:1 Bb4:1 C5:2 A4:1 Bb4:1 C5:2 "
    "C5:0.5 D5:0.5 C5:0.5 Bb4:0.5 A4:1 F4:1 C5:0.5 D5:0.5 C5:0.5 Bb4:0.5 A4:1 F4:1 "
    "F4:1 C4:1 F4:2 F4:1 C4:1 F4:2"
)
AMAZING_GRACE = parse(  # "New Britain" (American, 1829), in F, 3/4
    "C4:1 F4:2 A4:0.5 F4:0.5 A4:2 G4:1 F4:2 D4:1 C4:2 C4:1 F4:2 A4:0.5 F4:0.5 A4:2 G4:1 "
    "C5:3 R:2 A4:1 C5:1.5 A4:0.5 C5:0.5 A4:0.5 F4:2 C4:1 D4:1.5 F4:0.5 F4:0.5 D4:0.5 C4:2 "
    "C4:1 F4:2 A4:0.5 F4:0.5 A4:2 G4:1 F4:3"
)

# file -> (GM program, tempo [beats per minute], melodies)
PIECES = {
    "violin_ode_to_joy.flac": (40, 100, ODE_TO_JOY),
    "violin_minuet_in_g.flac": (40, 108, MINUET_IN_G),
    "violin_greensleeves.flac": (40, 132, GREENSLEEVES),
    "violin_twinkle.flac": (40, 110, TWINKLE),
    "flute_frere_jacques.flac": (73, 110, FRERE_JACQUES),
    "flute_amazing_grace.flac": (73, 96, AMAZING_GRACE),
}
SPEECH = (
    "speech_en.flac",
    "A quiet voice reads one short sentence, for timbre transfer from speech to an instrument.",
)
LEAD_IN_S = 0.5  # silence before the first note
LEGATO = 0.92  # a note sounds for this fraction of its beat length


def _varlen(n: int) -> bytes:
    out = [n & 0x7F]
    n >>= 7
    while n:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    return bytes(reversed(out))


def midi_file(program: int, notes: list[tuple[float, float, int]]) -> bytes:
    """A format-0 MIDI file: 960 ticks per second (480 per beat at 120 bpm), channel 0."""
    events = [(0, bytes([0xC0, program]))]
    for onset, offset, pitch in notes:
        events.append((round(onset * 960), bytes([0x90, pitch, 96])))
        events.append((round(offset * 960), bytes([0x80, pitch, 0])))
    events.sort(key=lambda e: (e[0], e[1][0] == 0x90))  # note-offs first at equal times
    track, now = b"\x00\xff\x51\x03\x07\xa1\x20", 0  # tempo 500000 us per beat
    for tick, data in events:
        track += _varlen(tick - now) + data
        now = tick
    track += b"\x00\xff\x2f\x00"
    return (
        b"MThd"
        + struct.pack(">IHHH", 6, 0, 1, 480)
        + b"MTrk"
        + struct.pack(">I", len(track))
        + track
    )


def note_times(melody, tempo_bpm: float) -> list[tuple[float, float, int]]:
    """(onset [s], offset [s], MIDI pitch) of the sounding notes."""
    beat, t, out = 60.0 / tempo_bpm, LEAD_IN_S, []
    for pitch, beats in melody:
        if pitch >= 0:
            out.append((round(t, 4), round(t + LEGATO * beats * beat, 4), pitch))
        t += beats * beat
    return out


def render(name: str, program: int, notes, tmp: str) -> float:
    mid, wav = os.path.join(tmp, "piece.mid"), os.path.join(tmp, "piece.wav")
    with open(mid, "wb") as f:
        f.write(midi_file(program, notes))
    subprocess.run(
        [
            "fluidsynth",
            "-ni",
            "-q",
            "-R",
            "0",
            "-C",
            "0",
            "-g",
            "0.6",
            "-r",
            str(SAMPLE_RATE),
            "-F",
            wav,
            SOUNDFONT,
            mid,
        ],
        check=True,
    )
    audio, sr = sf.read(wav)
    assert sr == SAMPLE_RATE, sr
    audio = audio.mean(axis=1) if audio.ndim == 2 else audio
    end = int((notes[-1][1] + 0.6) * sr)  # keep the last release, drop the trailing silence
    audio = audio[:end] / max(1e-9, np.abs(audio[:end]).max()) * 0.7
    sf.write(os.path.join(OUT, name), audio, sr, subtype="PCM_16")
    return audio.size / sr


def main() -> None:
    os.makedirs(OUT, exist_ok=True)
    index = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, (program, tempo, melody) in PIECES.items():
            notes = note_times(melody, tempo)
            seconds = render(name, program, notes, tmp)
            index[name] = {
                "gm_program": program,
                "duration_s": round(seconds, 3),
                "notes": [list(n) for n in notes],
            }
        wav = os.path.join(tmp, "speech.wav")
        subprocess.run(["espeak-ng", "-v", "en", "-s", "150", "-w", wav, SPEECH[1]], check=True)
        audio, sr = sf.read(wav)
        sf.write(os.path.join(OUT, SPEECH[0]), audio, sr, subtype="PCM_16")
        index[SPEECH[0]] = {
            "text": SPEECH[1],
            "duration_s": round(audio.size / sr, 3),
            "sample_rate": sr,
        }
    with open(os.path.join(OUT, "notes.json"), "w") as f:
        json.dump(index, f, indent=1)
        f.write("\n")
    for name, item in index.items():
        print(f"{name}: {item['duration_s']:.1f} s")


if __name__ == "__main__":
    main()
