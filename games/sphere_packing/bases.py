"""Polynomial bases in which a solver sees the unknown function: the conditioning component.

Every basis gives the same space (polynomials of degree <= d in t = 2 pi |x|^2); what differs is how
well conditioned the solver's matrices are. A basis supplies the values of its functions at sample
points (rows for p), the Fourier map in its own coordinates (rows for q = F p), and the exact change
of basis to Laguerre coefficients, so that the certificate handed to the verifier is exactly the
function the solver described. In the Laguerre basis (normalised at zero) the Fourier map is the
diagonal (-1)^k; in the monomial and Chebyshev bases it is a dense matrix whose entries grow
factorially with the degree, which is why those bases lose all accuracy in double precision past
small degrees.
"""

from __future__ import annotations

from fractions import Fraction
from functools import lru_cache

import flint
import numpy as np

from games.sphere_packing import laguerre
from games.sphere_packing.laguerre import fmpq

BASES = ("laguerre", "chebyshev", "monomial")


def _to_float(mat: flint.fmpq_mat) -> np.ndarray:
    return np.array([[float(mat[i, j]) for j in range(mat.ncols())] for i in range(mat.nrows())])


def _laguerre_coefficient_matrix(degree: int, alpha: Fraction) -> flint.fmpq_mat:
    """C[j, k] = coefficient of t^j in L_k^alpha: monomial coefficients m = C a."""
    polys = laguerre.exact_polynomials(degree, alpha)
    mat = flint.fmpq_mat(degree + 1, degree + 1)
    for k, poly in enumerate(polys):
        for j, c in enumerate(poly.coeffs()):
            mat[j, k] = c
    return mat


class Basis:
    """A basis of polynomials of degree <= ``degree`` on the half-line, scaled to [0, ``scale``]."""

    name = ""

    def __init__(self, degree: int, dimension: int, scale: int) -> None:
        self.degree, self.dimension, self.scale = degree, dimension, scale
        self.alpha = laguerre.alpha_of(dimension)
        self.to_laguerre = self._to_laguerre()  # exact: Laguerre coefficients a = B x
        signs = flint.fmpq_mat(degree + 1, degree + 1)
        for k in range(degree + 1):
            signs[k, k] = (-1) ** k
        self.fourier = _to_float(self.to_laguerre.inv() * signs * self.to_laguerre)  # q = F x

    def evaluate(self, t: np.ndarray) -> np.ndarray:
        """Values of the basis functions at ``t``, shape (len(t), degree + 1)."""
        raise NotImplementedError

    def _to_laguerre(self) -> flint.fmpq_mat:
        raise NotImplementedError

    def laguerre_coefficients(self, x: np.ndarray) -> list[Fraction]:
        """The exact Laguerre coefficients of the function with (float) coordinates ``x`` here."""
        col = flint.fmpq_mat(self.degree + 1, 1, [fmpq(float(v)) for v in x])
        a = self.to_laguerre * col
        return [Fraction(int(a[k, 0].p), int(a[k, 0].q)) for k in range(self.degree + 1)]


class LaguerreBasis(Basis):
    """Laguerre polynomials normalised at zero, L_k / L_k(0): the Fourier eigenbasis, well conditioned.

    Coordinates are the terms of f(0) = sum x_k (and f^(0) = sum (-1)^k x_k), so the objective and the
    normalisation are rows of ones and a margin in row-scaled units is small against f. (Unit-norm
    Laguerre functions have values up to ~1e5 at t = 0 in dimension 24: a margin of 1e-9 per scaled
    row then cost percents of the bound and left HiGHS unable to meet its tolerances.)
    """

    name = "laguerre"

    def evaluate(self, t: np.ndarray) -> np.ndarray:
        return laguerre.zero_normalised_values(self.degree, self.alpha, t)

    def _to_laguerre(self) -> flint.fmpq_mat:
        mat = flint.fmpq_mat(self.degree + 1, self.degree + 1)
        for k, value in enumerate(laguerre.at_zero(self.degree, self.alpha)):
            mat[k, k] = 1 / fmpq(value)
        return mat


class MonomialBasis(Basis):
    """Monomials (t / scale)^j: simple, and hopeless for the Fourier side past small degrees."""

    name = "monomial"

    def evaluate(self, t: np.ndarray) -> np.ndarray:
        return np.vander(np.asarray(t, float) / self.scale, self.degree + 1, increasing=True)

    def _to_laguerre(self) -> flint.fmpq_mat:
        scaling = flint.fmpq_mat(self.degree + 1, self.degree + 1)
        for j in range(self.degree + 1):
            scaling[j, j] = flint.fmpq(1, self.scale ** j)
        return _laguerre_coefficient_matrix(self.degree, self.alpha).inv() * scaling


class ChebyshevBasis(Basis):
    """Chebyshev polynomials T_j(2 t / scale - 1) on the mapped interval [0, scale]."""

    name = "chebyshev"

    def evaluate(self, t: np.ndarray) -> np.ndarray:
        return np.polynomial.chebyshev.chebvander(2 * np.asarray(t, float) / self.scale - 1, self.degree)

    def _to_laguerre(self) -> flint.fmpq_mat:
        u = flint.fmpq_poly([-1, flint.fmpq(2, self.scale)])
        polys = [flint.fmpq_poly([1]), u]
        for _ in range(2, self.degree + 1):
            polys.append(2 * u * polys[-1] - polys[-2])
        mono = flint.fmpq_mat(self.degree + 1, self.degree + 1)
        for j, poly in enumerate(polys[: self.degree + 1]):
            for i, c in enumerate(poly.coeffs()):
                mono[i, j] = c
        return _laguerre_coefficient_matrix(self.degree, self.alpha).inv() * mono


_CLASSES = {cls.name: cls for cls in (LaguerreBasis, ChebyshevBasis, MonomialBasis)}


@lru_cache(maxsize=64)
def make_basis(name: str, degree: int, dimension: int, scale: int) -> Basis:
    """A (cached) basis by name; exact basis changes cost tens of milliseconds at high degree."""
    try:
        return _CLASSES[name](degree, dimension, scale)
    except KeyError:
        raise ValueError(f"unknown basis {name!r}; choose one of {', '.join(BASES)}") from None
