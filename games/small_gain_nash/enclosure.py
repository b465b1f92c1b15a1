"""Rigorous enclosures of a game's Jacobian over boxes: interval arithmetic with second-order jets.

Why: the certificate's constants mu_i and L_ij are extremes of the Jacobian J of the pseudo-gradient
over a region; sampled extremes can miss a narrow feature (a bump between samples) and certify a
game that has a second equilibrium. Here every loss l_i is evaluated on a :class:`Jet` (value,
gradient, Hessian), each an :class:`Interval` that contains the true values for every point of a box,
so the Hessian rows of block i enclose J's rows of block i = d/dx grad_{x_i} l_i over the whole box.

* Arithmetic (+, -, *, /) rounds to nearest and then steps at least one ulp outward
  (:mod:`games.outward`): the exact result of the operation on the endpoints lies inside
  (round-to-nearest errs by at most half an ulp).
* exp, log, tanh, sqrt are monotone: their endpoints are evaluated in Arb (python-flint) balls and
  rounded outward, so no libm accuracy is assumed. Derivatives are formed from these enclosures
  (tanh' = 1 - tanh^2, ...), so they are enclosures too.
* The user's torch losses run unchanged: a Jet implements ``__torch_function__`` for the operations
  listed in :data:`SUPPORTED`; anything else raises :class:`NotEnclosable`, and the caller falls back
  to sampled constants labelled as an estimate.

Shapes: a Jet over B boxes with n variables holding an array of shape s has value (B, *s), gradient
(B, *s, n) and Hessian (B, *s, n, n).
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
import torch

from games.outward import arb_bounds
from games.outward import down as _down
from games.outward import up as _up


class NotEnclosable(ValueError):
    """The loss uses an operation the interval arithmetic does not implement."""


class OutsideDomain(ValueError):
    """An operation's argument leaves its domain somewhere on the box (log or sqrt of <= 0, 1/0)."""


class Interval:
    """Arrays of closed intervals [lo, hi] (broadcasting like numpy)."""

    __slots__ = ("lo", "hi")

    def __init__(self, lo: Any, hi: Any | None = None) -> None:
        self.lo = np.asarray(lo, dtype=float)
        self.hi = self.lo if hi is None else np.asarray(hi, dtype=float)
        if not (np.all(np.isfinite(self.lo)) and np.all(np.isfinite(self.hi))):
            raise OutsideDomain("an interval bound overflowed (the loss is not finite on the box)")

    @property
    def shape(self) -> tuple[int, ...]:
        return np.broadcast_shapes(self.lo.shape, self.hi.shape)

    def __getitem__(self, idx: Any) -> Interval:
        return Interval(np.broadcast_to(self.lo, self.shape)[idx], np.broadcast_to(self.hi, self.shape)[idx])

    def __add__(self, other: Interval) -> Interval:
        return Interval(_down(self.lo + other.lo), _up(self.hi + other.hi))

    def __neg__(self) -> Interval:
        return Interval(-self.hi, -self.lo)

    def __sub__(self, other: Interval) -> Interval:
        return self + (-other)

    def __mul__(self, other: Interval) -> Interval:
        p = np.stack(np.broadcast_arrays(self.lo * other.lo, self.lo * other.hi, self.hi * other.lo, self.hi * other.hi))
        return Interval(_down(p.min(0)), _up(p.max(0)))

    def scale(self, c: np.ndarray) -> Interval:
        """Times an exact constant array."""
        a, b = self.lo * c, self.hi * c
        return Interval(_down(np.minimum(a, b)), _up(np.maximum(a, b)))

    def reciprocal(self) -> Interval:
        if np.any((self.lo <= 0) & (self.hi >= 0)):
            raise OutsideDomain("division by an interval that contains 0 on the box")
        return Interval(_down(1 / self.hi), _up(1 / self.lo))

    def power(self, k: int) -> Interval:
        """x^k for an integer k >= 0, tight for even k across 0."""
        if k == 0:
            return Interval(np.ones(self.shape))
        out = self
        for _ in range(k - 1):
            out = out * self
        if k % 2 == 0:  # x^k >= 0, and its minimum on an interval across 0 is 0
            lo = np.where((self.lo <= 0) & (self.hi >= 0), 0.0, np.maximum(out.lo, 0.0))
            out = Interval(lo, out.hi)
        return out

    def sum(self, axis: int) -> Interval:
        lo, hi = np.moveaxis(self.lo * np.ones(self.shape), axis, 0), np.moveaxis(self.hi * np.ones(self.shape), axis, 0)
        out = Interval(lo[0], hi[0])
        for k in range(1, lo.shape[0]):
            out = out + Interval(lo[k], hi[k])
        return out

    def monotone(self, method: str) -> Interval:
        """f(x) for an increasing f given by its Arb method name (exp, log, tanh, sqrt)."""
        def f(z):
            return getattr(z, method)()
        return Interval(arb_bounds(self.lo, f, upper=False), arb_bounds(self.hi, f, upper=True))

    def root(self) -> Interval:
        """sqrt of an interval that is >= 0 in exact arithmetic (rounding may have put lo a hair below 0)."""
        return Interval(np.maximum(self.lo, 0.0), np.maximum(self.hi, 0.0)).monotone("sqrt")

    def magnitude(self) -> np.ndarray:
        """max |x| over the interval (exact)."""
        return np.maximum(np.abs(self.lo), np.abs(self.hi))


