"""Generalised Laguerre polynomials, the Fourier eigenbasis of radial Gaussians-times-polynomials.

For a radial f(x) = sum_k a_k L_k^alpha(2 pi |x|^2) exp(-pi |x|^2) on R^n with alpha = n/2 - 1, the
Fourier transform (kernel exp(-2 pi i <x, y>)) is sum_k (-1)^k a_k L_k^alpha(2 pi |y|^2) exp(-pi |y|^2).
So in the variable t = 2 pi |x|^2 the function and its transform are the polynomials
p(t) = sum_k a_k L_k(t) and q(t) = sum_k (-1)^k a_k L_k(t), times the same positive Gaussian.

Two views of the same basis: floating-point values of the functions *normalised at zero*,
L_k(t) / L_k(0), for the solvers, and exact rational polynomials (python-flint) for the verification,
which must not trust floating point. L_k^alpha(0) = binom(k + alpha, k) is rational, so the change
between the two is exact. Normalising at zero makes f(0) = sum of the coordinates and f^(0) their
alternating sum, and for alpha >= 0 every column is bounded by e^(t/2) (Szego, Orthogonal Polynomials,
(7.21.3)), so after the Gaussian factor no column dominates a constraint row.
"""

from __future__ import annotations

from fractions import Fraction
from functools import lru_cache

import flint
import numpy as np


def alpha_of(dimension: int) -> Fraction:
    """The Laguerre parameter n/2 - 1 of dimension n."""
    return Fraction(dimension, 2) - 1


@lru_cache(maxsize=256)
def at_zero(degree: int, alpha: Fraction) -> tuple[Fraction, ...]:
    """L_k^alpha(0) = binom(k + alpha, k) for k = 0..degree, exactly."""
    out = [Fraction(1)]
    for k in range(1, degree + 1):
        out.append(out[-1] * (k + alpha) / k)
    return tuple(out)


def values(degree: int, alpha: float, t: np.ndarray) -> np.ndarray:
    """L_k^alpha(t) for k = 0..degree at the points t, by the (forward-stable) three-term recurrence.

    Returns an array of shape (len(t), degree + 1).
    """
    t = np.asarray(t, dtype=float)
    out = np.empty((t.size, degree + 1))
    out[:, 0] = 1.0
    if degree >= 1:
        out[:, 1] = 1.0 + alpha - t
    for k in range(1, degree):
        out[:, k + 1] = ((2 * k + 1 + alpha - t) * out[:, k] - (k + alpha) * out[:, k - 1]) / (k + 1)
    return out


def zero_normalised_values(degree: int, alpha: Fraction, t: np.ndarray) -> np.ndarray:
    """L_k^alpha(t) / L_k^alpha(0): the columns solvers see, shape (len(t), degree + 1)."""
    return values(degree, float(alpha), t) / np.array([float(v) for v in at_zero(degree, alpha)])


def exact_polynomials(degree: int, alpha: Fraction) -> list[flint.fmpq_poly]:
    """L_0^alpha .. L_degree^alpha as exact rational polynomials in t."""
    a = fmpq(alpha)
    t = flint.fmpq_poly([0, 1])
    polys = [flint.fmpq_poly([1])]
    if degree >= 1:
        polys.append(flint.fmpq_poly([1 + a, -1]))
    for k in range(1, degree):
        nxt = ((2 * k + 1 + a) * polys[k] - t * polys[k] - (k + a) * polys[k - 1]) / (k + 1)
        polys.append(nxt)
    return polys


def fmpq(value) -> flint.fmpq:
    """An exact flint rational from a float (its exact binary value), int or Fraction."""
    value = Fraction(value)
    return flint.fmpq(value.numerator, value.denominator)


def combine(coefficients, polys: list[flint.fmpq_poly], signs: bool = False) -> flint.fmpq_poly:
    """sum_k a_k L_k (or sum_k (-1)^k a_k L_k when ``signs``), exactly, for rational a_k."""
    total = flint.fmpq_poly([0])
    for k, a in enumerate(coefficients):
        if a:
            term = fmpq(a) * polys[k]
            total += -term if signs and k % 2 else term
    return total
