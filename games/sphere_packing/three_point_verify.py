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
  mapped and the condition evaluated in outward-rounded interval arithmetic (:mod:`.intervals`):
  p in nested Horner form from its exact coefficients, and each Gaussian weight exp(-pi (B + C)) as
  the product of the per-side factors exp(-pi s^2), bounded in Arb at the (binary) box end points
  and cached. A box's bound is the better of the plain interval value and the mean-value form; a box
  whose upper bound is not <= 0 is halved along the axis that contributes most to its mean-value
  term, up to a budget of boxes and a finest width.

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
from games.sphere_packing.intervals import PI, Dual, Interval
from games.sphere_packing.three_point import triangle_sides, vertex_terms, wedge_point
from games.sphere_packing.verify import _odd_real_roots

WORKING_BITS = 256
START_BOXES = 8  # per axis of the unit cube
MAX_BOXES = 12_000_000  # per 3-d condition, in all (~40 us a box on one core)
MAX_DEPTH = 14  # halvings of an axis below the starting width 1/8
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
        return ThreePointVerification(False, reason=problem[0], violation=problem[1])
    checks = {}
    failure, pieces = _pair_condition(big_p, poly, cert)
    checks["pair pieces"] = pieces
    if failure:
        return ThreePointVerification(False, reason=failure[0], violation=("pair", np.array([failure[1]])),
                                      checks=checks)
    boxes = 0
    kernel, weights = _Horner(poly), _SideWeights(cert)
    conditions = (("triangle", lambda *xyz: _triangle(kernel, weights, cert, *xyz)),
                  ("wedge", lambda *xyz: _wedge(kernel, cert, *xyz)))
    for name, function in conditions:
        failure, count = _cover(function, max_boxes)
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


def _univariate(big_p: flint.fmpq_poly, big_q: flint.fmpq_poly, cert: ThreePointCertificate):
    """(i) and (iii), exactly. Returns '' or (the reason of a failure, a violation to hand back to the
    solver's exchange or None): points s = |x|^2 around a sign change."""

    def near(name: str, root) -> tuple[str, np.ndarray]:
        t = float(root.mid())
        return name, np.array([0.99 * t, t, 1.01 * t]) / (2 * math.pi)

    if big_q(0) <= 0:
        return "f2^(0) is not positive", None
    if big_q.degree() >= 1 and big_q.coeffs()[-1] < 0:
        return "f2^ is negative for large |y|", None
    for root, _ in _odd_real_roots(big_q):
        if root.upper() > 0:
            return f"f2^ changes sign at t = 2 pi |y|^2 = {float(root.mid()):.6g}", near("fourier", root)
    if big_p.degree() < 1 or big_p.coeffs()[-1] > 0:
        return "f2 is positive for large |x|", None
    t_big = 2 * flint.arb.pi() * flint.arb(laguerre.fmpq(cert.big2))
    for root, _ in _odd_real_roots(big_p):
        if not root.upper() < t_big.lower():
            return f"f2 changes sign beyond R (at t = 2 pi |x|^2 = {float(root.mid()):.6g})", near("tail", root)
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


class _Horner:
    """p(a, b, c) in nested Horner form, sum_i a^i (sum_j b^j (sum_l coef c^l)), for Interval or Dual
    arguments: one multiplication per monomial (the power form took three). The coefficients are
    the exact rationals of p, each enclosed once in an interval (:meth:`Interval.exact`)."""

    def __init__(self, poly: gegenbauer.Poly3) -> None:
        nested: dict[int, dict[int, dict[int, Fraction]]] = {}
        for (i, j, l), v in poly.items():
            nested.setdefault(i, {}).setdefault(j, {})[l] = v
        self.rows = {i: {j: [Interval.exact(inner.get(l, Fraction(0))) for l in range(max(inner) + 1)]
                         for j, inner in by_j.items()} for i, by_j in nested.items()}

    @staticmethod
    def _chain(parts: dict, x):
        """sum_e parts[e] x^e by Horner (parts: exponent -> value; missing exponents are zero)."""
        top = max(parts)
        total = parts[top]
        for e in range(top - 1, -1, -1):
            total = total * x
            if e in parts:
                total = total + parts[e]
        return total

    def __call__(self, a, b, c):
        by_i = {}
        for i, by_j in self.rows.items():
            by_i[i] = self._chain({j: self._chain(dict(enumerate(coefs)), c) for j, coefs in by_j.items()}, b)
        return self._chain(by_i, a)


