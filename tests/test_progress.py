"""The progress bar: counts, amounts, ETA from the amount done, quiet logs."""

from __future__ import annotations

import io

from ddsp_ref import progress as progress_module
from ddsp_ref.progress import Progress, format_duration


def test_format_duration():
    assert format_duration(0) == "0:00"
    assert format_duration(65.4) == "1:05"
    assert format_duration(3 * 3600 + 7) == "3:00:07"


def test_line_counts_amount_and_eta(monkeypatch):
    now = [100.0]
    monkeypatch.setattr(progress_module.time, "monotonic", lambda: now[0])
    stream = io.StringIO()
    bar = Progress(4, total_amount=2.0, stream=stream, min_interval_s=0.0)
    now[0] = 110.0
    bar.update(1, 0.5)  # 10 s for 0.5 of 2.0 h: 30 s left
    first = stream.getvalue().splitlines()[-1]
    assert first.startswith("files 1/4 [######")
    assert "0.5/2 h audio" in first and "elapsed 0:10" in first and "ETA 0:30" in first
    bar.write("skipped x.wav: empty")
    assert "skipped x.wav: empty\n" in stream.getvalue()
    now[0] = 130.0
    bar.update(3, 1.5)
    last = stream.getvalue().splitlines()[-1]
    assert last.startswith("files 4/4 [########################]") and "ETA 0:00" in last
    lines = len(stream.getvalue().splitlines())
    bar.close()  # not a terminal: the final line is already there, nothing is repeated
    assert len(stream.getvalue().splitlines()) == lines


def test_no_stream_is_silent():
    bar = Progress(2, stream=None)
    bar.update(2, 1.0)
    bar.write("x")
    bar.close()
    assert bar.done == 2 and bar.amount == 1.0
