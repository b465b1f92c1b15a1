"""Rigorous check of a three-point certificate, independent of the SDP solver that proposed it.

A certificate is exact data: r^2 and R^2 (rationals), f2's Laguerre coefficients a_k (rationals) and
the matrices Q_k (rationals). The conditions (i)-(v) of :mod:`.three_point` are decided as follows:

* Q_k positive definite: an exact LDL^T decomposition in rational arithmetic, every pivot > 0.
  (Positive definite, not merely semidefinite: the solver's Q_k are pushed a hair inside the cone
  before rounding, see :func:`.three_point.certificate_from`.)
* p is expanded exactly into monomials a^i b^j c^l with rational coefficients.
* (i) f2^ >= 0 with f2^(0) > 0 and (iii) f2 <= 0 for |x| >= R: univariate polynomials in
  t = 2 pi |x|^2, their real roots isolated rigorously (Arb), as in :mod:`.verify`.
* (ii) on r^2 <= s <= R^2 (univariate, with exponentials): Arb balls, mean-value form
  g(X) in g(m) + g'(X)(X - m), bisecting until every piece's upper end is <= 0.
* (iv) and (v) (three variables, exponentials): their regions are images of the unit cube under the
  maps of :mod:`.three_point` (onto, so a cover of the cube covers the region); boxes of the cube are
  mapped and the condition evaluated in outward-rounded interval arithmetic (:mod:`.intervals`),
  boxes whose upper bound is not <= 0 are split in 8, up to a budget of boxes.

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
from games.sphere_packing.intervals import Dual, Interval
from games.sphere_packing.three_point import triangle_sides, vertex_terms, wedge_point
from games.sphere_packing.verify import _odd_real_roots

WORKING_BITS = 256
START_BOXES = 8  # per axis of the unit cube
MAX_BOXES = 3_000_000  # per 3-d condition, in all
MAX_DEPTH = 14
MAX_PIECES = 200_000  # for the univariate condition (ii)
CHUNK = 20_000  # boxes evaluated at once (memory)
REPORTED = 64  # violating points handed back to the solver's exchange


@dataclass(frozen=True)
class ThreePointCertificate:
    """Exact data of a three-point bound (see :mod:`.three_point` for what each piece means)."""

    dimension: int
    r: Fraction  # minimal distance
    big: Fraction  # truncation radius R
    f2: tuple[Fraction, ...]  # P = sum_k a_k L_k^(n/2-1)(t)
    blocks: tuple[tuple[tuple[Fraction, ...], ...], ...]  # Q_0 .. Q_D, symmetric

    @property
    def r2(self) -> Fraction:
        return self.r * self.r

    @property
    def big2(self) -> Fraction:
        return self.big * self.big

    def artifacts(self) -> dict:
        return {"dimension": self.dimension, "r": str(self.r), "R": str(self.big),
                "f2": [str(a) for a in self.f2], "blocks": [[[str(v) for v in row] for row in q] for q in self.blocks]}


@dataclass(frozen=True)
class ThreePointVerification:
    verified: bool
    density: float | None = None  # rigorous upper bound on the packing density, rounded up
    reason: str = ""
    violation: tuple[str, np.ndarray] | None = None  # a condition and points where it fails (solver coordinates)
    boxes: int = 0
    seconds: float = 0.0
    checks: dict = field(default_factory=dict)


def kernel_polynomial(cert: ThreePointCertificate) -> gegenbauer.Poly3:
    """p(a, b, c) = sum_k sum_ij Q_k[i, j] (a/R^2)^i (b/R^2)^j h_k(a, b, c), exactly."""
    zonal = gegenbauer.zonal_exact(len(cert.blocks) - 1, cert.dimension)
    out: gegenbauer.Poly3 = {}
    for k, q in enumerate(cert.blocks):
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
        return ThreePointVerification(False, reason=problem)
    checks = {}
    failure, pieces = _pair_condition(big_p, poly, cert)
    checks["pair pieces"] = pieces
    if failure:
        return ThreePointVerification(False, reason=failure[0], violation=("pair", np.array([failure[1]])),
                                      checks=checks)
    boxes = 0
    for name, function in (("triangle", _triangle), ("wedge", _wedge)):
        failure, count = _cover(lambda *xyz, f=function: f(poly, cert, *xyz), max_boxes)
        boxes += count
        checks[f"{name} boxes"] = count
        if failure:
            return ThreePointVerification(False, reason=f"condition ({name}) {failure[0]}",
                                          violation=(name, failure[1]), boxes=boxes, checks=checks)
    numerator = big_p(0) + laguerre.fmpq(poly.get((0, 0, 0), Fraction(0)))
    half = flint.fmpq(cert.dimension, 2)
    radius = (flint.arb(laguerre.fmpq(cert.r2)) / 4).sqrt()  # r / 2
    volume = flint.arb.pi() ** flint.arb(half) / flint.arb(half + 1).gamma() * radius ** cert.dimension
    density = volume * flint.arb(numerator) / flint.arb(big_q(0))
    if not density > 0:
        return ThreePointVerification(False, reason="the bound is not positive: the certificate is inconsistent")
    return ThreePointVerification(True, density=math.nextafter(float(density.upper()), math.inf),
                                  boxes=boxes, checks=checks)


def _univariate(big_p: flint.fmpq_poly, big_q: flint.fmpq_poly, cert: ThreePointCertificate) -> str:
    """(i) and (iii), exactly. Returns the reason of a failure, or ''."""
    if big_q(0) <= 0:
        return "f2^(0) is not positive"
    if big_q.degree() >= 1 and big_q.coeffs()[-1] < 0:
        return "f2^ is negative for large |y|"
    for root, _ in _odd_real_roots(big_q):
        if root.upper() > 0:
            return f"f2^ changes sign at t = 2 pi |y|^2 = {float(root.mid()):.6g}"
    if big_p.degree() < 1 or big_p.coeffs()[-1] > 0:
        return "f2 is positive for large |x|"
    t_big = 2 * flint.arb.pi() * flint.arb(laguerre.fmpq(cert.big2))
    for root, _ in _odd_real_roots(big_p):
        if not root.upper() < t_big.lower():
            return f"f2 changes sign beyond R (at t = 2 pi |x|^2 = {float(root.mid()):.6g})"
    return ""


def _horner(coeffs, x):
    total = flint.arb(0)
    for c in reversed(coeffs):
        total = total * x + c
    return total


def _pair_condition(big_p: flint.fmpq_poly, poly: gegenbauer.Poly3, cert: ThreePointCertificate):
    """(ii) times exp(pi s): g(s) = P(2 pi s) + 2 p(0, s, 0) + p(s, s, s) exp(-pi s) <= 0 on [r^2, R^2]."""
    two_pi = 2 * flint.arb.pi()
    p_coeffs = [flint.arb(c) * two_pi ** i for i, c in enumerate(big_p.coeffs())]  # P(2 pi s) in s
    degree = max([len(p_coeffs)] + [sum(key) + 1 for key in poly])
    zero_line = [flint.arb(0)] * degree  # p(0, s, 0)
    diagonal = [flint.arb(0)] * degree  # p(s, s, s)
    for (i, j, l), v in poly.items():
        value = flint.arb(laguerre.fmpq(v))
        diagonal[i + j + l] += value
        if i == 0 and l == 0:
            zero_line[j] += value
    base = [(p_coeffs[i] if i < len(p_coeffs) else 0) + 2 * zero_line[i] for i in range(degree)]
    d_base = [i * base[i] for i in range(1, degree)]
    d_diag = [i * diagonal[i] for i in range(1, degree)]
    pi = flint.arb.pi()

    def g(s):
        return _horner(base, s) + _horner(diagonal, s) * (-pi * s).exp()

    def dg(s):
        return _horner(d_base, s) + (_horner(d_diag, s) - pi * _horner(diagonal, s)) * (-pi * s).exp()

    pieces = [(Fraction(cert.r2), Fraction(cert.big2))]
    done = 0
    while pieces:
        lo, hi = pieces.pop()
        done += 1
        if done > MAX_PIECES:
            return (f"condition (pair) not decided within {MAX_PIECES} pieces", float(lo)), done
        mid = (lo + hi) / 2
        m = flint.arb(laguerre.fmpq(mid))
        rad = flint.arb(laguerre.fmpq((hi - lo) / 2))
        ball = m + flint.arb(0, float(hi - lo) / 2 * (1 + 1e-9))  # holds [lo, hi]
        at_mid = g(m)
        if at_mid.lower() > 0:
            return (f"condition (pair) fails at |w|^2 = {float(mid):.8g}", float(mid)), done
        enclosure = at_mid + dg(ball) * rad * flint.arb(0, 1)
        if enclosure.upper() <= 0:
            continue
        pieces += [(lo, mid), (mid, hi)]
    return None, done


def _poly_interval(poly: gegenbauer.Poly3, a, b, c):
    """p(a, b, c) for Interval or Dual arguments, as sum_ij a^i b^j (sum_l coef c^l)."""
    top = max(max(key) for key in poly)
    powers = {}
    for name, x in (("a", a), ("b", b), ("c", c)):
        table = [None, x]
        for _ in range(top - 1):
            table.append(table[-1] * x)
        powers[name] = table
    total = None
    for (i, j, l), v in poly.items():
        term = Interval.exact(v)
        for name, e in (("a", i), ("b", j), ("c", l)):
            if e:
                term = powers[name][e] * term
        total = term if total is None else total + term
    return total


def _triangle(poly, cert, x, y, z):
    r, big = Interval.exact(cert.r), Interval.exact(cert.big)
    total = None
    for a, b, c, weight in vertex_terms(*triangle_sides(x, y, z, r, big)):
        term = _poly_interval(poly, a, b, c) * weight.exp_neg_pi()
        total = term if total is None else total + term
    return total


def _wedge(poly, cert, x, y, z):
    r, big = Interval.exact(cert.r), Interval.exact(cert.big)
    return _poly_interval(poly, *wedge_point(x, y, z, r, big))


def _upper(function, lo: np.ndarray, width: np.ndarray) -> np.ndarray:
    """Upper bounds of ``function`` on the boxes [lo, lo + width]: the better of the plain interval
    value and the mean-value form f(centre) + sum_i df/dx_i(box) [-w/2, w/2]."""
    box = [Interval(lo[i], lo[i] + width) for i in range(3)]  # dyadic: exact end points
    dual = function(*Dual.variables(box))
    centre = function(*[Interval(lo[i] + width / 2) for i in range(3)])
    half = Interval(-width / 2, width / 2)
    mean_value = centre
    for g in dual.grad:
        mean_value = mean_value + g * half
    return np.minimum(dual.value.hi, mean_value.hi)


def _cover(evaluate, max_boxes: int):
    """Split the unit cube until ``evaluate`` (interval upper end) is <= 0 on every box.

    Returns (None, boxes) on success, or ((reason, point), boxes) on a failure: a point where the
    condition is violated (its centre value is > 0), or the budget ran out (the point is the worst box).
    """
    edges = np.linspace(0.0, 1.0, START_BOXES + 1)
    lo = np.array(np.meshgrid(edges[:-1], edges[:-1], edges[:-1], indexing="ij")).reshape(3, -1)
    width = np.full(lo.shape[1], 1.0 / START_BOXES)
    boxes = 0
    for depth in range(MAX_DEPTH + 1):
        boxes += lo.shape[1]
        upper = np.concatenate([_upper(evaluate, lo[:, k: k + CHUNK], width[k: k + CHUNK])
                                for k in range(0, lo.shape[1], CHUNK)])
        bad = upper > 0
        if not bad.any():
            return None, boxes
        centre = lo[:, bad] + width[bad] / 2
        at_centre = evaluate(*[Interval(centre[i]) for i in range(3)])
        order = np.argsort(at_centre.lo)[::-1][:REPORTED]
        if at_centre.lo[order[0]] > 0:
            worst = centre[:, order[0]]
            return (f"fails at cube point {np.round(worst, 6).tolist()}", centre[:, order[at_centre.lo[order] > 0]]), boxes
        if boxes + 8 * int(bad.sum()) > max_boxes or depth == MAX_DEPTH:
            return (f"not decided within {boxes} boxes (depth {depth})", centre[:, order]), boxes
        lo, width = lo[:, bad], width[bad] / 2
        shifts = np.array([[dx, dy, dz] for dx in (0, 1) for dy in (0, 1) for dz in (0, 1)], dtype=float).T
        lo = (lo[:, :, None] + shifts[:, None, :] * width[None, :, None]).reshape(3, -1)
        width = np.repeat(width, 8)
    return ("not decided", lo[:, 0]), boxes
