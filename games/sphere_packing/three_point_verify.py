"""Rigorous check of a three-point certificate, independent of the SDP solver that proposed it.

A certificate is exact data: r^2 and R^2 (rationals), f2's Laguerre coefficients a_k (rationals),
the matrices Q_k (rationals) and the name of the radial basis phi they are written in (monomials
(a / R^2)^i or shifted Legendre P_i(2 a / R^2 - 1), see :mod:`.three_point`). The conditions (i)-(v)
of :mod:`.three_point` are decided as follows:

* Q_k positive definite: an exact LDL^T decomposition in rational arithmetic, every pivot > 0.
  (Positive definite, not merely semidefinite: the solver's Q_k are pushed a hair inside the cone
  before rounding, see :func:`.three_point.certificate_from`.)
* p is expanded exactly into monomials a^i b^j c^l with rational coefficients (for p(0, 0, 0));
  a Legendre phi is first rewritten in monomials with its exact integer coefficients.
* (i) f2^ >= 0 with f2^(0) > 0 and (iii) f2 <= 0 for |x| >= R: univariate polynomials in
  t = 2 pi |x|^2, their real roots isolated rigorously (Arb), as in :mod:`.verify`.
* (ii), (iv) and (v) (one or three variables, exponentials): their regions are images of the unit
  interval or cube under maps (|w| = r + (R - r) x for (ii), those of :mod:`.three_point` for the
  others; onto, so a cover of the cube covers the region); boxes of the cube are
  mapped and the condition evaluated in outward-rounded interval arithmetic (:mod:`.intervals`):
  f2's P by the Laguerre recurrence,
  p at each vertex in the Gram form it was built in (:class:`_GramKernel`: side lengths, the cosine
  of the angle by the law of cosines, the Gegenbauer recurrence, phi by repeated products or the
  Legendre recurrence, phi^T Q_k phi), and each Gaussian weight exp(-pi (B + C)) as the product of
  the per-side factors exp(-pi s^2), bounded in Arb at the (binary) box end points and cached. A
  box's bound is the best of the plain interval value, the mean-value form and the second-order
  Taylor form (:class:`.intervals.Jet`), and where these leave it undecided, a Taylor model
  (:mod:`.taylor_models`), in which the kernel's terms cancel as they do in p; a box whose upper
  bound is not <= 0 is halved along the axis where the gradient varies most, up to a budget of
  boxes and a finest width.

The density bound vol(B(r/2)) (P(0) + p(0, 0, 0)) / Q(0) is evaluated in Arb and rounded up.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from fractions import Fraction

import flint
import numpy as np

from games.sphere_packing import gegenbauer, laguerre
from games.outward import arb_precision, down, up
from games.sphere_packing.intervals import PI, Interval, Jet
from games.sphere_packing.taylor_models import Taylor, TaylorSpace
from games.sphere_packing.three_point import RADIAL_BASES, triangle_lengths, wedge_lengths
from games.sphere_packing.verify import _odd_real_roots

WORKING_BITS = 256
START_BOXES = 8  # per axis of the unit cube
MAX_BOXES = 4_000_000  # per 3-d condition, in all (~0.2 ms a box on one core, ~1 ms more with a Taylor model)
MAX_DEPTH = 14  # halvings of an axis below the starting width 1/8
MAX_PIECES = 200_000  # pieces of [r, R] for the univariate condition (ii)
CHUNK = 20_000  # boxes evaluated at once (memory)
REPORTED = 64  # violating points handed back to the solver's exchange
# Taylor models of order 2 decided 98% of the rectangular n = 4 certificate's triangle boxes of side
# 1/64 that every other enclosure left open (order 3: 99.4%, at 4 times the cost per box)
TAYLOR_ORDER = 2


@dataclass(frozen=True)
class ThreePointCertificate:
    """Exact data of a three-point bound (see :mod:`.three_point` for what each piece means)."""

    dimension: int
    r: Fraction  # minimal distance
    big: Fraction  # truncation radius R
    f2: tuple[Fraction, ...]  # P = sum_k a_k L_k^(n/2-1)(t)
    blocks: tuple[tuple[tuple[Fraction, ...], ...], ...]  # Q_0 .. Q_D, symmetric
    # the phi that Q_k is written in (:data:`.three_point.RADIAL_BASES`); solvers name it (their default
    # is "legendre"), "power" here is how data from before the field reads (monomials)
    radial_basis: str = "power"

    @property
    def r2(self) -> Fraction:
        return self.r * self.r

    @property
    def big2(self) -> Fraction:
        return self.big * self.big

    def artifacts(self) -> dict:
        return {"dimension": self.dimension, "r": str(self.r), "R": str(self.big),
                "f2": [str(a) for a in self.f2], "blocks": [[[str(v) for v in row] for row in q] for q in self.blocks],
                "radial_basis": self.radial_basis}


@dataclass(frozen=True)
class ThreePointVerification:
    verified: bool
    density: float | None = None  # rigorous upper bound on the packing density, rounded up
    reason: str = ""
    violation: tuple[str, np.ndarray] | None = None  # a condition and points where it fails (solver coordinates)
    boxes: int = 0
    seconds: float = 0.0
    checks: dict = field(default_factory=dict)


def radial_coefficients(basis: str, size: int) -> list[list[Fraction]]:
    """C with phi_i(a) = sum_m C[i][m] (a / R^2)^m for i < size, exactly: the identity for "power";
    for "legendre" P_i(2u - 1) = sum_m (-1)^(i+m) binom(i, m) binom(i+m, m) u^m (integers). Exact
    rationals, not the solver's floats, because the monomial expansion decides (ii) and p(0, 0, 0)."""
    if basis == "power":
        return [[Fraction(int(i == m)) for m in range(size)] for i in range(size)]
    if basis == "legendre":
        return [[Fraction((-1) ** (i + m) * math.comb(i, m) * math.comb(i + m, m)) if m <= i else Fraction(0)
                 for m in range(size)] for i in range(size)]
    raise ValueError(f"unknown radial basis {basis!r}")