def _outer(a: Interval, b: Interval) -> Interval:
    """(..., n) x (..., n) -> (..., n, n): a_i b_j."""
    return Interval(a.lo[..., :, None], a.hi[..., :, None]) * Interval(b.lo[..., None, :], b.hi[..., None, :])


class Jet:
    """Value, gradient and Hessian enclosures of an array of expressions over a batch of boxes."""

    __slots__ = ("v", "g", "h")

    def __init__(self, v: Interval, g: Interval, h: Interval) -> None:
        self.v, self.g, self.h = v, g, h

    @classmethod
    def variables(cls, lo: np.ndarray, hi: np.ndarray) -> Jet:
        """The coordinates themselves over boxes [lo, hi] (B x n): gradient e_k, Hessian 0."""
        B, n = lo.shape
        eye = np.broadcast_to(np.eye(n), (B, n, n))
        return cls(Interval(lo, hi), Interval(eye), Interval(np.zeros((B, n, n, n))))

    @property
    def ndim(self) -> int:
        return len(self.v.shape) - 1

    def _wrap(self, value: Any) -> Jet:
        """A constant (number, numpy array or torch tensor) as a Jet with zero derivatives."""
        c = value.detach().cpu().numpy() if isinstance(value, torch.Tensor) else np.asarray(value, dtype=float)
        n = self.g.shape[-1]
        c = np.broadcast_to(c, (1, *c.shape))
        return Jet(Interval(c), Interval(np.zeros((*c.shape, n))), Interval(np.zeros((*c.shape, n, n))))

    def _lift(self, other: Any) -> Jet:
        return other if isinstance(other, Jet) else self._wrap(other)

    # the chain rule for f(x): f'(x) g, f'(x) h + f''(x) g g^T
    def _unary(self, f: Interval, df: Interval, d2f: Interval) -> Jet:
        g = Interval(df.lo[..., None], df.hi[..., None]) * self.g
        h = Interval(df.lo[..., None, None], df.hi[..., None, None]) * self.h + \
            Interval(d2f.lo[..., None, None], d2f.hi[..., None, None]) * _outer(self.g, self.g)
        return Jet(f, g, h)

    def _expanded(self, ndim: int) -> Jet:
        """The same Jet with singleton element axes inserted after the batch axis, up to ``ndim``: element
        shapes then broadcast right-aligned as torch's do, and batch axes meet batch axes (a scalar
        over B boxes must never be paired with a vector of B components)."""
        k = ndim - self.ndim
        if k <= 0:
            return self

        def grow(iv: Interval) -> Interval:
            lo, hi = np.broadcast_to(iv.lo, iv.shape), np.broadcast_to(iv.hi, iv.shape)
            shape = iv.shape[:1] + (1,) * k + iv.shape[1:]
            return Interval(lo.reshape(shape), hi.reshape(shape))
        return Jet(grow(self.v), grow(self.g), grow(self.h))

    def _aligned(self, other: Any) -> tuple[Jet, Jet]:
        o = self._lift(other)
        ndim = max(self.ndim, o.ndim)
        return self._expanded(ndim), o._expanded(ndim)

    def __add__(self, other: Any) -> Jet:
        a, o = self._aligned(other)
        return Jet(a.v + o.v, a.g + o.g, a.h + o.h)

    __radd__ = __add__

    def __neg__(self) -> Jet:
        return Jet(-self.v, -self.g, -self.h)

    def __sub__(self, other: Any) -> Jet:
        return self + (-self._lift(other))

    def __rsub__(self, other: Any) -> Jet:
        return self._lift(other) + (-self)

    def __mul__(self, other: Any) -> Jet:
        a, o = self._aligned(other)
        av, bv = a.v, o.v
        g = a.g * Interval(bv.lo[..., None], bv.hi[..., None]) + Interval(av.lo[..., None], av.hi[..., None]) * o.g
        h = (a.h * Interval(bv.lo[..., None, None], bv.hi[..., None, None])
             + Interval(av.lo[..., None, None], av.hi[..., None, None]) * o.h
             + _outer(a.g, o.g) + _outer(o.g, a.g))
        return Jet(av * bv, g, h)

    __rmul__ = __mul__

    def reciprocal(self) -> Jet:
        r = self.v.reciprocal()
        r2 = r * r
        return self._unary(r, -r2, (r2 * r).scale(np.array(2.0)))

    def __truediv__(self, other: Any) -> Jet:
        return self * self._lift(other).reciprocal()

    def __rtruediv__(self, other: Any) -> Jet:
        return self._lift(other) * self.reciprocal()

    def __pow__(self, k: Any) -> Jet:
        k = float(k.item() if isinstance(k, torch.Tensor) else k)
        if k.is_integer() and k >= 0:
            k = int(k)
            if k == 0:
                return self._wrap(np.ones(self.v.shape[1:]))
            if k == 1:
                return self
            km1 = self.v.power(k - 1).scale(np.array(float(k)))
            km2 = self.v.power(k - 2).scale(np.array(float(k * (k - 1))))
            return self._unary(self.v.power(k), km1, km2)
        if k.is_integer():
            return (self ** -k).reciprocal()
        if k == 0.5:
            return self.sqrt()
        return (self.log() * k).exp()  # x^k = exp(k log x), x > 0

    def exp(self) -> Jet:
        e = self.v.monotone("exp")
        return self._unary(e, e, e)

    def log(self) -> Jet:
        if np.any(self.v.lo <= 0):
            raise OutsideDomain("log of an interval reaching 0 or below on the box")
        r = self.v.reciprocal()
        return self._unary(self.v.monotone("log"), r, -(r * r))

    def sqrt(self) -> Jet:
        if np.any(self.v.lo <= 0):
            raise OutsideDomain("sqrt of an interval reaching 0 or below on the box")
        s = self.v.monotone("sqrt")
        d = s.reciprocal().scale(np.array(0.5))
        return self._unary(s, d, -(d * d * d).scale(np.array(2.0)))  # (x^1/2)'' = -1/(4 x^3/2) = -2 d^3

    def tanh(self) -> Jet:
        t = self.v.monotone("tanh")
        d = Interval(np.ones(t.shape)) - t.power(2)
        return self._unary(t, d, (t * d).scale(np.array(-2.0)))

    def square(self) -> Jet:
        return self ** 2

    def sum(self, dim: int | None = None) -> Jet:
        if dim is None:
            out = self
            while out.ndim:
                out = out.sum(0)
            return out
        axis = 1 + (dim % self.ndim)
        return Jet(self.v.sum(axis), self.g.sum(axis), self.h.sum(axis))

    def __getitem__(self, idx: Any) -> Jet:
        idx = idx if isinstance(idx, tuple) else (idx,)
        if any(i is Ellipsis for i in idx):
            k = idx.index(Ellipsis)
            idx = idx[:k] + (slice(None),) * (self.ndim - len(idx) + 1) + idx[k + 1:]
        if any(isinstance(i, torch.Tensor) for i in idx):
            idx = tuple(i.numpy() if isinstance(i, torch.Tensor) else i for i in idx)
        full = (slice(None), *idx)
        return Jet(self.v[full], self.g[full], self.h[full])

    def __len__(self) -> int:
        return self.v.shape[1]

    def __matmul__(self, other: Any) -> Jet:
        return matmul(self, other)

    def __rmatmul__(self, other: Any) -> Jet:
        return matmul(other, self)

    @classmethod
    def __torch_function__(cls, func: Callable, types: tuple, args: tuple = (), kwargs: dict | None = None) -> Any:
        raw = getattr(func, "__name__", str(func))
        dunder = raw.startswith("__") and raw.endswith("__")
        name = raw[2:-2] if dunder else raw
        if name not in SUPPORTED or (raw.endswith("_") and not dunder):  # in-place variants (add_, exp_) differ
            raise NotEnclosable(f"torch.{raw} has no interval enclosure (supported: {', '.join(sorted(SUPPORTED))})")
        unknown = set(kwargs or {}) - KEYWORDS.get(name, set())
        if unknown:  # e.g. add(alpha=), div(rounding_mode=): silently dropping them would change the function
            raise NotEnclosable(f"torch.{raw} with {', '.join(sorted(unknown))}= has no interval enclosure")
        return SUPPORTED[name](*args, **(kwargs or {}))


