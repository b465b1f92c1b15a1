"""An independent re-check of a three-point certificate in high precision, on a grid.

Not a proof (a grid, not a cover; :mod:`.three_point_verify` is the proof), but a second computation
that shares no code with the verifier: the conditions (ii), (iv), (v) of :mod:`.three_point` and the
bound are recomputed in ``digits`` decimal digits from the certificate's exact data, with mpmath's own
Gegenbauer, Laguerre and Legendre functions in place of the verifier's recurrences, monomial
expansions and interval arithmetic. A bug in either that made a false certificate pass would have to
be made twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import mpmath

from games.sphere_packing.three_point_verify import ThreePointCertificate


@dataclass(frozen=True)
class GridRecheck:
    """The largest value of each condition on the grid (each must be <= 0) and the bound recomputed."""

    pair: float  # (ii): f2(w) + 2 f3(0, w) + f3(w, w) on r <= |w| <= R
    triangle: float  # (iv): the sum over the three vertices, all sides in [r, R]
    wedge: float  # (v): one vertex, its sides in [r, R], the opposite side in [R, their sum]
    density: float

    @property
    def holds(self) -> bool:
        return all(v <= 0 for v in (self.pair, self.triangle, self.wedge))  # NaN fails (max would depend on order)


def recheck_on_grid(cert: ThreePointCertificate, per_axis: int = 7, digits: int = 40) -> GridRecheck:
    """The conditions at per_axis^3 triangles (side lengths on a grid of [r, R]), per_axis^2 * 5 wedges
    and 40 pair distances, in ``digits`` digits."""
    with mpmath.workdps(digits):
        return _recheck(cert, per_axis)


def _number(value: Fraction) -> mpmath.mpf:
    return mpmath.mpf(value.numerator) / value.denominator


def _radial(basis: str, u: mpmath.mpf, size: int) -> list:
    """phi_0 .. phi_(size-1) at u = a / R^2: u^i, or mpmath's Legendre function P_i(2u - 1) (its
    hypergeometric series; not the verifier's integer coefficients or interval recurrence)."""
    if basis == "power":
        return [u ** i for i in range(size)]
    if basis == "legendre":
        return [mpmath.legendre(i, 2 * u - 1) for i in range(size)]
    raise ValueError(f"unknown radial basis {basis!r}")


def _recheck(cert: ThreePointCertificate, per_axis: int) -> GridRecheck:
    n = cert.dimension
    r, big = _number(cert.r), _number(cert.big)
    lam = mpmath.mpf(n) / 2 - 1  # Gegenbauer index for R^n, and the Laguerre alpha of f2
    blocks = [[[_number(v) for v in row] for row in block] for block in cert.blocks]
    a_k = [_number(v) for v in cert.f2]

    def explicit(k, x):
        """C_k^lam(x) from the explicit sum (not the verifier's recurrence; mpmath's hypergeometric form
        fails to converge at x = -1 for n = 4)."""
        return sum((-1) ** m * mpmath.gamma(k - m + lam) / (mpmath.factorial(m) * mpmath.factorial(k - 2 * m))
                   * (2 * x) ** (k - 2 * m) for m in range(k // 2 + 1))

    at_one = [explicit(k, 1) for k in range(len(blocks))] if lam else None
    size = max(len(block) for block in blocks)  # the radial basis of the largest block (any block's shape)

    def normalised_gegenbauer(k, t):
        """P_k(t) = C_k^lam(t) / C_k^lam(1); Chebyshev T_k for n = 2 (lam = 0)."""
        return mpmath.chebyt(k, t) if lam == 0 else explicit(k, t) / at_one[k]

    def f3(a, b, c):
        """p(a, b, c) exp(-pi (a + b)) (without the indicator), p = sum_k phi(a)^T Q_k phi(b) h_k."""
        total, s = 0, mpmath.sqrt(a * b)
        phi_a = _radial(cert.radial_basis, a / big ** 2, size)
        phi_b = _radial(cert.radial_basis, b / big ** 2, size)
        for k, block in enumerate(blocks):
            if s == 0:
                zonal = 1 if k == 0 else 0
            else:
                zonal = s ** k * normalised_gegenbauer(k, max(-1, min(1, c / s)))
            for i, row in enumerate(block):
                for j, v in enumerate(row):
                    total += v * phi_a[i] * phi_b[j] * zonal
        return total * mpmath.exp(-mpmath.pi * (a + b))

    def f2(s):
        t = 2 * mpmath.pi * s
        return sum(a * mpmath.laguerre(k, lam, t) for k, a in enumerate(a_k)) * mpmath.exp(-t / 2)

    pair = max(f2(s) + 2 * f3(0, s, 0) + f3(s, s, s) for s in mpmath.linspace(r ** 2, big ** 2, 40))
    triangle, wedge = -mpmath.inf, -mpmath.inf
    grid = mpmath.linspace(r, big, per_axis)
    for la in grid:
        for lb in grid:
            for lc in grid:
                sides = (la ** 2, lb ** 2, lc ** 2)
                total = sum(f3(sides[i], sides[j], (sides[i] + sides[j] - sides[k]) / 2)
                            for i, j, k in ((2, 1, 0), (2, 0, 1), (1, 0, 2)))
                triangle = max(triangle, total)
            for opposite in mpmath.linspace(big, la + lb, 5):
                wedge = max(wedge, f3(la ** 2, lb ** 2, (la ** 2 + lb ** 2 - opposite ** 2) / 2))
    fourier0 = sum((-1) ** k * a * mpmath.laguerre(k, lam, 0) for k, a in enumerate(a_k))
    volume = mpmath.pi ** (mpmath.mpf(n) / 2) / mpmath.gamma(mpmath.mpf(n) / 2 + 1) * (r / 2) ** n
    density = volume * (f2(0) + f3(0, 0, 0)) / fourier0
    return GridRecheck(float(pair), float(triangle), float(wedge), float(density))