def monomial_block(q: tuple[tuple[Fraction, ...], ...], basis: str) -> list[list[Fraction]]:
    """Q_k rewritten for the monomials: phi(a)^T Q phi(b) = u^T (C^T Q C) v with phi = C u (exact)."""
    size = len(q)
    if basis == "power":
        return [list(row) for row in q]
    c = radial_coefficients(basis, size)
    qc = [[sum((q[i][j] * c[j][m] for j in range(size)), Fraction(0)) for m in range(size)] for i in range(size)]
    return [[sum((c[i][l] * qc[i][m] for i in range(size)), Fraction(0)) for m in range(size)] for l in range(size)]


def kernel_polynomial(cert: ThreePointCertificate) -> gegenbauer.Poly3:
    """p(a, b, c) = sum_k phi(a)^T Q_k phi(b) h_k(a, b, c) as sum_k sum_ij M_k[i, j] (a/R^2)^i (b/R^2)^j
    h_k(a, b, c), exactly (M_k = Q_k for the monomials, :func:`monomial_block` otherwise)."""
    zonal = gegenbauer.zonal_exact(len(cert.blocks) - 1, cert.dimension)
    out: gegenbauer.Poly3 = {}
    for k, block in enumerate(cert.blocks):
        q = monomial_block(block, cert.radial_basis)
        for i, row in enumerate(q):
            for j, value in enumerate(row):
                if not value:
                    continue
                scale = value / cert.big2 ** (i + j)
                for (da, db, dc), h in zonal[k].items():
                    key = (da + i, db + j, dc)
                    out[key] = out.get(key, Fraction(0)) + scale * h
    return {key: v for key, v in out.items() if v}


def positive_definite(matrix: tuple[tuple[Fraction, ...], ...]) -> bool:
    """Exact LDL^T: True when every pivot is > 0 (and the matrix is symmetric)."""
    m = [list(row) for row in matrix]
    size = len(m)
    if any(m[i][j] != m[j][i] for i in range(size) for j in range(size)):
        return False
    for k in range(size):
        pivot = m[k][k]
        if pivot <= 0:
            return False
        for i in range(k + 1, size):
            factor = m[i][k] / pivot
            for j in range(k + 1, size):
                m[i][j] -= factor * m[k][j]
    return True


def verify_three_point(cert: ThreePointCertificate, max_boxes: int = MAX_BOXES) -> ThreePointVerification:
    """Check every condition exactly or in outward-rounded arithmetic; the first failure is the reason."""
    start = time.perf_counter()
    old = flint.ctx.prec
    flint.ctx.prec = WORKING_BITS
    try:
        result = _verify(cert, max_boxes)
    finally:
        flint.ctx.prec = old
    return ThreePointVerification(**{**result.__dict__, "seconds": time.perf_counter() - start})


