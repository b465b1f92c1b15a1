"""Vectorised interval arithmetic with outward rounding: many boxes at once, for the three-point check.

Each operation on float64 end points is correctly rounded (IEEE 754: +, -, *, /, sqrt), so one
``np.nextafter`` step outwards (:mod:`games.outward`) bounds the exact result; exponentials are
bounded through Arb (:func:`games.outward.arb_bounds`), assuming nothing of libm. Written by hand
because the check evaluates ~1e5 boxes per condition, which one Arb ball per box in Python would make
minutes; the library functions (Arb) are used where accuracy, not speed, is the issue.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
from flint import arb

from games.outward import arb_bounds, down, up


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
        if isinstance(other, Dual):
            return NotImplemented
        other = _lift(other)
        return Interval(down(self.lo + other.lo), up(self.hi + other.hi))

    __radd__ = __add__

    def __neg__(self) -> Interval:
        return Interval(-self.hi, -self.lo)

    def __sub__(self, other) -> Interval:
        if isinstance(other, Dual):
            return NotImplemented
        return self + (-_lift(other))

    def __rsub__(self, other) -> Interval:
        return _lift(other) + (-self)

    def __mul__(self, other) -> Interval:
        if isinstance(other, Dual):
            return NotImplemented
        other = _lift(other)
        p1, p2, p3, p4 = self.lo * other.lo, self.lo * other.hi, self.hi * other.lo, self.hi * other.hi
        return Interval(down(np.minimum(np.minimum(p1, p2), np.minimum(p3, p4))),
                        up(np.maximum(np.maximum(p1, p2), np.maximum(p3, p4))))

    __rmul__ = __mul__

    def __truediv__(self, other) -> Interval:
        if other != 2:
            raise ValueError("intervals are only halved here")
        return Interval(self.lo / 2, self.hi / 2)  # exact in binary (no underflow at these scales)

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

    def sqrt(self) -> Interval:
        if np.any(self.lo < 0):
            raise ValueError("square root of an interval reaching below zero")
        return Interval(np.maximum(down(np.sqrt(self.lo)), 0.0), up(np.sqrt(self.hi)))

    def maximum(self, other) -> Interval:
        other = _lift(other)
        return Interval(np.maximum(self.lo, other.lo), np.maximum(self.hi, other.hi))

    def minimum(self, other) -> Interval:
        other = _lift(other)
        return Interval(np.minimum(self.lo, other.lo), np.minimum(self.hi, other.hi))

    def exp_neg_pi(self) -> Interval:
        """exp(-pi x): decreasing, so its bounds are Arb bounds at the end points."""
        lo = arb_bounds(self.hi, lambda v: (-arb.pi() * v).exp(), upper=False)
        hi = arb_bounds(self.lo, lambda v: (-arb.pi() * v).exp(), upper=True)
        return Interval(lo, hi)


PI = Interval(down(np.pi), up(np.pi))  # the float np.pi is within one step of pi


class Dual:
    """An interval value with interval partial derivatives over the same box (forward mode), for the
    mean-value form f(box) in f(centre) + sum_i df/dx_i(box) (x_i - centre_i)."""

    __slots__ = ("grad", "value")

    def __init__(self, value: Interval, grad: list[Interval]) -> None:
        self.value, self.grad = value, grad

    @staticmethod
    def variables(box: list[Interval]) -> list[Dual]:
        zero, one = Interval(np.zeros_like(box[0].lo)), Interval(np.ones_like(box[0].lo))
        return [Dual(x, [one if i == j else zero for j in range(len(box))]) for i, x in enumerate(box)]

    def __add__(self, other) -> Dual:
        if isinstance(other, Dual):
            return Dual(self.value + other.value, [g + h for g, h in zip(self.grad, other.grad)])
        return Dual(self.value + other, self.grad)

    __radd__ = __add__

    def __neg__(self) -> Dual:
        return Dual(-self.value, [-g for g in self.grad])

    def __sub__(self, other) -> Dual:
        return self + (-other)

    def __rsub__(self, other) -> Dual:
        return (-self) + other

    def __mul__(self, other) -> Dual:
        if isinstance(other, Dual):
            return Dual(self.value * other.value,
                        [g * other.value + self.value * h for g, h in zip(self.grad, other.grad)])
        return Dual(self.value * other, [g * other for g in self.grad])

    __rmul__ = __mul__

    def __truediv__(self, other) -> Dual:
        return Dual(self.value / other, [g / other for g in self.grad])

    def __pow__(self, power: int) -> Dual:
        twice = self.value * 2
        return Dual(self.value ** power, [twice * g for g in self.grad]) if power == 2 else NotImplemented

    def exp_neg_pi(self) -> Dual:
        e = self.value.exp_neg_pi()
        slope = e * (-PI)
        return Dual(e, [slope * g for g in self.grad])


def _lift(value) -> Interval:
    if isinstance(value, Interval):
        return value
    if isinstance(value, (int, Fraction)):
        return Interval.exact(value)
    if isinstance(value, float):
        return Interval(value)  # a float is an exact binary rational
    raise TypeError(f"cannot make an interval of {type(value).__name__}")