class _SideWeights:
    """E(t) = exp(-pi s(t)^2) with s(t) = r + (R - r) t, the Gaussian factor of one squared side of
    the triangle map, bounded in Arb at each (binary, exact) end point and cached: a box's factor is
    [E(hi), E(lo)] (E decreases), and its derivative E' = -2 pi (R - r) s(t) E(t) is enclosed in
    interval arithmetic. exp(-pi (B + C)) = E(y) E(z) is the weight of the vertex opposite side A."""

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

    def __call__(self, t):
        box = t.value if isinstance(t, Dual) else t
        low, _ = self._bounds(box.hi)
        _, high = self._bounds(box.lo)
        value = Interval(low, high)
        if not isinstance(t, Dual):
            return value
        slope = value * (-2 * PI * self.span_iv * (self.r_iv + self.span_iv * box))
        return Dual(value, [slope * g for g in t.grad])


def _triangle(kernel: _Horner, weights: _SideWeights, cert, x, y, z):
    """(iv) on cube points: sum over the vertices of p(vertex) times its Gaussian weight."""
    r, big = Interval.exact(cert.r), Interval.exact(cert.big)
    ex, ey, ez = weights(x), weights(y), weights(z)
    factors = (ey * ez, ex * ez, ex * ey)  # exp(-pi (B + C)), exp(-pi (A + C)), exp(-pi (A + B))
    total = None
    for (a, b, c, _), factor in zip(vertex_terms(*triangle_sides(x, y, z, r, big)), factors):
        term = kernel(a, b, c) * factor
        total = term if total is None else total + term
    return total


def _wedge(kernel: _Horner, cert, x, y, z):
    r, big = Interval.exact(cert.r), Interval.exact(cert.big)
    return kernel(*wedge_point(x, y, z, r, big))


def _upper(function, lo: np.ndarray, width: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Upper bounds of ``function`` on the boxes [lo, lo + width] (per axis), the better of the plain
    interval value and the mean-value form f(centre) + sum_i df/dx_i(box) [-w_i/2, w_i/2]; and for
    each box the axis whose term in that sum is widest (the one to bisect)."""
    box = [Interval(lo[i], lo[i] + width[i]) for i in range(3)]  # dyadic: exact end points
    dual = function(*Dual.variables(box))
    centre = function(*[Interval(lo[i] + width[i] / 2) for i in range(3)])
    mean_value = centre
    spread = []
    for i, g in enumerate(dual.grad):
        mean_value = mean_value + g * Interval(-width[i] / 2, width[i] / 2)
        spread.append(np.maximum(np.abs(g.lo), np.abs(g.hi)) * width[i])
    return np.minimum(dual.value.hi, mean_value.hi), np.argmax(np.stack(spread), axis=0)


def _cover(evaluate, max_boxes: int):
    """Bisect boxes of the unit cube until ``evaluate`` (interval upper end) is <= 0 on every box.

    Adaptive: a box that is not decided is halved along the axis that contributes most to its
    mean-value enclosure (:func:`_upper`), not split in 8. Returns (None, boxes) on success, or
    ((reason, points), boxes) on a failure: points where the condition is violated (its centre value
    is > 0), or, when the budget or the finest width (2^-(3 + MAX_DEPTH) per axis) is reached, the
    worst undecided boxes' centres.
    """
    edges = np.linspace(0.0, 1.0, START_BOXES + 1)
    lo = np.array(np.meshgrid(edges[:-1], edges[:-1], edges[:-1], indexing="ij")).reshape(3, -1)
    width = np.full(lo.shape, 1.0 / START_BOXES)
    finest = 1.0 / START_BOXES / 2 ** MAX_DEPTH
    boxes = 0
    while True:
        boxes += lo.shape[1]
        parts = [_upper(evaluate, lo[:, k: k + CHUNK], width[:, k: k + CHUNK]) for k in range(0, lo.shape[1], CHUNK)]
        upper = np.concatenate([p[0] for p in parts])
        axis = np.concatenate([p[1] for p in parts])
        bad = upper > 0
        if not bad.any():
            return None, boxes
        centre = lo[:, bad] + width[:, bad] / 2
        at_centre = evaluate(*[Interval(centre[i]) for i in range(3)])
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
