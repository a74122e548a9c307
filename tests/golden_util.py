"""Replay the cases recorded from ddsp 3.7.0 (tests/golden/ddsp_3_7_0, see its README)."""

from __future__ import annotations

import importlib
import json
from pathlib import Path

import numpy as np

import ddsp_ref

GOLDEN_DIR = Path(__file__).parent / "golden" / "ddsp_3_7_0"


def case_names(prefix: str) -> list[str]:
    """Names (file stems) of the golden cases whose target starts with ``prefix``."""
    names = []
    for path in sorted(GOLDEN_DIR.glob("*.npz")):
        spec = json.loads(str(np.load(path)["spec"]))
        if spec["target"].startswith(prefix):
            names.append(path.stem)
    return names


def load_case(name: str) -> tuple[dict, dict]:
    data = np.load(GOLDEN_DIR / f"{name}.npz")
    return json.loads(str(data["spec"])), {k: data[k] for k in data.files if k != "spec"}


def _resolve(target: str):
    module_name, attr = target.rsplit(".", 1)
    return getattr(importlib.import_module(f"ddsp_ref.{module_name}"), attr)


def build_call(spec: dict, arrays: dict, xp=np):
    """The positional arguments and the function of a case, with arrays on ``xp``."""
    args = []
    for entry in spec["args"]:
        args.append(xp.asarray(arrays[entry["array"]]) if "array" in entry else entry["value"])
    target = _resolve(spec["target"])
    if spec["kind"] == "proc":
        target = target(**spec.get("init", {}))
    kwargs = spec.get("kwargs", {})

    def call(*a):
        return target(*a, **kwargs)

    return call, args


def rel_err(ours, ref) -> float:
    ours = np.asarray(ddsp_ref.backend.to_numpy(ours), dtype=np.float64)
    ref = np.asarray(ref, dtype=np.float64)
    assert ours.shape == ref.shape, f"shape {ours.shape} != golden shape {ref.shape}"
    denom = np.linalg.norm(ref)
    return float(np.linalg.norm(ours - ref) / (denom if denom > 0 else 1.0))


def replay(name: str, xp=np, fwd_tol: float = 1e-5, grad_tol: float = 1e-4) -> None:
    """Run one golden case forward and backward and assert both match within tolerance."""
    spec, arrays = load_case(name)
    call, args = build_call(spec, arrays, xp)
    outs = call(*args)
    outs = outs if isinstance(outs, tuple) else (outs,)
    n_out = spec["n_out"]
    for i in range(n_out):
        err = rel_err(outs[i], arrays[f"out{i}"])
        assert err < fwd_tol, f"{name}: output {i} relative error {err:.3g} >= {fwd_tol}"
    grad_idx = spec["grad"]
    if not grad_idx:
        return
    cots = [xp.asarray(arrays[f"cot{i}"]) for i in range(n_out)]

    def scalar(*diff_args):
        full = list(args)
        for k, a in zip(grad_idx, diff_args):
            full[k] = a
        res = call(*full)
        res = res if isinstance(res, tuple) else (res,)
        total = 0.0
        for i in range(n_out):
            total = total + ddsp_ref.autodiff.ops.sum(res[i] * cots[i])
        return total

    _, grads = ddsp_ref.value_and_grad(scalar, argnums=tuple(range(len(grad_idx))))(
        *[args[k] for k in grad_idx]
    )
    for k, g in zip(grad_idx, grads):
        err = rel_err(g, arrays[f"grad{k}"])
        assert err < grad_tol, f"{name}: gradient {k} relative error {err:.3g} >= {grad_tol}"
