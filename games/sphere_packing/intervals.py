"""Vectorised interval arithmetic with outward rounding: many boxes at once, for the three-point check.

Each operation on float64 end points is correctly rounded (IEEE 754: +, -, *, /, sqrt), so a step
of at least one ulp outwards (:mod:`games.outward`) bounds the exact result; exponentials are
bounded through Arb by the callers, assuming nothing of libm. Written by hand
because the check evaluates ~1e5 boxes per condition, which one Arb ball per box in Python would make
minutes; the library functions (Arb) are used where accuracy, not speed, is the issue.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
from games.outward import down, up


class Interval:
    """Arrays of closed intervals [lo, hi] (lo <= hi elementwise)."""

    __slots__ = ("hi", "lo")

    def __init__(self, lo, hi=None) -> None:
        self.lo = np.asarray(lo, dtype=float)
        self.hi = self.lo if hi is None else np.asarray(hi, dtype=float)

    @staticmethod
    def exact(value: Fraction | int) -> Interval:
        """An interval holding the rational ``value`` (a float, stepped out unless it is exact)."""
        near = float(value)
        if Fraction(near) == Fraction(value):
            return Interval(near)
        return Interval(down(near), up(near))

    def __add__(self, other) -> Interval:
        if not isinstance(other, _NUMBERS):  # a Jet or a Taylor model does the arithmetic
            return NotImplemented
        other = lift(other)
        return Interval(down(self.lo + other.lo), up(self.hi + other.hi))

    __radd__ = __add__

    def __neg__(self) -> Interval:
        return Interval(-self.hi, -self.lo)

    def __sub__(self, other) -> Interval:
        if not isinstance(other, _NUMBERS):
            return NotImplemented
        return self + (-lift(other))

    def __rsub__(self, other) -> Interval:
        return lift(other) + (-self)

    def __mul__(self, other) -> Interval:
        if not isinstance(other, _NUMBERS):
            return NotImplemented
        other = lift(other)
        if other.lo is other.hi or self.lo is self.hi:  # a point factor (exact constants): two products
            point, box = (other, self) if other.lo is other.hi else (self, other)
            low, high = box.lo * point.lo, box.hi * point.lo
            return Interval(down(np.minimum(low, high)), up(np.maximum(low, high)))
        p1, p2, p3, p4 = self.lo * other.lo, self.lo * other.hi, self.hi * other.lo, self.hi * other.hi
        return Interval(down(np.minimum(np.minimum(p1, p2), np.minimum(p3, p4))),
                        up(np.maximum(np.maximum(p1, p2), np.maximum(p3, p4))))

    __rmul__ = __mul__

    def __truediv__(self, other) -> Interval:
        if other != 2:
            raise ValueError("intervals are only halved here")
        # exact in binary, except where the half is subnormal: there it is stepped outwards
        lo, hi = self.lo / 2, self.hi / 2
        tiny = 2.0 ** -1021
        return Interval(np.where(np.abs(self.lo) < tiny, down(lo), lo),
                        np.where(np.abs(self.hi) < tiny, up(hi), hi))

    def __pow__(self, power: int) -> Interval:
        if power != 2:
            raise ValueError("intervals are only squared here")
        return self.square()

    def square(self) -> Interval:
        """x^2, tight for intervals holding 0 (unlike x * x)."""
        a, b = np.abs(self.lo), np.abs(self.hi)
        big = up(np.maximum(a, b) ** 2)
        small = np.where((self.lo <= 0) & (self.hi >= 0), 0.0, down(np.minimum(a, b) ** 2))
        return Interval(small, big)

    def reciprocal(self) -> Interval:
        """1 / x for x > 0 (decreasing, so [1/hi, 1/lo], each quotient correctly rounded then stepped out)."""
        if not np.all(self.lo > 0):  # NaN is refused too
            raise ValueError("reciprocal of an interval reaching zero or below")
        return Interval(down(1.0 / self.hi), up(1.0 / self.lo))


_NUMBERS = (Interval, int, float, Fraction)  # what an Interval combines with itself
PI = Interval(down(np.pi), up(np.pi))  # the float np.pi is within one step of pi


class Jet:
    """Forward-mode derivatives over a box, every coefficient an interval: the value, the gradient and
    (``order`` 2) the Hessian's upper triangle, each enclosing its function's range over the box.

    The check bounds a function on a box B with centre m by the second-order Taylor form
    f(B) in f(m) + grad f(m) (x - m) + 1/2 (x - m)^T Hess f(B) (x - m) (Taylor's theorem with the
    Lagrange remainder): its overestimation shrinks like width^3, the mean-value form's
    (f(m) + grad f(B) (x - m)) like width^2. The three-point conditions are tight to ~1e-4 of their
    terms along whole surfaces of the region, where the mean-value form needed millions of boxes
    (kernel degree 10 in n = 4, the wedge condition: not decided in 3.7 million) and the Taylor form needs 1.7e5.
    Order 1 (no Hessian) gives the gradient at the centre for half the work.
    """

    __slots__ = ("grad", "hess", "value")
    PAIRS = ((0, 0), (0, 1), (0, 2), (1, 1), (1, 2), (2, 2))  # the Hessian entries kept, in order

    def __init__(self, value: Interval, grad: list[Interval], hess: list[Interval] | None) -> None:
        self.value, self.grad, self.hess = value, grad, hess

    @staticmethod
    def variables(box: list[Interval], order: int = 2) -> list[Jet]:
        """The three coordinates of the boxes as jets (so a function of them carries its derivatives)."""
        zero, one = Interval(np.zeros_like(box[0].lo)), Interval(np.ones_like(box[0].lo))
        hess = [zero] * len(Jet.PAIRS) if order == 2 else None
        return [Jet(x, [one if i == j else zero for j in range(3)], hess) for i, x in enumerate(box)]

    def __add__(self, other) -> Jet:
        if isinstance(other, Jet):
            hess = None if self.hess is None else [g + h for g, h in zip(self.hess, other.hess)]
            return Jet(self.value + other.value, [g + h for g, h in zip(self.grad, other.grad)], hess)
        return Jet(self.value + other, self.grad, self.hess)

    __radd__ = __add__

    def __neg__(self) -> Jet:
        return Jet(-self.value, [-g for g in self.grad], None if self.hess is None else [-h for h in self.hess])

    def __sub__(self, other) -> Jet:
        return self + (-other)

    def __rsub__(self, other) -> Jet:
        return (-self) + other

    def __mul__(self, other) -> Jet:
        if not isinstance(other, Jet):
            return Jet(self.value * other, [g * other for g in self.grad],
                       None if self.hess is None else [h * other for h in self.hess])
        grad = [g * other.value + self.value * h for g, h in zip(self.grad, other.grad)]
        hess = None
        if self.hess is not None:
            hess = [self.hess[k] * other.value + self.value * other.hess[k]
                    + self.grad[i] * other.grad[j] + other.grad[i] * self.grad[j]
                    for k, (i, j) in enumerate(Jet.PAIRS)]
        return Jet(self.value * other.value, grad, hess)

    __rmul__ = __mul__

    def __truediv__(self, other) -> Jet:
        return self.chain(self.value / other, Interval(0.5), None) if other == 2 else NotImplemented

    def __pow__(self, power: int) -> Jet:
        return self * self if power == 2 else NotImplemented

    def chain(self, value: Interval, slope: Interval, curvature: Interval | None) -> Jet:
        """phi(self), given phi, phi' and phi'' enclosed over this jet's value (phi'' = 0 when None)."""
        grad = [slope * g for g in self.grad]
        hess = None
        if self.hess is not None:
            hess = [slope * h for h in self.hess]
            if curvature is not None:
                hess = [h + curvature * (self.grad[i] * self.grad[j]) for h, (i, j) in zip(hess, Jet.PAIRS)]
        return Jet(value, grad, hess)

    def reciprocal(self) -> Jet:
        """1 / self for a positive value: (1/x)' = -1/x^2, (1/x)'' = 2/x^3."""
        inverse = self.value.reciprocal()
        square = inverse * inverse
        return self.chain(inverse, -square, square * inverse * 2.0)


def lift(value) -> Interval:
    if isinstance(value, Interval):
        return value
    if isinstance(value, (int, Fraction)):
        return Interval.exact(value)
    if isinstance(value, float):
        return Interval(value)  # a float is an exact binary rational
    raise TypeError(f"cannot make an interval of {type(value).__name__}")
