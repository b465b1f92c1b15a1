"""Exact rational checks that turn floating-point numbers of the certificate into proven bounds.

Why: the margin, the weighted Lipschitz constant and the exact curvatures are eigenvalues computed
in floating point, correct only up to rounding. Each is moved a little in the safe direction and the
inequality it stands for is then proven in exact rational arithmetic (python-flint ``fmpq``): every
float is a rational, and a symmetric matrix is positive definite iff its leading principal minors
are positive (Sylvester), which ``fmpq_mat.det`` decides exactly.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
from flint import arb, fmpq, fmpq_mat

from games.small_gain_nash.weights import margin


def fraction(x: float) -> fmpq:
    """The float x as an exact rational."""
    num, den = float(x).as_integer_ratio()
    return fmpq(num, den)


def positive_definite(A: list[list[fmpq]]) -> bool:
    """Sylvester's criterion, exactly."""
    n = len(A)
    return all(fmpq_mat([row[:k] for row in A[:k]]).det() > 0 for k in range(1, n + 1))


def _matrix(A: np.ndarray) -> list[list[fmpq]]:
    return [[fraction(v) for v in row] for row in np.atleast_2d(A)]


def _proven(estimate: float, holds: Callable[[float], bool], direction: float) -> float:
    """The estimate moved by growing steps in ``direction`` (-1 down, +1 up) until ``holds`` is proven."""
    delta = 2.0 ** -40 * (1 + abs(estimate))
    for _ in range(60):
        t = estimate + direction * delta
        if holds(t):
            return t
        delta *= 4
    raise ArithmeticError(f"could not prove a bound near {estimate!r}")


def min_eigenvalue_lower(A: np.ndarray) -> float:
    """A proven lower bound on lambda_min((A + A^T)/2)."""
    A = np.atleast_2d(np.asarray(A, dtype=float))
    Aq = _matrix(A)
    n = len(Aq)
    rows = [[(Aq[i][j] + Aq[j][i]) / 2 for j in range(n)] for i in range(n)]  # symmetrised exactly

    def holds(t: float) -> bool:
        q = fraction(t)
        return positive_definite([[rows[i][j] - (q if i == j else 0) for j in range(n)] for i in range(n)])
    return _proven(float(np.linalg.eigvalsh((A + A.T) / 2)[0]), holds, -1.0)


def weighted_norm_upper(A: np.ndarray, d: np.ndarray | None = None) -> float:
    """A proven upper bound on ||D^1/2 A D^-1/2||_2 (D = diag(d), default I): l^2 D - A^T D A > 0."""
    A = np.atleast_2d(np.asarray(A, dtype=float))
    d = np.ones(A.shape[1]) if d is None else np.asarray(d, dtype=float)
    if not np.any(A):
        return 0.0
    s = np.sqrt(d)
    estimate = float(np.linalg.norm(s[:, None] * A / s[None, :], 2))
    Aq, dq = _matrix(A), [fraction(v) for v in d]
    n, m = A.shape
    AtDA = [[sum((Aq[k][i] * dq[k] * Aq[k][j] for k in range(n)), fmpq(0)) for j in range(m)] for i in range(m)]

    def holds(t: float) -> bool:
        t2 = fraction(t) ** 2
        return positive_definite([[(t2 * dq[i] if i == j else 0) - AtDA[i][j] for j in range(m)] for i in range(m)])
    return _proven(estimate, holds, 1.0)


def margin_lower(w: np.ndarray, mu: np.ndarray, L: np.ndarray) -> float:
    """A proven m just below the floating margin of w with S(w) - m diag(w) > 0 (S as in weights.py)."""
    wq, muq, Lq = [fraction(v) for v in w], [fraction(v) for v in mu], _matrix(L)
    n = len(wq)
    S = [[wq[i] * muq[i] if i == j else -(wq[i] * Lq[i][j] + wq[j] * Lq[j][i]) / 2 for j in range(n)] for i in range(n)]

    def holds(t: float) -> bool:
        q = fraction(t)
        return positive_definite([[S[i][j] - (q * wq[i] if i == j else 0) for j in range(n)] for i in range(n)])
    return _proven(margin(w, mu, L), holds, -1.0)


def sqrt_upper(x: fmpq) -> float:
    """A float at or above sqrt(x) for a rational x >= 0."""
    ball = arb(x).sqrt()
    return float(np.nextafter(float(ball.upper()), np.inf))
