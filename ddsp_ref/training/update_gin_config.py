"""ddsp's ``update_gin_config.py``: rewrite gin configs of older ddsp versions (operative configs
of old training runs) so that they load with the current names.

gin cannot follow a renamed configurable or a removed keyword by itself, so the changes are
listed here and applied line by line, as ddsp's script does:

- bindings of removed keywords are dropped: ``SpectralLoss.delta_delta_freq_weight``,
  ``SpectralLoss.delta_delta_time_weight``, ``DilatedConvEncoder.resample``,
  ``DilatedConvDecoder.resample``;
- ``ZRnnFcDecoder`` becomes ``RnnFcDecoder``;
- a config that uses ``RnnFcDecoder`` without binding its ``input_keys`` gets
  ``RnnFcDecoder.input_keys = ("f0_scaled", "ld_scaled")`` (the inputs the decoder had before
  the keyword existed) appended at the end.

One deliberate difference: ddsp drops every line that *contains* a removed name, so its rule for
``DilatedConvDecoder.resample`` also deletes the current ``DilatedConvDecoder.resample_stride``
and ``resample_after_convolve`` bindings; here only bindings of exactly the removed keyword go.

Command line (ddsp's flags; the file is written as ``updated_<name>`` beside the original unless
``--overwrite``)::

    python -m ddsp_ref.training.update_gin_config 'runs/old/operative_config-*.gin'
    python -m ddsp_ref.training.update_gin_config --path runs/old/operative_config-3.gin --overwrite
"""

from __future__ import annotations

import argparse
import glob
import os
import re
import sys

from ..io import atomic_write

__all__ = ["REMOVE", "SUBSTITUTE", "ADD", "update_config_text", "update_config_file", "main"]

# Bindings of these (configurable.keyword) are removed.
REMOVE = (
    "SpectralLoss.delta_delta_freq_weight",
    "SpectralLoss.delta_delta_time_weight",
    "DilatedConvEncoder.resample",
    "DilatedConvDecoder.resample",
)
# (old name, new name) of renamed configurables.
SUBSTITUTE = (("ZRnnFcDecoder", "RnnFcDecoder"),)
# (configurable, keyword, value) bound when the configurable is used and the keyword is not.
ADD = (("RnnFcDecoder", "input_keys", '("f0_scaled", "ld_scaled")'),)


def _binding(name: str) -> re.Pattern:
    """A binding of ``name`` (also scoped, ``scope/Name.kw``, or module-qualified,
    ``losses.Name.kw``), not of a longer name (``Name.kw_stride``, ``ZName.kw``)."""
    return re.compile(rf"(?<!\w){re.escape(name)}\s*=")


def _word(name: str) -> re.Pattern:
    return re.compile(rf"(?<!\w){re.escape(name)}(?!\w)")


def update_config_text(text: str) -> tuple[str, list[str]]:
    """``(updated config, log)``: the rules above applied to a gin config's text; ``log`` says
    what was removed, swapped, added or skipped, one line each, in ddsp's words."""
    log: list[str] = []
    lines = []
    for line in text.splitlines(keepends=True):
        if any(_binding(name).search(line) for name in REMOVE):
            log.append(f"Removed: {line.rstrip()}")
            continue
        for old, new in SUBSTITUTE:
            swapped = _word(old).sub(new, line)
            if swapped != line:
                log.append(f"Swapped: {line.rstrip()} -> {swapped.rstrip()}")
                line = swapped
        lines.append(line)
    for configurable, keyword, value in ADD:
        binding = f"{configurable}.{keyword} = {value}"
        if not any(_word(configurable).search(line) for line in lines):
            log.append(f"Skipped Add: {binding}, {configurable} not present.")
        elif any(_binding(f"{configurable}.{keyword}").search(line) for line in lines):
            log.append(f"Skipped Add: {binding}, {configurable}.{keyword} already present.")
        else:
            if lines and not lines[-1].endswith("\n"):
                lines[-1] += "\n"
            lines.append(f"\n{binding}\n")
            log.append(f"Added: {binding}")
    return "".join(lines), log


def update_config_file(path: str, overwrite: bool = False) -> tuple[str, list[str]]:
    """Update the gin file ``path``; returns ``(path written, log)``. The result goes to
    ``updated_<name>`` in the same folder (replacing an earlier one), or over ``path`` itself
    with ``overwrite``; either way atomically, so an interruption never leaves half a file."""
    with open(path, encoding="utf-8") as f:
        text, log = update_config_text(f.read())
    folder, name = os.path.split(path)
    target = path if overwrite else os.path.join(folder, "updated_" + name)
    with atomic_write(target, "w") as f:
        f.write(text)
    return target, log


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="update_gin_config", description=__doc__.splitlines()[0].rstrip(",")
    )
    parser.add_argument("pattern", nargs="?", help="a gin file or a glob pattern (as --path)")
    parser.add_argument("--path", default="/tmp/operative_config-*.gin",
                        help="gin file or glob pattern (default: %(default)s)")  # fmt: skip
    parser.add_argument("--overwrite", action="store_true", help="rewrite the files in place")
    args = parser.parse_args(argv)
    pattern = args.pattern or args.path
    files = sorted(p for p in glob.glob(pattern) if os.path.isfile(p))
    if not files:
        print(f"update_gin_config: no file matches {pattern!r}", file=sys.stderr)
        return 2
    for path in files:
        target, log = update_config_file(path, args.overwrite)
        print(f"\nUpdating:\n{path} ->\n{target}\n================")
        print("\n".join(log) if log else "(nothing to change)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