def _jet_of(*xs: Any) -> Jet:
    return next(x for x in xs if isinstance(x, Jet))


def _binary(op: str) -> Callable[[Any, Any], Jet]:
    def apply(a: Any, b: Any) -> Jet:
        j = _jet_of(a, b)
        return getattr(j._lift(a), op)(j._lift(b))
    return apply


def matmul(a: Any, b: Any) -> Jet:
    """Vector . vector, matrix @ vector or vector @ matrix, with either side constant or a Jet."""
    j = _jet_of(a, b)
    a, b = j._lift(a), j._lift(b)
    if a.ndim == 1 and b.ndim == 1:
        return (a * b).sum(0)
    if a.ndim == 2 and b.ndim == 1:  # (m, k) @ (k,): rows times the vector, summed
        return (a * b[None]).sum(1)
    if a.ndim == 1 and b.ndim == 2:
        return (a[:, None] * b).sum(0)
    raise NotEnclosable(f"matmul of a {a.ndim}-D and a {b.ndim}-D array has no interval enclosure here")


def dot(a: Any, b: Any) -> Jet:
    """torch.dot: two vectors only (torch refuses anything else, so must this)."""
    j = _jet_of(a, b)
    a, b = j._lift(a), j._lift(b)
    if a.ndim != 1 or b.ndim != 1:
        raise NotEnclosable(f"dot of a {a.ndim}-D and a {b.ndim}-D array")
    return matmul(a, b)


