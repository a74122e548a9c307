"""Local worker processes start safely whatever ran before in the calling process."""

from __future__ import annotations

import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent(
    """
    import os, sys, tempfile
    import numpy as np
    from ddsp_ref.data import corpus_files
    from ddsp_ref.spectral_ops import compute_f0
    from ddsp_ref.training.data_preparation import prepare_dataset, runners

    if __name__ == "__main__":
        # A numba parallel kernel (GNU OpenMP) runs here first, as in a notebook session.
        compute_f0(np.zeros((2, 4096), np.float32) + 0.1, frame_rate=250, sample_rate=16000)
        print("fork safe:", runners._fork_is_safe())
        out = os.path.join(tempfile.mkdtemp(), "out")
        manifest = prepare_dataset(corpus_files()[:2], out, progress=None, num_workers=2,
                                   example_secs=1, hop_secs=1)
        print("files", len(manifest["files"]))
    """
)


def test_workers_survive_a_parallel_kernel_in_the_parent(tmp_path):
    script = tmp_path / "prepare_after_kernels.py"
    script.write_text(SCRIPT)
    result = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stderr[-3000:]
    lines = result.stdout.split("\n")
    assert "fork safe: False" in lines  # the fork server path was taken
    assert "files 2" in lines


def test_fork_is_used_while_it_is_safe():
    code = (
        "from ddsp_ref.training.data_preparation import runners\n"
        "print(runners._worker_context().get_start_method())\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout.strip() == ("spawn" if sys.platform == "win32" else "fork")
