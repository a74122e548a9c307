"""A dependency-free progress bar for long jobs: items done, a second quantity, rate and ETA."""

from __future__ import annotations

import sys
import time
from typing import TextIO


def format_duration(seconds: float) -> str:
    """``H:MM:SS`` (or ``M:SS`` under an hour) of a non-negative number of seconds."""
    seconds = max(0, int(round(seconds)))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


class Progress:
    """One-line progress display: ``files 3/10 [#####     ] 0.12/0.40 h audio, ETA 1:05``.

    The ETA extrapolates from ``amount`` (e.g. audio hours), which tracks work better than the
    item count when items differ in size. On a terminal the line is redrawn in place (at most
    ``min_interval_s`` apart); elsewhere (a log file, a pipe) a line is printed per ``update``
    only every ``min_interval_s``, so logs stay short.

    Args:
        total: number of items (e.g. files).
        total_amount: total of the second quantity (e.g. hours of audio); 0 if unknown.
        label: what the items are.
        unit: unit of the second quantity.
        stream: where to write (default stderr); None disables output.
        min_interval_s: least time between two redraws [s].
    """

    def __init__(
        self,
        total: int,
        total_amount: float = 0.0,
        label: str = "files",
        unit: str = "h audio",
        stream: TextIO | None = sys.stderr,
        min_interval_s: float = 0.5,
        width: int = 24,
    ) -> None:
        self.total, self.total_amount = int(total), float(total_amount)
        self.label, self.unit, self.stream, self.width = label, unit, stream, width
        self.min_interval_s = min_interval_s
        self.done, self.amount = 0, 0.0
        self._start = time.monotonic()
        self._last_draw = -float("inf")
        self._drawn: tuple[int, float] | None = None
        self._tty = bool(stream is not None and getattr(stream, "isatty", lambda: False)())

    def eta_s(self) -> float | None:
        """Seconds left, extrapolated from the amount done so far (None before any)."""
        elapsed = time.monotonic() - self._start
        if self.total_amount > 0 and self.amount > 0:
            return elapsed * (self.total_amount - self.amount) / self.amount
        if self.done > 0:
            return elapsed * (self.total - self.done) / self.done
        return None

    def line(self) -> str:
        """The current progress line (without a newline)."""
        fraction = self.done / self.total if self.total else 1.0
        filled = int(round(fraction * self.width))
        bar = "#" * filled + " " * (self.width - filled)
        eta = self.eta_s()
        eta_text = "?" if eta is None else format_duration(eta)
        return (
            f"{self.label} {self.done}/{self.total} [{bar}] "
            f"{self.amount:.3g}/{self.total_amount:.3g} {self.unit}, "
            f"elapsed {format_duration(time.monotonic() - self._start)}, ETA {eta_text}"
        )

    def update(self, n: int = 1, amount: float = 0.0) -> None:
        """Count ``n`` more items and ``amount`` more of the second quantity; maybe redraw."""
        self.done += n
        self.amount += amount
        now = time.monotonic()
        if now - self._last_draw >= self.min_interval_s or self.done >= self.total:
            self._draw(now)

    def write(self, message: str) -> None:
        """Print a message above the bar (e.g. a skipped file) without garbling it."""
        if self.stream is None:
            return
        prefix = "\r\033[K" if self._tty else ""
        self.stream.write(prefix + message + "\n")
        self.stream.flush()
        if self._tty:
            self._draw(time.monotonic())

    def close(self) -> None:
        """Draw the final state and end the line."""
        if self.stream is None:
            return
        if self._tty:
            self._draw(time.monotonic(), force_newline=True)
        elif self._drawn != (self.done, self.amount):  # a log already holds the final line
            self._draw(time.monotonic())

    def _draw(self, now: float, force_newline: bool = False) -> None:
        if self.stream is None:
            return
        self._last_draw = now
        self._drawn = (self.done, self.amount)
        if self._tty:
            self.stream.write("\r\033[K" + self.line() + ("\n" if force_newline else ""))
        else:
            self.stream.write(self.line() + "\n")
        self.stream.flush()