def concatenate(tensors: Any, dim: int = 0) -> Jet:
    parts = list(tensors)
    j = _jet_of(*parts)
    parts = [j._lift(p) for p in parts]
    axis = 1 + (dim % parts[0].ndim)
    batch = max(p.v.shape[0] for p in parts)

    def stack(get: Callable[[Jet], Interval]) -> Interval:
        los = [np.broadcast_to(get(p).lo, (batch, *get(p).shape[1:])) for p in parts]
        his = [np.broadcast_to(get(p).hi, (batch, *get(p).shape[1:])) for p in parts]
        return Interval(np.concatenate(los, axis), np.concatenate(his, axis))
    return Jet(stack(lambda p: p.v), stack(lambda p: p.g), stack(lambda p: p.h))


def _method(name: str) -> Callable[..., Jet]:
    def apply(x: Any, *args: Any, **kwargs: Any) -> Jet:
        return getattr(x, name)(*args, **kwargs)
    return apply


SUPPORTED: dict[str, Callable[..., Any]] = {
    "add": _binary("__add__"), "radd": _binary("__add__"), "sub": _binary("__sub__"), "rsub": lambda a, b: _binary("__sub__")(b, a),
    "mul": _binary("__mul__"), "rmul": _binary("__mul__"), "div": _binary("__truediv__"),
    "truediv": _binary("__truediv__"), "true_divide": _binary("__truediv__"),
    "rtruediv": lambda a, b: _binary("__truediv__")(b, a), "matmul": matmul, "rmatmul": lambda a, b: matmul(b, a),
    "dot": dot, "neg": _method("__neg__"), "negative": _method("__neg__"),
    "pow": lambda a, k: a ** k, "square": _method("square"), "exp": _method("exp"), "log": _method("log"),
    "tanh": _method("tanh"), "sqrt": _method("sqrt"), "reciprocal": _method("reciprocal"), "sum": _method("sum"),
    "cat": concatenate, "concat": concatenate, "concatenate": concatenate, "getitem": lambda a, i: a[i],
}
KEYWORDS: dict[str, set[str]] = {"sum": {"dim"}, "cat": {"dim"}, "concat": {"dim"}, "concatenate": {"dim"}}


def loss_jet(loss: Callable, split: Callable, lo: np.ndarray, hi: np.ndarray) -> Jet:
    """The loss's value, gradient and Hessian enclosed over each box [lo, hi] (B x n)."""
    try:
        value = loss(split(Jet.variables(lo, hi)))
    except (TypeError, AttributeError, IndexError, RuntimeError) as error:  # e.g. branching on a value, x.shape
        raise NotEnclosable(f"the loss cannot run on intervals ({type(error).__name__}: {error})") from None
    if not isinstance(value, Jet) or value.ndim != 0:
        raise NotEnclosable("the loss did not return a scalar built from its inputs with supported operations")
    return value


def hessian_rows(loss: Callable, split: Callable, lo: np.ndarray, hi: np.ndarray, rows: slice) -> Interval:
    """Enclosure of rows ``rows`` of the loss's Hessian over each box [lo, hi] (B x n) -> (B, rows, n)."""
    return loss_jet(loss, split, lo, hi).h[:, rows, :]
