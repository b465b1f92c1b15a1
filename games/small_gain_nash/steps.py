"""Safe step sizes of projected Euler and RK4 and their per-step contraction factors (see certificate.py).

Both factors are functions of the margin m and the weighted Lipschitz constant L_w only. The step
is chosen in floating point; the factor claimed for it, and the largest safe step, are then proven in
exact rational arithmetic, so the printed numbers are bounds and not roundings of bounds.

RK4's stage bound needs c_j eta a_{j-1} < 1 for every stage; with x = eta L_w the last stage is the
binding one, x (1 + x/2 + x^2/4) < 1, i.e. x below the real root of x^3 + 2 x^2 + 4 x - 4. The factor
bound is a polynomial in eta on that domain, and q^2 - 1 = eta (eta a(eta)^2 - 2 b(eta)) where a grows
and b shrinks with eta, so q < 1 exactly on an interval (0, eta_max): one sign change, bracketed by
the minimiser and the domain's end.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from flint import fmpq
from scipy.optimize import brentq, minimize_scalar

from games.small_gain_nash.rational import fraction, sqrt_upper

RK4_C = (fmpq(0), fmpq(1, 2), fmpq(1, 2), fmpq(1))
RK4_BETA = (fmpq(1, 6), fmpq(2, 6), fmpq(2, 6), fmpq(1, 6))
RK4_X_MAX = float(max(r.real for r in np.roots([1.0, 2.0, 4.0, -4.0]) if abs(r.imag) < 1e-12))  # 0.68501...


@dataclass(frozen=True)
class StepRule:
    """A step size for one integrator, its certified per-step contraction factor, and the largest safe step."""

    step: float
    factor: float
    max_step: float


def euler_q2(eta: fmpq, m: fmpq, lipschitz: fmpq) -> fmpq:
    """||d - eta (G(x) - G(y))||_w^2 / ||d||_w^2 <= 1 - 2 eta m + eta^2 L_w^2."""
    return 1 - 2 * eta * m + (eta * lipschitz) ** 2


def rk4_q2(eta: fmpq, m: fmpq, lipschitz: fmpq) -> fmpq | None:
    """The bound on the squared RK4 factor at step eta (``None`` where the stage bound breaks), exactly."""
    a_prev, b, a = fmpq(0), fmpq(0), fmpq(0)
    for c, beta in zip(RK4_C, RK4_BETA):
        shrink = c * eta * a_prev
        if shrink >= 1:
            return None
        a_j = lipschitz * (1 + shrink)
        b += beta * (m * (1 - shrink) ** 2 - shrink * a_j)
        a += beta * a_j
        a_prev = a_j
    return 1 - 2 * eta * b + (eta * a) ** 2


def factor(q2: fmpq | None) -> float:
    """sqrt(q2) rounded up; inf where the bound says nothing (no contraction)."""
    return np.inf if q2 is None or q2 >= 1 else sqrt_upper(max(q2, fmpq(0)))


def _largest_safe(limit: float, m: float, lipschitz: float, q2) -> float:
    """A float at or below ``limit`` where q2 < 1 is proven: ``limit`` backed off by 2^(k-52) relative, k = 0, 1, ..."""
    mq, lq = fraction(m), fraction(lipschitz)
    for k in range(53):
        eta = limit * (1 - 2.0 ** (k - 52))
        value = q2(fraction(eta), mq, lq)
        if value is not None and value < 1:
            return float(eta)
    return 0.0


def euler_rule(m: float, lipschitz: float) -> StepRule:
    """eta = m / L_w^2, factor sqrt(1 - m^2 / L_w^2); every step below 2 m / L_w^2 contracts."""
    step = m / lipschitz ** 2
    q2 = euler_q2(fraction(step), fraction(m), fraction(lipschitz))
    return StepRule(step, factor(q2), _largest_safe(2 * m / lipschitz ** 2, m, lipschitz, euler_q2))


def _rk4_float(eta: float, m: float, lipschitz: float) -> float:
    value = rk4_q2(fraction(eta), fraction(m), fraction(lipschitz))
    return 2.0 if value is None else float(value)


def rk4_rule(m: float, lipschitz: float) -> StepRule | None:
    """The step minimising the RK4 factor bound and the largest step that still contracts (None if none does)."""
    domain = RK4_X_MAX / lipschitz * (1 - 1e-12)  # the stage bound holds strictly below
    top = min(2 * m / lipschitz ** 2, domain)  # q < 1 needs eta L_w^2 <= eta a^2 < 2 b <= 2 m
    step = float(minimize_scalar(lambda e: _rk4_float(e, m, lipschitz), bounds=(0, top), method="bounded",
                                 options={"xatol": 1e-12 * top}).x)
    if not _rk4_float(step, m, lipschitz) < 1:
        return None
    limit = top if _rk4_float(top, m, lipschitz) < 1 else \
        float(brentq(lambda e: _rk4_float(e, m, lipschitz) - 1, step, top, xtol=1e-15 * top))
    return StepRule(step, factor(rk4_q2(fraction(step), fraction(m), fraction(lipschitz))),
                    _largest_safe(limit, m, lipschitz, rk4_q2))
