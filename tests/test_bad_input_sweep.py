"""Bad input gets a clear error, never silent garbage: a sweep over the public DSP API.

For every callable of tests/api_specs.py: the valid call returns finite arrays; then each
argument is mutated, one at a time, by its kind (complex or text arrays, wrong ranks, batch
mismatches, emptied time axes, zero / negative / NaN / fractional / text sizes and rates,
unknown method names). The contract: a ValueError or TypeError whose message names the
argument (lists of numbers are accepted like arrays; an emptied time axis may also give a
finite result). A hypothesis test then draws random bad values of each kind.

``python -m tests.test_bad_input_sweep`` prints the counts (calls, clear errors, the rest).
"""

from __future__ import annotations

import importlib
import math
from collections import Counter
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.api_specs import SPECS, Arg, Spec

CLEAR = (ValueError, TypeError)


def _target(spec: Spec) -> Any:
    module, name = spec.target.split(".")
    return getattr(importlib.import_module(f"ddsp_ref.{module}"), name)


def call(spec: Spec, overrides: dict[str, Any] | None = None) -> Any:
    """Run ``spec`` with ``overrides`` ({argument name: value}) in place of the valid values."""
    overrides = overrides or {}
    value = {k: overrides.get(k, a.value) for k, a in spec.args.items()}
    target = _target(spec)
    if isinstance(target, type):
        init = {k: overrides.get(k, a.value) for k, a in spec.init.items()}
        return target(**init)(*value.values())
    names = list(value)
    return target(
        *[value[k] for k in names[: spec.n_pos]], **{k: value[k] for k in names[spec.n_pos :]}
    )


def _arrays(result: Any) -> Iterator[np.ndarray]:
    if isinstance(result, dict):
        for v in result.values():
            yield from _arrays(v)
    elif isinstance(result, (list, tuple)):
        for v in result:
            yield from _arrays(v)
    elif hasattr(result, "shape") or isinstance(result, (int, float, np.number)):
        yield np.asarray(result)


def is_finite(result: Any) -> bool:
    return all(a.dtype.kind not in "fc" or np.isfinite(a).all() for a in _arrays(result))


# -- mutations ------------------------------------------------------------------------------------
def _batch_args(spec: Spec) -> list[str]:
    return [k for k, a in spec.args.items() if a.kind == "array" and a.batch]


def array_mutations(spec: Spec, name: str, arg: Arg) -> Iterator[tuple[str, Any, str]]:
    """(label, bad value, expectation): 'error', 'same' (result equal to the valid one) or
    'error_or_finite'."""
    x = arg.value
    if not arg.complex_ok:
        yield "complex", x + 0.5j, "error"
    yield "text", "not an array", "error"
    yield "list", x.tolist(), "same"  # compared with the float32 array: lists become float32
    if arg.rank is not None:
        yield "rank+1", x[None], "error"
        if x.ndim > 1:
            yield "rank-1", x[0], "error"
    if arg.batch and len(_batch_args(spec)) > 1 and x.shape[0] > 1:
        yield "batch+1", np.concatenate([x, x[:1]]), "error"
    if arg.time is not None:
        yield "zero frames", np.take(x, [], axis=arg.time), "error_or_finite"


SCALAR_MUTATIONS = {
    "size": [("0", 0), ("-3", -3), ("nan", math.nan), ("'29.5'", "29.5"), ("29.5", 29.5)],
    "count": [("-3", -3), ("nan", math.nan), ("'2'", "2"), ("2.5", 2.5)],
    "integer": [("nan", math.nan), ("'2'", "2"), ("2.5", 2.5)],
    "rate": [("0", 0.0), ("-16000", -16000.0), ("nan", math.nan), ("inf", math.inf),
             ("'16000'", "16000")],
    "number": [("nan", math.nan), ("inf", math.inf), ("'1.0'", "1.0")],
    "choice": [("'bogus'", "bogus"), ("None", None)],
}  # fmt: skip


def mutations(spec: Spec) -> Iterator[tuple[str, str, Any, str]]:
    for name, arg in {**spec.init, **spec.args}.items():
        if arg.kind == "array":
            for label, value, expect in array_mutations(spec, name, arg):
                yield name, label, value, expect
        for label, value in SCALAR_MUTATIONS.get(arg.kind, []):
            yield name, label, value, "error"


def _arg(spec: Spec, name: str) -> Arg:
    return spec.args.get(name) or spec.init[name]