def _verify(cert: ThreePointCertificate, max_boxes: int) -> ThreePointVerification:
    if not (0 < cert.r < cert.big < 2 * cert.r):
        return ThreePointVerification(False, reason="need 0 < r < R < 2r")
    if cert.radial_basis not in RADIAL_BASES:
        return ThreePointVerification(False, reason=f"unknown radial basis {cert.radial_basis!r}")
    for k, q in enumerate(cert.blocks):
        if not positive_definite(q):
            return ThreePointVerification(False, reason=f"Q_{k} is not positive definite (exact LDL^T)")
    poly = kernel_polynomial(cert)
    alpha = laguerre.alpha_of(cert.dimension)
    polys = laguerre.exact_polynomials(len(cert.f2) - 1, alpha)
    big_p = laguerre.combine(cert.f2, polys)
    big_q = laguerre.combine(cert.f2, polys, signs=True)
    problem = _univariate(big_p, big_q, cert)
    if problem:
        return ThreePointVerification(False, reason=problem[0], violation=problem[1])
    checks, boxes = {}, 0
    kernel, weights, f2 = _GramKernel(cert), _SideWeights(cert), _LaguerreSum(cert)
    conditions = (("pair", 1, MAX_PIECES, lambda *x: _pair(kernel, weights, f2, cert, *x)),
                  ("triangle", 3, max_boxes, lambda *xyz: _triangle(kernel, weights, cert, *xyz)),
                  ("wedge", 3, max_boxes, lambda *xyz: _wedge(kernel, cert, *xyz)))
    for name, axes, budget, function in conditions:
        failure, count = _cover(function, budget, axes)
        boxes += count
        checks[f"{name} boxes"] = count
        if failure:
            points = failure[1]
            if name == "pair":  # the solver samples (ii) at s = |w|^2
                points = (float(cert.r) + float(cert.big - cert.r) * points[0]) ** 2
            return ThreePointVerification(False, reason=f"condition ({name}) {failure[0]}",
                                          violation=(name, points), boxes=boxes, checks=checks)
    numerator = big_p(0) + laguerre.fmpq(poly.get((0, 0, 0), Fraction(0)))
    half = flint.fmpq(cert.dimension, 2)
    radius = (flint.arb(laguerre.fmpq(cert.r2)) / 4).sqrt()  # r / 2
    volume = flint.arb.pi() ** flint.arb(half) / flint.arb(half + 1).gamma() * radius ** cert.dimension
    density = volume * flint.arb(numerator) / flint.arb(big_q(0))
    if not density > 0:
        return ThreePointVerification(False, reason="the bound is not positive: the certificate is inconsistent")
    return ThreePointVerification(True, density=math.nextafter(float(density.upper()), math.inf),
                                  boxes=boxes, checks=checks)


def _univariate(big_p: flint.fmpq_poly, big_q: flint.fmpq_poly, cert: ThreePointCertificate):
    """(i) and (iii), exactly. Returns '' or (the reason of a failure, a violation to hand back to the
    solver's exchange or None): points s = |x|^2 around a sign change, or ("lead", no points) when
    the top Laguerre coefficient has the wrong sign (the solver should keep it strictly positive)."""

    def near(name: str, root) -> tuple[str, np.ndarray]:
        t = float(root.mid())
        return name, np.array([0.99 * t, t, 1.01 * t]) / (2 * math.pi)

    if big_q(0) <= 0:
        return "f2^(0) is not positive", None
    if big_q.degree() >= 1 and big_q.coeffs()[-1] < 0:
        return "f2^ is negative for large |y|", ("lead", np.empty(0))
    for root, _ in _odd_real_roots(big_q):
        if root.upper() > 0:
            return f"f2^ changes sign at t = 2 pi |y|^2 = {float(root.mid()):.6g}", near("fourier", root)
    if big_p.degree() < 1 or big_p.coeffs()[-1] > 0:
        return "f2 is positive for large |x|", ("lead", np.empty(0))
    t_big = 2 * flint.arb.pi() * flint.arb(laguerre.fmpq(cert.big2))
    for root, _ in _odd_real_roots(big_p):
        if not root.upper() < t_big.lower():
            return f"f2 changes sign beyond R (at t = 2 pi |x|^2 = {float(root.mid()):.6g})", near("tail", root)
    return ""


