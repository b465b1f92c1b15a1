"""Exact verification of a Cohn–Elkies certificate, independent of the solver that produced it.

A certificate is a vector of rational coefficients a_k in the Laguerre basis. With
p(t) = sum a_k L_k(t) and q(t) = sum (-1)^k a_k L_k(t) (t = 2 pi |x|^2, see :mod:`.laguerre`), the
Cohn–Elkies conditions read: q(0) > 0 and q >= 0 on [0, inf) (f^ >= 0), p(0) > 0, and p <= 0 on
[R, inf) (f <= 0 beyond the radius). Both are decided exactly: the polynomials are built in rational
arithmetic and their real roots isolated rigorously (Arb's ``fmpz_poly.complex_roots``, which
returns real roots with an exactly zero imaginary part, with multiplicities), so a sign change can
only happen at a root of odd multiplicity. The certified radius is the largest such root of p
(rounded up), and the density bound

    vol(B(r/2)) f(0) / f^(0) = (R/8)^(n/2) / Gamma(n/2 + 1) * p(0) / q(0),    R = 2 pi r^2,

is evaluated in ball arithmetic and rounded up, as are the centre density and r, so no float reported
is below the true value of what it bounds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

import flint

from games.sphere_packing import laguerre

WORKING_BITS = 256


@dataclass(frozen=True)
class Verification:
    """What the exact check found: a bound, or the reason there is none."""

    verified: bool
    density: float | None = None  # rigorous upper bound on the packing density, rounded up
    radius_t: float | None = None  # certified R = 2 pi r^2 (rounded up)
    center_density: float | None = None  # density / vol(B(1)), rounded up
    radius: float | None = None  # certified r: f <= 0 for |x| >= r (rounded up)
    reason: str = ""
    violation_t: float | None = None  # where a sign condition fails (t = 2 pi |x|^2), if one does


def _odd_real_roots(poly: flint.fmpq_poly) -> list[tuple[flint.arb, int]]:
    """Real roots of odd multiplicity (where the sign changes), as rigorous balls."""
    if poly.degree() < 1:
        return []
    out = []
    for root, multiplicity in poly.numer().complex_roots():
        if root.imag == 0 and multiplicity % 2:
            out.append((root.real, multiplicity))
    return out


def _radius(t: float) -> float:
    """|x| from t = 2 pi |x|^2 (for messages)."""
    return math.sqrt(max(t, 0.0) / (2 * math.pi))


def verify_certificate(dimension: int, coefficients, radius_t: float | None = None) -> Verification:
    """Check the Cohn–Elkies conditions for f = sum a_k L_k(2 pi |x|^2) exp(-pi |x|^2) exactly.

    ``coefficients`` are floats or rationals (floats are taken at their exact binary value). When
    ``radius_t`` (the claimed R) is given, f must also be <= 0 beyond it; the bound uses the certified
    radius, which is never larger.
    """
    old_prec = flint.ctx.prec
    flint.ctx.prec = WORKING_BITS
    try:
        return _verify(dimension, [Fraction(a) for a in coefficients], radius_t)
    finally:
        flint.ctx.prec = old_prec


def _verify(dimension: int, coefficients: list[Fraction], radius_t: float | None) -> Verification:
    alpha = laguerre.alpha_of(dimension)
    polys = laguerre.exact_polynomials(len(coefficients) - 1, alpha)
    p = laguerre.combine(coefficients, polys)
    q = laguerre.combine(coefficients, polys, signs=True)
    p0, q0 = p(0), q(0)
    if q0 <= 0:
        return Verification(False, reason=f"f^(0) = {float(q0):.3g} is not positive")
    if p0 <= 0:
        return Verification(False, reason=f"f(0) = {float(p0):.3g} is not positive")
    if q.degree() < 1 or q.coeffs()[-1] < 0:
        return Verification(False, reason="f^ is negative for large |y| (leading coefficient of q < 0)")
    if p.degree() < 1 or p.coeffs()[-1] > 0:
        return Verification(False, reason="f is positive for large |x| (leading coefficient of p > 0)")
    for root, multiplicity in _odd_real_roots(q):
        if root.upper() > 0:
            return Verification(False, reason=f"f^ changes sign at |y| = {_radius(float(root.mid())):.6g} "
                                              f"(root of multiplicity {multiplicity})",
                                violation_t=float(root.mid()))
    odd = _odd_real_roots(p)
    if not odd:
        return Verification(False, reason="f never changes sign, so it cannot be <= 0 beyond any radius")
    last = odd[0][0].upper()
    for root, _ in odd[1:]:
        last = max(last, root.upper())  # exact comparison of two dyadic endpoints (points, not balls)
    if radius_t is not None and last > flint.arb(radius_t):
        return Verification(False, reason=f"f > 0 beyond the claimed radius: its last sign change is at "
                                          f"|x| = {_radius(float(last.mid())):.6g} > r = {_radius(radius_t):.6g}",
                            violation_t=float(last.mid()))
    half = flint.fmpq(dimension, 2)
    ratio = flint.arb(p0 / q0)
    density = (last / 8) ** flint.arb(half) / flint.arb(half + 1).gamma() * ratio
    center = density * flint.arb(half + 1).gamma() / flint.arb.pi() ** flint.arb(half)  # / vol(B(1))
    radius = (last / (2 * flint.arb.pi())).sqrt()
    return Verification(True, density=_round_up(density), radius_t=_round_up(last),
                        center_density=_round_up(center), radius=_round_up(radius))


def _round_up(ball: flint.arb) -> float:
    """A float no smaller than any point of the ball (its upper end, then one more ulp for the
    conversion, which rounds to nearest)."""
    return math.nextafter(float(ball.upper()), math.inf)
