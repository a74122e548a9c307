"""Elementwise ops with numpy broadcasting: arithmetic, the unary table, where, clip, mod.

Complex cotangents follow the convention of fft.py: the cotangent of z = x + iy is
dL/dx + i dL/dy, so the VJP of a product z = a * b with respect to a is g * conj(b).
"""

from __future__ import annotations

from .tape import Primitive


def _conj(xp, x):
    return xp.conj(x) if xp.iscomplexobj(x) else x


# -- binary arithmetic -------------------------------------------------------------------------
def _add_fwd(xp, a, b):
    return xp.add(a, b), None


add = Primitive("add", _add_fwd, lambda xp, s, g: (g, g))


def _sub_fwd(xp, a, b):
    return xp.subtract(a, b), None


subtract = Primitive("subtract", _sub_fwd, lambda xp, s, g: (g, -g))


def _mul_fwd(xp, a, b):
    return xp.multiply(a, b), (a, b)


def _mul_vjp(xp, saved, g, needs=(True, True)):
    a, b = saved
    return (
        g * _conj(xp, b) if needs[0] else None,
        g * _conj(xp, a) if needs[1] else None,
    )


multiply = Primitive("multiply", _mul_fwd, _mul_vjp)


def _div_fwd(xp, a, b):
    out = xp.true_divide(a, b)
    return out, (b, out)


def _div_vjp(xp, saved, g, needs=(True, True)):
    b, out = saved
    ga = g / _conj(xp, b)
    return ga if needs[0] else None, -ga * _conj(xp, out) if needs[1] else None


divide = Primitive("divide", _div_fwd, _div_vjp)


def _pow_fwd(xp, a, b):
    out = xp.power(a, b)
    return out, (a, b, out)


def _pow_vjp(xp, saved, g, needs=(True, True)):
    a, b, out = saved
    a_arr = xp.asarray(a)
    # d/da a**b = b * a**(b-1); written with the exponent so that a == 0 with b >= 1 is finite.
    ga = g * b * xp.power(a_arr, b - 1) if needs[0] and not _is_zero(b) else None
    if not needs[1]:
        return ga, None
    # d/db a**b = a**b log a, defined for a > 0 (0 elsewhere, as in JAX/TF for a == 0).
    positive = a_arr > 0
    log_a = xp.log(xp.where(positive, a_arr, 1))
    gb = g * xp.where(positive, out * log_a, 0)
    return ga, gb


def _is_zero(b) -> bool:
    return isinstance(b, (int, float)) and b == 0


power = Primitive("power", _pow_fwd, _pow_vjp)


def _maximum_fwd(xp, a, b):
    return xp.maximum(a, b), (a, b)


def _minimum_fwd(xp, a, b):
    return xp.minimum(a, b), (a, b)


def _select_vjp(xp, saved, g, pick_a):
    a, b = saved
    wins = pick_a(a, b)
    ties = xp.asarray(a == b, dtype=g.dtype) * 0.5  # split ties evenly, like TF
    wa = xp.asarray(wins, dtype=g.dtype) + ties
    return g * wa, g * (1 - wa)


maximum = Primitive(
    "maximum", _maximum_fwd, lambda xp, s, g: _select_vjp(xp, s, g, lambda a, b: a > b)
)
minimum = Primitive(
    "minimum", _minimum_fwd, lambda xp, s, g: _select_vjp(xp, s, g, lambda a, b: a < b)
)


def _mod_fwd(xp, a, b):
    return xp.mod(a, b), (a, b)


def _mod_vjp(xp, saved, g):
    # a mod b = a - b * floor(a / b): slope 1 in a (TF's FloorMod gradient, which ddsp's
    # angular_cumsum relies on to pass gradients through phase wrapping), -floor(a/b) in b.
    a, b = saved
    return g, -g * xp.floor(xp.true_divide(a, b))


mod = Primitive("mod", _mod_fwd, _mod_vjp)


def _where_fwd(xp, cond, x, y):
    return xp.where(cond, x, y), cond


def _where_vjp(xp, cond, g):
    zero = xp.zeros((), dtype=g.dtype)
    return None, xp.where(cond, g, zero), xp.where(cond, zero, g)


where = Primitive("where", _where_fwd, _where_vjp)


def _clip_fwd(xp, x, a_min, a_max):
    lo = -xp.inf if a_min is None else a_min
    hi = xp.inf if a_max is None else a_max
    return xp.clip(x, lo, hi), (x, lo, hi)


def _clip_vjp(xp, saved, g):
    x, lo, hi = saved
    below, above = x < lo, x > hi
    inside = ~(below | above)
    zero = xp.zeros((), dtype=g.dtype)
    return xp.where(inside, g, zero), xp.where(below, g, zero), xp.where(above, g, zero)


