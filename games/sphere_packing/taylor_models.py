"""Taylor models: tight enclosures of the three-point conditions where their terms cancel.

A Taylor model of order K of f over a box with centre m and half widths w is a polynomial and an
interval, f(m + h) in sum_|alpha|<=K c_alpha h^alpha + rem for every |h_i| <= w_i (Berz & Makino,
"Verified integration of ODEs and flows using differential algebraic methods on high-order Taylor
models", Reliable Computing 4, 1998). Arithmetic on models keeps the polynomial exactly (up to
outward rounding of its coefficients) and sends only what is truncated into the remainder.

Why the check needs them: the kernel p = sum_k (s1 s2)^k P_k(t) phi(a)^T Q_k phi(b) is a sum of
terms of the size of the Q_k entries (~1e2) that cancel to ~1e-4, and with the rectangular blocks
the triangle condition sits within ~1e-4 of 0 over the whole cube (n = 4, D = 12: every one of
262,144 boxes of side 1/64 to 1/128 undecided, centre values -6e-4 to -1e-7). The second-order
Taylor form's interval Hessian adds the terms' enclosure widths across k instead of letting them
cancel: at side 1/64 it was ~60 wide where the function's Hessian is small, so its bound was 1e-3
above the function's. A Taylor model cancels the polynomial parts exactly, as the terms do, and
only the truncated orders (w^(K+1), summed in magnitude) and rounding reach the remainder.

Semantics, pointwise: for every h in the box there are reals c_alpha(h) in the coefficient intervals
and r(h) in ``rem`` with f(m + h) = sum c_alpha(h) h^alpha + r(h). Interval arithmetic's inclusion
property then makes every operation below valid; each step of it is argued where it is done. The
coefficient sums are rounded outwards by the standard bound on a floating-point sum of g terms,
|fl(sum) - sum| <= (g - 1) u sum |x_j| / (1 - (g - 1) u), u = 2^-53 (Higham, "Accuracy and Stability
of Numerical Algorithms", 2002, eq. 4.4), taken here as 2 g 2^-52 sum |x_j| plus g of the smallest
subnormal (products that underflow), which exceeds it for every g this module meets.
"""

from __future__ import annotations

import itertools
import math
from fractions import Fraction
from functools import cached_property

import numpy as np

from games.outward import down, up
from games.sphere_packing.intervals import Interval, lift

_EPSILON, _TINY = 2.0 ** -52, 2.0 ** -1074


def power_up(x: np.ndarray, n: int) -> np.ndarray:
    """An upper bound of x^n for x >= 0 by repeated products, each rounded up (no libm pow)."""
    out = np.ones_like(x)
    for _ in range(n):
        out = up(out * x)
    return out


def power_down(x: np.ndarray, n: int) -> np.ndarray:
    """A lower bound of x^n for x >= 0, likewise."""
    out = np.ones_like(x)
    for _ in range(n):
        out = np.maximum(down(out * x), 0.0)
    return out


def _group_sum(values: np.ndarray, starts: np.ndarray, counts: np.ndarray, upward: bool) -> np.ndarray:
    """Sums of consecutive row groups of ``values`` (groups begin at ``starts``, ``counts`` rows each),
    rounded outwards: upward (an upper bound of the exact sum) or downward."""
    total = np.add.reduceat(values, starts, axis=0)
    slack = (2 * _EPSILON) * counts[:, None] * np.add.reduceat(np.abs(values), starts, axis=0) + counts[:, None] * _TINY
    return up(total + slack) if upward else down(total - slack)


