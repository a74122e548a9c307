"""Matrix products: matmul (with numpy's 1-D promotion rules) and einsum."""

from __future__ import annotations

from ..kernels.gemm import transposed_product
from .tape import Primitive


def _stacked_rows(a, b) -> bool:
    """True for ``[..., n, k] @ [k, m]`` with a C-contiguous left operand: the leading axes fold
    into the rows of one 2-D GEMM (one BLAS call instead of one per leading index, and the
    weight cotangent is one product, not a ``[..., k, m]`` stack summed by the walker)."""
    return a.ndim >= 3 and b.ndim == 2 and a.flags.c_contiguous


def _matmul_fwd(xp, a, b):
    a, b = xp.asarray(a), xp.asarray(b)
    if _stacked_rows(a, b):
        out = a.reshape(-1, a.shape[-1]) @ b
        return out.reshape(a.shape[:-1] + (b.shape[1],)), (a, b)
    return xp.matmul(a, b), (a, b)


def _matmul_vjp(xp, saved, g, needs=(True, True)):
    a, b = saved
    if _stacked_rows(a, b) and g.shape == a.shape[:-1] + (b.shape[1],):
        g2 = xp.ascontiguousarray(g).reshape(-1, b.shape[1])
        ga = (g2 @ xp.conj(b.T)).reshape(a.shape) if needs[0] else None
        gb = transposed_product(xp.conj(a.reshape(-1, a.shape[-1])), g2) if needs[1] else None
        return ga, gb
    # Promote 1-D operands the way matmul does, so one formula covers every case.
    a2 = a[None, :] if a.ndim == 1 else a
    b2 = b[:, None] if b.ndim == 1 else b
    g2 = g
    if b.ndim == 1:  # restore the trailing axis first: for 1-D @ 1-D, g is 0-d
        g2 = xp.expand_dims(g2, -1)
    if a.ndim == 1:
        g2 = xp.expand_dims(g2, -2)
    ga = gb = None  # skip the cotangent of a constant operand (e.g. a mel matrix)
    if needs[0]:
        ga = xp.matmul(g2, xp.conj(xp.swapaxes(b2, -1, -2)))
        if a.ndim == 1:
            ga = ga.reshape(ga.shape[:-2] + (ga.shape[-1],))
    if needs[1]:
        gb = xp.matmul(xp.conj(xp.swapaxes(a2, -1, -2)), g2)
        if b.ndim == 1:
            gb = gb[..., 0]
    return ga, gb  # batch broadcasting is summed down by the walker


matmul = Primitive("matmul", _matmul_fwd, _matmul_vjp)

_LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


def _explicit_subscripts(subscripts: str, shapes: list) -> tuple[list[str], str]:
    """Parse einsum subscripts into explicit per-operand and output letters ('...' expanded)."""
    subscripts = subscripts.replace(" ", "")
    if "->" in subscripts:
        lhs, rhs = subscripts.split("->")
    else:
        lhs, rhs = subscripts, None
    inputs = lhs.split(",")
    if len(inputs) != len(shapes):
        raise ValueError(f"einsum: {len(inputs)} operand subscripts for {len(shapes)} operands")
    used = set(subscripts) - set(".,->")
    spare = [c for c in _LETTERS if c not in used]
    n_ellipsis = 0
    for spec, shape in zip(inputs, shapes):
        if "..." in spec:
            n_ellipsis = max(n_ellipsis, len(shape) - (len(spec) - 3))
    ell = "".join(spare[:n_ellipsis])
    expanded = []
    for spec, shape in zip(inputs, shapes):
        if "..." in spec:
            k = len(shape) - (len(spec) - 3)
            spec = spec.replace("...", ell[n_ellipsis - k :])
        if len(spec) != len(shape):
            raise ValueError(
                f"einsum: subscripts {spec!r} do not match an operand of shape {shape}"
            )
        if len(set(spec)) != len(spec):
            raise ValueError(
                f"einsum: repeated index in {spec!r} (diagonals) is not supported by the tape"
            )
        expanded.append(spec)
    if rhs is None:
        counts: dict[str, int] = {}
        for spec in expanded:
            for c in spec:
                counts[c] = counts.get(c, 0) + 1
        rhs = ell + "".join(sorted(c for c, n in counts.items() if n == 1 and c not in ell))
    else:
        rhs = rhs.replace("...", ell)
    return expanded, rhs


def _einsum_fwd(xp, *operands, subscripts):
    operands = [xp.asarray(o) for o in operands]
    inputs, out = _explicit_subscripts(subscripts, [o.shape for o in operands])
    spec = ",".join(inputs) + "->" + out
    return xp.einsum(spec, *operands), (operands, inputs, out)


def _einsum_vjp(xp, saved, g, subscripts, needs=None):
    operands, inputs, out = saved
    cots = []
    for i, target in enumerate(inputs):
        if needs is not None and not needs[i]:
            cots.append(None)
            continue
        others = [o for j, o in enumerate(operands) if j != i]
        other_specs = [s for j, s in enumerate(inputs) if j != i]
        available = set(out).union(*other_specs) if other_specs else set(out)
        # Letters summed over this operand alone get the cotangent by broadcasting.
        reduced = "".join(c for c in target if c in available)
        spec = ",".join([out] + other_specs) + "->" + reduced
        cot = xp.einsum(spec, g, *[xp.conj(o) for o in others])
        if reduced != target:  # `reduced` keeps target's order: insert the summed axes back
            cot = xp.broadcast_to(
                cot.reshape(_insert_ones(cot.shape, target, reduced)), operands[i].shape
            )
        cots.append(cot)
    return tuple(cots)


def _insert_ones(shape, target, reduced):
    kept = iter(shape)
    return tuple(next(kept) if c in reduced else 1 for c in target)


_einsum = Primitive("einsum", _einsum_fwd, _einsum_vjp)


def einsum(subscripts: str, *operands):
    """numpy.einsum over any number of operands (no repeated index within one operand)."""
    return _einsum(*operands, subscripts=subscripts)


__all__ = ["matmul", "einsum"]