class _GramKernel:
    """p at a vertex from its two side lengths s1, s2 and the cosine t of the angle between them, in the
    form it was built in: p = sum_k (s1 s2)^k P_k(t) phi(s1^2)^T Q_k phi(s2^2), with P_k by the
    Gegenbauer recurrence of :mod:`.gegenbauer` and phi the certificate's radial basis (:meth:`_radial`).

    This is the same polynomial as :func:`kernel_polynomial` (h_k(a, b, c) = (|u| |v|)^k P_k(c / (|u| |v|))
    with |u| = s1, |v| = s2, c = s1 s2 t), evaluated differently for the intervals: expanded into monomials
    a^i b^j c^l its terms reach ~1e6 where p is ~1e-2 (the Q_k are large and nearly cancel across k), so an
    interval enclosure of the expanded form is useless at any box width the check can afford; here every
    factor stays of the size of its Q_k entries (|phi_i| <= 1 for a <= R^2, |P_k| <= 1). For the same
    reason a Legendre phi is evaluated by its recurrence, not through the monomials (whose integer
    coefficients reach ~1e3 at degree 6 and cancel)."""

    def __init__(self, cert: ThreePointCertificate) -> None:
        n = cert.dimension
        self.inverse_big2 = Interval.exact(1 / cert.big2)
        self.blocks = [[[Interval.exact(v) for v in row] for row in q] for q in cert.blocks]
        self.recurrence = {k: (Interval.exact(Fraction(2 * k + n - 2, k + n - 2)), Interval.exact(Fraction(k, k + n - 2)))
                           for k in range(1, len(cert.blocks))}  # k >= 1 (k + n - 2 > 0 for n >= 2)
        self.radial_basis = cert.radial_basis
        self.width = max(len(q) for q in self.blocks)
        # (i + 1) P_(i+1)(x) = (2i + 1) x P_i(x) - i P_(i-1)(x), divided by i + 1 exactly or outward
        self.legendre = {i: (Interval.exact(Fraction(2 * i + 1, i + 1)), Interval.exact(Fraction(i, i + 1)))
                         for i in range(1, self.width)}

    def _radial(self, u) -> list:
        """phi_0 .. phi_(width-1) at u = a / R^2 (an Interval or a Jet; phi_0 = 1 as the number): powers
        by repeated products, or P_i(2u - 1) by the Legendre recurrence, outward rounded throughout."""
        if self.radial_basis == "power":
            values = [1.0, u]
            for _ in range(2, self.width):
                values.append(values[-1] * u)
            return values[: self.width]
        if self.radial_basis != "legendre":
            raise ValueError(f"unknown radial basis {self.radial_basis!r}")
        x = u * 2 - 1.0
        values = [1.0, x]
        for i in range(1, self.width - 1):
            grow, keep = self.legendre[i]
            values.append(x * values[i] * grow - values[i - 1] * keep)
        return values[: self.width]

    def _gegenbauer(self, t) -> list:
        """P_0 .. P_D at t (P_0 = 1 as the number)."""
        values = [1.0, t]
        for k in range(1, len(self.blocks) - 1):
            grow, keep = self.recurrence[k]
            values.append(t * values[k] * grow - values[k - 1] * keep)
        return values[: len(self.blocks)]

    def __call__(self, s1, s2, t):
        phi_a = self._radial(s1 * s1 * self.inverse_big2)
        phi_b = self._radial(s2 * s2 * self.inverse_big2)
        gegenbauer_values, product = self._gegenbauer(t), s1 * s2
        total, power = None, None
        for k, q in enumerate(self.blocks):
            form = None
            for i, row in enumerate(q):
                inner = row[0]
                for j in range(1, len(row)):
                    inner = inner + phi_b[j] * row[j]
                inner = inner if i == 0 else phi_a[i] * inner
                form = inner if form is None else form + inner
            if k:
                power = product if power is None else power * product
                form = form * (gegenbauer_values[k] * power)
            total = form if total is None else total + form
        return total