class TaylorSpace:
    """The monomials h^alpha of degree <= ``order`` in ``axes`` variables over boxes with half widths
    ``half`` (``axes`` arrays of N dyadic floats), and the tables the arithmetic needs."""

    def __init__(self, half: list[np.ndarray], order: int) -> None:
        self.order, self.axes = order, len(half)
        self.half = [np.asarray(h, dtype=float) for h in half]
        # by degree (the arithmetic sums by degree), e_0 .. e_(axes-1) right after the constant
        self.monomials = sorted((alpha for alpha in itertools.product(range(order + 1), repeat=self.axes)
                                 if sum(alpha) <= order), key=lambda alpha: (sum(alpha), tuple(-a for a in alpha)))
        self.index = {alpha: i for i, alpha in enumerate(self.monomials)}
        self.degrees = np.array([sum(alpha) for alpha in self.monomials])
        self.degree_starts = np.searchsorted(self.degrees, np.arange(order + 1))
        self.degree_counts = np.bincount(self.degrees, minlength=order + 1)
        # products c_alpha d_beta with |alpha + beta| <= order, grouped by the target monomial
        pairs = [(self.index[tuple(a + b for a, b in zip(alpha, beta))], i, j)
                 for i, alpha in enumerate(self.monomials) for j, beta in enumerate(self.monomials)
                 if sum(alpha) + sum(beta) <= order]
        pairs.sort()
        target = np.array([p[0] for p in pairs])
        self.left, self.right = np.array([p[1] for p in pairs]), np.array([p[2] for p in pairs])
        self.starts = np.searchsorted(target, np.arange(len(self.monomials)))
        self.counts = np.bincount(target, minlength=len(self.monomials))

    def power_bound(self, alpha: tuple[int, ...]) -> np.ndarray:
        """max |h^alpha| over the box: prod w_i^alpha_i, rounded up."""
        out = np.ones_like(self.half[0])
        for h, a in zip(self.half, alpha):
            out = up(out * power_up(h, a))
        return out

    @cached_property
    def magnitudes(self) -> np.ndarray:
        """max |h^alpha| per monomial, shape M x N."""
        return np.stack([self.power_bound(alpha) for alpha in self.monomials])

    @cached_property
    def ranges(self) -> Interval:
        """The range of h^alpha over the box per monomial, M x N: [1, 1] for the constant, [0, w^alpha]
        when every exponent is even, [-w^alpha, w^alpha] otherwise."""
        even = np.array([all(a % 2 == 0 for a in alpha) for alpha in self.monomials])[:, None]
        low = np.where(even, 0.0, -self.magnitudes)
        low[0] = 1.0
        high = self.magnitudes.copy()
        high[0] = 1.0
        return Interval(low, high)

    def constant(self, value: Interval | float) -> Taylor:
        value = lift(value)
        lo = np.zeros((len(self.monomials), self.half[0].size))
        hi = np.zeros_like(lo)
        lo[0], hi[0] = np.broadcast_to(value.lo, lo[0].shape), np.broadcast_to(value.hi, hi[0].shape)
        return Taylor(self, Interval(lo, hi), _zero(self))

    def variables(self, centre: list[np.ndarray]) -> list[Taylor]:
        """The coordinates m_i + h_i as models (``centre``: the boxes' centres, exact floats)."""
        out = []
        for i, m in enumerate(centre):
            model = self.constant(Interval(np.asarray(m, dtype=float)))
            unit = tuple(int(j == i) for j in range(self.axes))
            model.coefficients.lo[self.index[unit]] = 1.0
            model.coefficients.hi[self.index[unit]] = 1.0
            out.append(model)
        return out

    def coordinate(self, model: Taylor) -> tuple[int, np.ndarray]:
        """(i, m) for a model that is exactly the coordinate m_i + h_i (what :meth:`variables` made)."""
        c = model.coefficients
        units = [self.index[tuple(int(j == i) for j in range(self.axes))] for i in range(self.axes)]
        linear = [i for i in range(self.axes) if np.all(c.lo[units[i]] == 1.0) and np.all(c.hi[units[i]] == 1.0)]
        rest = [m for m in range(1, len(self.monomials)) if m not in [units[i] for i in linear[:1]]]
        exact = np.all(c.lo[0] == c.hi[0]) and not np.any(c.lo[rest]) and not np.any(c.hi[rest])
        if len(linear) != 1 or not exact or np.any(model.remainder.lo) or np.any(model.remainder.hi):
            raise ValueError("not a coordinate of the Taylor space")
        return linear[0], c.lo[0]

    def univariate(self, axis: int, derivatives: list[Interval], remainder: Interval) -> Taylor:
        """g(m_axis + h_axis) from enclosures of g^(j)(m) for j <= order (at the centre) and of
        g^(order+1) over the box: Taylor's theorem with the Lagrange remainder."""
        model = self.constant(derivatives[0])
        for j in range(1, self.order + 1):
            alpha = tuple(j if i == axis else 0 for i in range(self.axes))
            term = derivatives[j] * Interval.exact(Fraction(1, math.factorial(j)))
            model.coefficients.lo[self.index[alpha]] = term.lo
            model.coefficients.hi[self.index[alpha]] = term.hi
        top = tuple(self.order + 1 if i == axis else 0 for i in range(self.axes))
        power = self.power_bound(top)
        span = Interval(np.zeros_like(power) if (self.order + 1) % 2 == 0 else -power, power)
        model.remainder = remainder * span * Interval.exact(Fraction(1, math.factorial(self.order + 1)))
        return model


def _zero(space: TaylorSpace) -> Interval:
    return Interval(np.zeros(space.half[0].size))


def _is_scalar(value) -> bool:
    return isinstance(value, (Interval, int, float))