_clip = Primitive("clip", _clip_fwd, _clip_vjp)


def clip(x, a_min=None, a_max=None):
    """``xp.clip`` with gradients to ``x`` inside [a_min, a_max] and to the bounds outside."""
    return _clip(x, a_min, a_max)


def _leaky_fwd(xp, x, alpha=0.2):
    return xp.where(x > 0, x, alpha * x), x


def _leaky_vjp(xp, x, g, alpha=0.2):
    return (xp.where(x > 0, g, alpha * g),)


_leaky_relu = Primitive("leaky_relu", _leaky_fwd, _leaky_vjp)


def leaky_relu(x, alpha: float = 0.2):
    """max(x, alpha * x) for 0 < alpha < 1; alpha defaults to 0.2 like tf.nn.leaky_relu."""
    return _leaky_relu(x, alpha=alpha)


def _abs_fwd(xp, x):
    out = xp.abs(x)
    return out, (x, out)


def _abs_vjp(xp, saved, g):
    x, out = saved
    if xp.iscomplexobj(x):
        # g times the unit phasor x / |x| (0 where x == 0). Dividing g by a tiny |x| first
        # would overflow float32 (|x| ~ 1e-25 in the quiet bins of a spectrogram) although the
        # product is finite: the phasor is at most 1 in size.
        nonzero = out != 0
        unit = xp.where(nonzero, x / xp.where(nonzero, out, 1), 0)  # cupy has no divide(where=)
        return (unit * g,)
    return (g * xp.sign(x),)


abs = Primitive("abs", _abs_fwd, _abs_vjp)  # noqa: A001 - mirrors numpy's name


# -- the unary table: name, forward, derivative(xp, x, out) ------------------------------------
def _sigmoid(xp, x):
    # exp of a non-positive number never overflows, and neither branch cancels for x << 0.
    e = xp.exp(-xp.abs(x))
    return xp.where(x >= 0, 1 / (1 + e), e / (1 + e))


def _softplus(xp, x):
    # log(1 + e^x) = max(x, 0) + log1p(e^-|x|): no overflow, and ~10x faster than logaddexp.
    return xp.maximum(x, 0) + xp.log1p(xp.exp(-xp.abs(x)))


_UNARY = [
    ("negative", lambda xp, x: xp.negative(x), lambda xp, x, y: -1),
    ("exp", lambda xp, x: xp.exp(x), lambda xp, x, y: y),
    ("log", lambda xp, x: xp.log(x), lambda xp, x, y: 1 / x),
    ("log1p", lambda xp, x: xp.log1p(x), lambda xp, x, y: 1 / (1 + x)),
    ("sqrt", lambda xp, x: xp.sqrt(x), lambda xp, x, y: 0.5 / y),
    ("sin", lambda xp, x: xp.sin(x), lambda xp, x, y: xp.cos(x)),
    ("cos", lambda xp, x: xp.cos(x), lambda xp, x, y: -xp.sin(x)),
    ("tan", lambda xp, x: xp.tan(x), lambda xp, x, y: 1 + y * y),
    ("tanh", lambda xp, x: xp.tanh(x), lambda xp, x, y: 1 - y * y),
    ("sigmoid", _sigmoid, lambda xp, x, y: y * (1 - y)),
    ("softplus", _softplus, lambda xp, x, y: _sigmoid(xp, x)),
    ("relu", lambda xp, x: xp.maximum(x, 0), lambda xp, x, y: x > 0),
    ("square", lambda xp, x: xp.square(x), lambda xp, x, y: 2 * x),
    ("sign", lambda xp, x: xp.sign(x), None),
    ("floor", lambda xp, x: xp.floor(x), None),
    ("round", lambda xp, x: xp.round(x), None),
]


def _make_unary(name, fwd, deriv):
    def forward(xp, x):
        x = xp.asarray(x)
        out = fwd(xp, x)
        return out, (x, out)

    if deriv is None:  # piecewise constant: zero gradient

        def vjp(xp, saved, g):
            return (xp.zeros_like(g),)

    else:

        def vjp(xp, saved, g):
            x, out = saved
            return (g * _conj(xp, deriv(xp, x, out)),)

    return Primitive(name, forward, vjp)


for _name, _fwd, _deriv in _UNARY:
    globals()[_name] = _make_unary(_name, _fwd, _deriv)

__all__ = [
    "add", "subtract", "multiply", "divide", "power", "maximum", "minimum", "mod", "where",
    "clip", "leaky_relu", "abs",
] + [row[0] for row in _UNARY]  # fmt: skip