def _vertex(kernel: _GramKernel, s1, s2, opposite_squared):
    """p at a vertex with adjacent sides s1, s2 (lengths) and the opposite side squared: the cosine by
    the law of cosines, (s1^2 + s2^2 - opposite^2) / (2 s1 s2)."""
    return kernel(s1, s2, (s1 * s1 + s2 * s2 - opposite_squared) * (s1 * s2).reciprocal() / 2)


class _SideWeights:
    """E(t) = exp(-pi s(t)^2) with s(t) = r + (R - r) t, the Gaussian factor of one side of the
    triangle map, bounded in Arb at each (binary, exact) end point and cached: a box's factor is
    [E(hi), E(lo)] (E decreases), and its derivatives E' = -2 pi (R - r) s E and
    E'' = 2 pi (R - r)^2 (2 pi s^2 - 1) E are enclosed in interval arithmetic from it.
    exp(-pi (B + C)) = E(y) E(z) is the weight of the vertex opposite side A."""

    def __init__(self, cert: ThreePointCertificate) -> None:
        self.r, self.span = cert.r, cert.big - cert.r
        self.cache: dict[float, tuple[float, float]] = {}
        self.r_iv, self.span_iv = Interval.exact(self.r), Interval.exact(self.span)

    def _bounds(self, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        flat = np.asarray(t, dtype=float).ravel()
        keys, inverse = np.unique(flat, return_inverse=True)
        missing = [k for k in keys.tolist() if k not in self.cache]
        if missing:
            with arb_precision():
                pi = flint.arb.pi()
                r, span = flint.arb(laguerre.fmpq(self.r)), flint.arb(laguerre.fmpq(self.span))
                for k in missing:
                    side = r + span * flint.arb(laguerre.fmpq(Fraction(k)))
                    value = (-pi * side * side).exp()
                    self.cache[k] = (float(value.lower()), float(value.upper()))
        lo = np.array([self.cache[k][0] for k in keys.tolist()])[inverse].reshape(np.shape(t))
        hi = np.array([self.cache[k][1] for k in keys.tolist()])[inverse].reshape(np.shape(t))
        return down(lo), up(hi)

    def taylor(self, t: Taylor) -> Taylor:
        """E as a Taylor model in the coordinate ``t``: E^(j)(t) = span^j q_j(s) E with q_0 = 1 and
        q_(j+1) = q_j' - 2 pi s q_j (the derivatives of exp(-pi s^2)), at the centre from E there, and
        over the box for the remainder, from E's bounds at the box's ends."""
        space = t.space
        axis, centre = space.coordinate(t)
        half = space.half[axis]
        at_centre = Interval(*self._bounds(centre))
        low, _ = self._bounds(centre + half)
        _, high = self._bounds(centre - half)
        over_box = Interval(low, high)
        side_centre = self.r_iv + self.span_iv * Interval(centre)
        side_box = self.r_iv + self.span_iv * Interval(centre - half, centre + half)
        polynomials = [[Interval(1.0)]]
        for _ in range(space.order + 1):
            q = polynomials[-1]
            nxt = [Interval(0.0)] * (len(q) + 1)
            for k, coefficient in enumerate(q):
                if k:
                    nxt[k - 1] = nxt[k - 1] + coefficient * k
                nxt[k + 1] = nxt[k + 1] - coefficient * (2 * PI)
            polynomials.append(nxt)

        def derivative(j: int, side: Interval, value: Interval) -> Interval:
            total, power = Interval(0.0), Interval(1.0)
            for coefficient in polynomials[j]:
                total, power = total + coefficient * power, power * side
            scale = Interval(1.0)
            for _ in range(j):
                scale = scale * self.span_iv
            return total * scale * value

        return space.univariate(axis, [derivative(j, side_centre, at_centre) for j in range(space.order + 1)],
                                derivative(space.order + 1, side_box, over_box))

    def __call__(self, t):
        if isinstance(t, Taylor):
            return self.taylor(t)
        box = t.value if isinstance(t, Jet) else t
        low, _ = self._bounds(box.hi)
        _, high = self._bounds(box.lo)
        value = Interval(low, high)
        if not isinstance(t, Jet):
            return value
        side = self.r_iv + self.span_iv * box
        two_pi_span = 2 * PI * self.span_iv
        slope = value * (-two_pi_span * side)
        curvature = value * (two_pi_span * self.span_iv * (2 * PI * side * side - 1))
        return t.chain(value, slope, curvature)


def _triangle(kernel: _GramKernel, weights: _SideWeights, cert, x, y, z):
    """(iv) on cube points: sum over the vertices of p(vertex) times its Gaussian weight."""
    sa, sb, sc = triangle_lengths(x, y, z, Interval.exact(cert.r), Interval.exact(cert.big))
    ex, ey, ez = weights(x), weights(y), weights(z)
    return (_vertex(kernel, sc, sb, sa * sa) * (ey * ez) + _vertex(kernel, sc, sa, sb * sb) * (ex * ez)
            + _vertex(kernel, sb, sa, sc * sc) * (ex * ey))


def _wedge(kernel: _GramKernel, cert, x, y, z):
    """(v) on cube points: p at the vertex (its positive Gaussian weight dropped)."""
    return _vertex(kernel, *wedge_lengths(x, y, z, Interval.exact(cert.r), Interval.exact(cert.big)))


class _LaguerreSum:
    """P(t) = sum_k a_k L_k^alpha(t) (f2 without its Gaussian) by the three-term recurrence
    (k + 1) L_(k+1) = (2k + 1 + alpha - t) L_k - (k + alpha) L_(k-1), outward rounded: in the monomials
    its coefficients (times (2 pi)^i) would cancel the way p's do."""

    def __init__(self, cert: ThreePointCertificate) -> None:
        alpha = laguerre.alpha_of(cert.dimension)
        self.coefficients = [Interval.exact(a) for a in cert.f2]
        # L_(k+1) = L_k (2k + 1 + alpha) / (k + 1) - t L_k / (k + 1) - L_(k-1) (k + alpha) / (k + 1)
        self.recurrence = [(Interval.exact((2 * k + 1 + alpha) / (k + 1)), Interval.exact(Fraction(1, k + 1)),
                            Interval.exact((k + alpha) / (k + 1))) for k in range(len(cert.f2) - 1)]

    def __call__(self, t):
        previous, current = 0.0, 1.0  # L_(-1) = 0, L_0 = 1
        total = self.coefficients[0]
        for k, (grow, inverse, keep) in enumerate(self.recurrence):
            previous, current = current, current * grow - (t * current) * inverse - previous * keep
            total = total + current * self.coefficients[k + 1]
        return total


def _pair(kernel: _GramKernel, weights: _SideWeights, f2: _LaguerreSum, cert, x):
    """(ii) times exp(pi s) on the unit interval, s = |w|^2, |w| = r + (R - r) x:
    P(2 pi s) + 2 p(0, s, 0) + p(s, s, s) exp(-pi s), every term in the form it was built in (P by the
    Laguerre recurrence, p by :class:`_GramKernel`: p(0, s, 0) = phi(0)^T Q_0 phi(s), p(s, s, s) has
    cosine 1). Not through the monomial expansion of p, whose coefficients along the diagonal cancel
    to ~1e-8 of their size: with the rectangular blocks (degree 24 on the diagonal in n = 4, D = 12) no
    affordable number of pieces decided it."""
    side = Interval.exact(cert.r) + Interval.exact(cert.big - cert.r) * x
    return (f2(side * side * (2 * PI)) + kernel(Interval(0.0), side, 1.0) * 2.0
            + kernel(side, side, 1.0) * weights(x))


def _upper(function, lo: np.ndarray, width: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Upper bounds of ``function`` on the boxes [lo, lo + width] (per axis), the best of four
    enclosures: the plain interval value, the mean-value form f(m) + grad f(B) h and the second-order
    Taylor form f(m) + grad f(m) h + 1/2 h^T Hess f(B) h, with |h_i| <= w_i / 2 (see :class:`Jet`),
    and, for the boxes those leave undecided, a Taylor model of order ``TAYLOR_ORDER``
    (:mod:`.taylor_models`); and for each box the axis along which the gradient varies most (the one
    to bisect)."""
    axes = len(lo)
    box = [Interval(lo[i], lo[i] + width[i]) for i in range(axes)]  # dyadic: exact end points
    half = [width[i] / 2 for i in range(axes)]  # exact
    over_box = function(*Jet.variables(box, order=2))
    at_centre = function(*Jet.variables([Interval(lo[i] + half[i]) for i in range(axes)], order=1))
    mean_value, taylor = at_centre.value.hi, at_centre.value.hi
    for i in range(axes):
        mean_value = up(mean_value + up(_magnitude(over_box.grad[i]) * half[i]))
        taylor = up(taylor + up(_magnitude(at_centre.grad[i]) * half[i]))
    for k, (i, j) in enumerate(Jet.PAIRS):
        if j >= axes:  # a coordinate the function does not have
            continue
        entry = over_box.hess[k]
        if i == j:  # 1/2 H_ii h_i^2 with h_i^2 in [0, w_i^2 / 4]
            taylor = up(taylor + up(np.maximum(entry.hi, 0.0) * up(half[i] * half[i]) / 2))
        else:  # H_ij h_i h_j, counted once for (i, j) and (j, i) together with the 1/2
            taylor = up(taylor + up(_magnitude(entry) * up(half[i] * half[j])))
    spread = [np.nan_to_num(_magnitude(over_box.grad[i]) * width[i], nan=np.inf) for i in range(axes)]
    # NaN (0 * inf or inf - inf after an overflow) bounds nothing: fmin takes the other enclosures,
    # and a box with none left stays NaN, which _cover counts as undecided (np.minimum would have
    # propagated one NaN, and NaN > 0 is False: entries near 1e308 passed every box)
    best = np.fmin(over_box.value.hi, np.fmin(mean_value, taylor))
    left = ~(best <= 0)
    if left.any():  # the Taylor model, dearer, where these three leave the box undecided
        space = TaylorSpace([h[left] for h in half], TAYLOR_ORDER)
        model = function(*space.variables([lo[i][left] + half[i][left] for i in range(axes)]))
        best[left] = np.fmin(best[left], model.range().hi)
    return best, np.argmax(np.stack(spread), axis=0)


def _magnitude(interval: Interval) -> np.ndarray:
    return np.maximum(np.abs(interval.lo), np.abs(interval.hi))


def _cover(evaluate, max_boxes: int, axes: int = 3):
    """Bisect boxes of the unit cube (of ``axes`` dimensions, 1 to 3) until ``evaluate`` (interval upper end) is <= 0 on every box.

    Adaptive: a box that is not decided is halved along the axis that contributes most to its
    mean-value enclosure (:func:`_upper`), not split in 8. Returns (None, boxes) on success, or
    ((reason, points), boxes) on a failure: points where the condition is violated (its centre value
    is > 0), or, when the budget or the finest width (2^-(3 + MAX_DEPTH) per axis) is reached, the
    worst undecided boxes' centres.
    """
    edges = np.linspace(0.0, 1.0, START_BOXES + 1)
    lo = np.array(np.meshgrid(*[edges[:-1]] * axes, indexing="ij")).reshape(axes, -1)
    width = np.full(lo.shape, 1.0 / START_BOXES)
    finest = 1.0 / START_BOXES / 2 ** MAX_DEPTH
    boxes = 0
    while True:
        boxes += lo.shape[1]
        parts = [_upper(evaluate, lo[:, k: k + CHUNK], width[:, k: k + CHUNK]) for k in range(0, lo.shape[1], CHUNK)]
        upper = np.concatenate([p[0] for p in parts])
        axis = np.concatenate([p[1] for p in parts])
        bad = ~(upper <= 0)  # NaN is not a pass
        if not bad.any():
            return None, boxes
        centre = lo[:, bad] + width[:, bad] / 2
        at_centre = evaluate(*[Interval(centre[i]) for i in range(axes)])
        order = np.argsort(at_centre.lo)[::-1][:REPORTED]
        if at_centre.lo[order[0]] > 0:
            worst = centre[:, order[0]]
            return (f"fails at cube point {np.round(worst, 6).tolist()}", centre[:, order[at_centre.lo[order] > 0]]), boxes
        lo, width, axis = lo[:, bad], width[:, bad], axis[bad]
        split = width[axis, np.arange(axis.size)] / 2
        if boxes + 2 * int(bad.sum()) > max_boxes or split.min() < finest:
            return (f"not decided within {boxes} boxes", centre[:, order]), boxes
        width[axis, np.arange(axis.size)] = split
        upper_half = lo.copy()
        upper_half[axis, np.arange(axis.size)] += split
        lo, width = np.concatenate([lo, upper_half], axis=1), np.concatenate([width, width], axis=1)
