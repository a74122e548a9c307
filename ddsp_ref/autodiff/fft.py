"""Complex parts and FFTs.

Complex convention (used by every VJP in the package): for a real loss L of a complex array
z = x + iy, the cotangent carried for z is ``dL/dx + 1j * dL/dy``. With it, the VJP of a
complex-linear map ``z = A w`` is ``A^H g`` and the VJP of ``z = a * b`` is ``g * conj(b)``;
where a real array feeds a complex op, its cotangent is the real part (done by the walker).
Only ``norm=None`` (numpy's default scaling) is provided.
"""

from __future__ import annotations

from ..backend import fft_module
from ..numerics import half_spectrum_weights
from .tape import Primitive


def _real_fwd(xp, z):
    return xp.real(z), None


real = Primitive("real", _real_fwd, lambda xp, s, g: (g + 0j,))


def _imag_fwd(xp, z):
    return xp.imag(z), None


imag = Primitive("imag", _imag_fwd, lambda xp, s, g: (1j * g,))


def _conj_fwd(xp, z):
    return xp.conj(z), None


conj = Primitive("conj", _conj_fwd, lambda xp, s, g: (xp.conj(g),))


def _angle_fwd(xp, z):
    z = xp.asarray(z)
    return xp.angle(z), z


def _angle_vjp(xp, z, g):
    r2 = xp.real(z) ** 2 + xp.imag(z) ** 2
    safe = xp.where(r2 == 0, 1, r2)
    return (xp.where(r2 == 0, 0, g * 1j * z / safe),)


angle = Primitive("angle", _angle_fwd, _angle_vjp)


def _complex_fwd(xp, re, im):
    return xp.asarray(re) + 1j * xp.asarray(im), None


make_complex = Primitive("complex", _complex_fwd, lambda xp, s, g: (xp.real(g), xp.imag(g)))


def _fit_length(xp, x, n, axis):
    """Zero-pad or crop ``x`` along ``axis`` to length ``n`` (what numpy's ``n=`` does)."""
    length = x.shape[axis]
    if n == length:
        return x
    if n < length:
        index = [slice(None)] * x.ndim
        index[axis] = slice(0, n)
        return x[tuple(index)]
    width = [(0, 0)] * x.ndim
    width[axis] = (0, n - length)
    return xp.pad(x, width)


def _fft_fwd(xp, x, n=None, axis=-1):
    x = xp.asarray(x)
    return fft_module(xp).fft(x, n=n, axis=axis), x.shape[axis]


def _fft_vjp(xp, length, g, n=None, axis=-1):
    # fft is A w with A the DFT matrix; A^H = N * ifft.
    size = g.shape[axis]
    return (_fit_length(xp, fft_module(xp).ifft(g, axis=axis) * size, length, axis),)


fft = Primitive("fft", _fft_fwd, _fft_vjp)


def _ifft_fwd(xp, x, n=None, axis=-1):
    x = xp.asarray(x)
    return fft_module(xp).ifft(x, n=n, axis=axis), x.shape[axis]


def _ifft_vjp(xp, length, g, n=None, axis=-1):
    size = g.shape[axis]
    return (_fit_length(xp, fft_module(xp).fft(g, axis=axis) / size, length, axis),)


ifft = Primitive("ifft", _ifft_fwd, _ifft_vjp)


def _bcast_axis(w, ndim, axis):
    shape = [1] * ndim
    shape[axis] = w.shape[0]
    return w.reshape(shape)


def _rfft_fwd(xp, x, n=None, axis=-1):
    x = xp.asarray(x)
    n = x.shape[axis] if n is None else n
    return fft_module(xp).rfft(x, n=n, axis=axis), (x.shape[axis], n)


def _rfft_vjp(xp, saved, g, n=None, axis=-1):
    length, n = saved
    # dL/dx[t] = Re sum_k G_k e^{+2 pi i k t / n} over the half spectrum only. irfft doubles the
    # interior bins and divides by n, so halve them first and multiply by n.
    w = half_spectrum_weights(xp, g.shape[axis], n, 0.5, g.real.dtype)
    x_cot = fft_module(xp).irfft(g * _bcast_axis(w, g.ndim, axis), n=n, axis=axis) * n
    return (_fit_length(xp, x_cot, length, axis),)


rfft = Primitive("rfft", _rfft_fwd, _rfft_vjp)


def _irfft_fwd(xp, y, n=None, axis=-1):
    y = xp.asarray(y)
    n = 2 * (y.shape[axis] - 1) if n is None else n
    return fft_module(xp).irfft(y, n=n, axis=axis), (y.shape[axis], n)


def _irfft_vjp(xp, saved, g, n=None, axis=-1):
    n_bins, n = saved
    # x = (1/n)[Re Y_0 + 2 sum Re(Y_k e^{i theta}) + Re Y_{n/2} (-1)^t]: the interior bins count
    # twice, and the imaginary parts of DC and Nyquist are ignored (rfft of real g has none).
    spectrum = fft_module(xp).rfft(g, axis=axis)
    w = half_spectrum_weights(xp, spectrum.shape[axis], n, 2.0, g.dtype) / n
    return (_fit_length(xp, spectrum * _bcast_axis(w, g.ndim, axis), n_bins, axis),)


irfft = Primitive("irfft", _irfft_fwd, _irfft_vjp)

__all__ = [
    "real",
    "imag",
    "conj",
    "angle",
    "make_complex",
    "fft",
    "ifft",
    "rfft",
    "irfft",
]