class Taylor:
    """A Taylor model: ``coefficients`` (an Interval of shape M x N, monomials in the space's order) and
    ``remainder`` (an Interval of shape N), over the boxes of ``space``."""

    __slots__ = ("_polynomial_range", "coefficients", "remainder", "space")

    def __init__(self, space: TaylorSpace, coefficients: Interval, remainder: Interval) -> None:
        self.space, self.coefficients, self.remainder = space, coefficients, remainder
        self._polynomial_range: Interval | None = None

    # -- enclosures --------------------------------------------------------------------------
    def polynomial_range(self) -> Interval:
        """An enclosure of the polynomial part over the box: sum c_alpha range(h^alpha). Kept once
        computed (a kernel's radial and Gegenbauer values enter many products): the coefficients are
        only written by the constructors of :class:`TaylorSpace`, before any range is asked."""
        if self._polynomial_range is None:
            self._polynomial_range = self._sum_over_box()
        return self._polynomial_range

    def _sum_over_box(self) -> Interval:
        terms = self.coefficients * self.space.ranges
        space = self.space
        one = np.array([0])
        size = np.array([len(space.monomials)])
        return Interval(_group_sum(terms.lo, one, size, upward=False)[0],
                        _group_sum(terms.hi, one, size, upward=True)[0])

    def range(self) -> Interval:
        """An enclosure of the function over the box."""
        return self.polynomial_range() + self.remainder

    # -- arithmetic --------------------------------------------------------------------------
    def __add__(self, other) -> Taylor:
        if isinstance(other, Taylor):
            return Taylor(self.space, self.coefficients + other.coefficients, self.remainder + other.remainder)
        if not _is_scalar(other):
            return NotImplemented
        other = lift(other)
        lo, hi = self.coefficients.lo.copy(), self.coefficients.hi.copy()
        lo[0], hi[0] = down(lo[0] + other.lo), up(hi[0] + other.hi)
        return Taylor(self.space, Interval(lo, hi), self.remainder)

    __radd__ = __add__

    def __neg__(self) -> Taylor:
        return Taylor(self.space, -self.coefficients, -self.remainder)

    def __sub__(self, other) -> Taylor:
        return self + (-other)

    def __rsub__(self, other) -> Taylor:
        return (-self) + other

    def __truediv__(self, other) -> Taylor:
        if other != 2:
            return NotImplemented
        return Taylor(self.space, self.coefficients / 2, self.remainder / 2)  # Interval halving, outward

    def __mul__(self, other) -> Taylor:
        if not isinstance(other, Taylor):
            if not _is_scalar(other):
                return NotImplemented
            scalar = lift(other)
            return Taylor(self.space, self.coefficients * scalar, self.remainder * scalar)
        space = self.space
        a, b = self.coefficients, other.coefficients
        # the products of total degree <= K, summed per target monomial
        left = Interval(a.lo[space.left], a.hi[space.left])
        right = Interval(b.lo[space.right], b.hi[space.right])
        products = left * right
        coefficients = Interval(_group_sum(products.lo, space.starts, space.counts, upward=False),
                                _group_sum(products.hi, space.starts, space.counts, upward=True))
        # degree > K: |c_alpha d_beta h^(alpha + beta)| <= (|c_alpha| w^alpha)(|d_beta| w^beta), summed by degree
        order = space.order
        mass_a, mass_b = (_group_sum(up(np.maximum(np.abs(c.lo), np.abs(c.hi)) * space.magnitudes), space.degree_starts,
                                     space.degree_counts, upward=True) for c in (a, b))
        high = np.zeros(a.lo.shape[1])
        for d in range(order + 1):
            for e in range(order + 1 - d, order + 1):  # d + e > K
                high = up(high + up(mass_a[d] * mass_b[e]))
        remainder = (Interval(-high, high) + self.polynomial_range() * other.remainder
                     + other.polynomial_range() * self.remainder + self.remainder * other.remainder)
        return Taylor(space, coefficients, remainder)

    __rmul__ = __mul__

    def __pow__(self, power: int) -> Taylor:
        return self * self if power == 2 else NotImplemented

    def reciprocal(self) -> Taylor:
        """1 / self where self > 0 on the box (elsewhere the remainder is NaN: no bound). With x0 the
        constant term and u = self - x0, 1/(x0 + u) = sum_{j <= K} (-u)^j / x0^(j+1) + (-u)^(K+1) /
        xi^(K+2), xi between x0 and x0 + u (Taylor's theorem with the Lagrange remainder)."""
        whole = self.range()
        x0 = Interval(self.coefficients.lo[0], self.coefficients.hi[0])
        positive = (whole.lo > 0) & (x0.lo > 0)  # NaN is not positive
        x0 = Interval(np.where(positive, x0.lo, 1.0), np.where(positive, x0.hi, 1.0))
        lo, hi = self.coefficients.lo.copy(), self.coefficients.hi.copy()
        lo[0], hi[0] = 0.0, 0.0
        u = Taylor(self.space, Interval(lo, hi), self.remainder)
        inverse = x0.reciprocal()
        result = self.space.constant(inverse)
        power, factor = None, inverse
        for _ in range(self.space.order):
            power = -u if power is None else power * (-u)
            factor = factor * inverse
            result = result + power * factor
        k = self.space.order + 1
        spread = u.range()
        magnitude = power_up(np.maximum(np.abs(spread.lo), np.abs(spread.hi)), k)
        hull_low = np.where(positive, np.minimum(whole.lo, x0.lo), np.nan)  # xi >= this > 0
        bound = up(magnitude / power_down(hull_low, k + 1))
        result.remainder = result.remainder + Interval(-bound, bound)
        return result