def judge(spec: Spec, name: str, value: Any, expect: str) -> str:
    """'ok' when the contract holds, else a short description of what happened."""
    try:
        result = call(spec, {name: value})
    except CLEAR as err:
        if expect == "same":
            return f"rejected a valid variant: {type(err).__name__}: {err}"
        words = (name,) + _arg(spec, name).names
        if not any(w.lower() in str(err).lower() for w in words):
            return f"unclear error (does not name {name!r}): {type(err).__name__}: {err}"
        return "ok"
    except Exception as err:  # noqa: BLE001 - any other exception breaks the contract
        return f"obscure error {type(err).__name__}: {err}"
    if expect == "error":
        return f"silent: returned {type(result).__name__} instead of raising"
    if not is_finite(result):
        return "non-finite result"
    if expect == "same":
        original = np.asarray(_arg(spec, name).value)
        single = np.complex64 if original.dtype.kind == "c" else np.float32
        valid = list(_arrays(call(spec, {name: original.astype(single)})))
        got = list(_arrays(result))
        if len(valid) != len(got) or not all(
            a.shape == b.shape and np.allclose(a, b, rtol=1e-5, atol=1e-6)
            for a, b in zip(valid, got)
        ):
            return "a list gave another result than the array"
    return "ok"


CASES = [(spec, m) for spec in SPECS for m in mutations(spec)]


@pytest.mark.parametrize("spec", SPECS, ids=[s.id for s in SPECS])
def test_valid_call_returns_finite_arrays(spec):
    result = call(spec)
    assert list(_arrays(result)), "the valid call returned no array"
    assert is_finite(result)


@pytest.mark.parametrize(
    "spec, mutation",
    CASES,
    ids=[f"{spec.id}-{m[0]}-{m[1]}" for spec, m in CASES],
)
def test_mutated_argument_gets_a_clear_error(spec, mutation):
    name, _, value, expect = mutation
    outcome = judge(spec, name, value, expect)
    assert outcome == "ok", outcome


# -- random bad values -----------------------------------------------------------------------------
_NON_INTEGRAL = st.floats(allow_nan=False, allow_infinity=False).filter(
    lambda v: v != int(v) if math.isfinite(v) else False
)
BAD_VALUES = {
    "size": st.one_of(st.integers(max_value=0), _NON_INTEGRAL, st.just(math.nan), st.text()),
    "count": st.one_of(st.integers(max_value=-1), _NON_INTEGRAL, st.just(math.nan), st.text()),
    "integer": st.one_of(_NON_INTEGRAL, st.just(math.nan), st.text()),
    # (None is legal for some rates: normalize_harmonics without a sample rate masks nothing.)
    "rate": st.one_of(st.floats(max_value=0.0), st.just(math.nan), st.just(math.inf), st.text()),
    "number": st.one_of(st.just(math.nan), st.just(-math.inf), st.text(min_size=1)),
    "choice": st.text().filter(lambda t: t not in ("linear", "cubic", "nearest", "window")),
}
_SCALAR_ARGS = [
    (spec, name)
    for spec in SPECS
    for name, arg in {**spec.init, **spec.args}.items()
    if arg.kind in BAD_VALUES
]
_ARRAY_ARGS = [
    (spec, name)
    for spec in SPECS
    for name, a in spec.args.items()
    if a.kind == "array" and not a.complex_ok
]


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_random_bad_scalars_get_a_clear_error(data):
    spec, name = data.draw(st.sampled_from(_SCALAR_ARGS), label="argument")
    arg = _arg(spec, name)
    value = data.draw(BAD_VALUES[arg.kind], label="value")
    if arg.kind == "choice" and value in arg.options:
        return
    assert judge(spec, name, value, "error") == "ok"


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_random_complex_arrays_are_rejected(data):
    spec, name = data.draw(st.sampled_from(_ARRAY_ARGS), label="argument")
    imag = data.draw(st.floats(min_value=1e-6, max_value=1e3), label="imaginary part")
    value = spec.args[name].value + 1j * imag
    assert judge(spec, name, value, "error") == "ok"


def sweep() -> Counter:
    """Counts of the exhaustive sweep: valid calls and every mutation's outcome class."""
    counts = Counter()
    for spec in SPECS:
        counts["valid calls"] += 1
        try:
            counts["valid calls finite"] += is_finite(call(spec))
        except Exception as err:  # noqa: BLE001 - reported, not raised
            counts[f"valid call failed: {spec.id}: {type(err).__name__}"] += 1
    for spec, (name, _, value, expect) in CASES:
        outcome = judge(spec, name, value, expect)
        counts["mutated calls"] += 1
        counts["ok: " + expect if outcome == "ok" else outcome.split(":")[0]] += 1
    return counts


if __name__ == "__main__":
    import sys

    callables = {s.target for s in SPECS}
    print(f"{len(callables)} public callables, {len(SPECS)} specs")
    for key, value in sorted(sweep().items()):
        print(f"{value:6d}  {key}")
    if "-v" in sys.argv:  # every failing case
        for spec, (name, label, value, expect) in CASES:
            outcome = judge(spec, name, value, expect)
            if outcome != "ok":
                print(f"{spec.id} {name} {label}: {outcome[:160]}")
