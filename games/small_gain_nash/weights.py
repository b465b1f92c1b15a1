"""Block weights: the small-gain matrix S(w), its margin, and two ways to maximise the margin.

S(w) is symmetric with S_ii = w_i mu_i and S_ij = -(w_i L_ij + w_j L_ji)/2. The margin of weights w
is the largest m with S(w) >= m diag(w), the smallest generalised eigenvalue of the pair
(S(w), diag(w)); it is invariant to scaling w and is the strong-monotonicity modulus of the field in
the metric ||z||_w^2 = sum_i w_i ||z_i||^2 (see :mod:`games.small_gain_nash.certificate`).

* ``convex_weights``: the ground truth. Maximising m subject to S(w) - m diag(w) >= 0 is a
  generalised-eigenvalue problem, quasi-convex in (w, m): for fixed m the constraint is a linear
  matrix inequality in w. Bisection on m, each step an SDP in cvxpy (built once, m a parameter).
* ``bo_weights``: Bayesian optimisation (BoTorch) of the margin over log-weight ratios, for when the
  margin is a black box (constants that depend on the weights, the region or other choices), then a
  Nelder-Mead polish of the best point.

Some weights exist with S(w) positive definite exactly when every mu_i > 0 and the gain matrix
Gamma_ij = L_ij / mu_i (i != j) has spectral radius below 1 (S(w) = sym(diag(w) M) for the Z-matrix
M = diag(mu) - L, which admits a positive diagonal Lyapunov scaling iff it is a non-singular
M-matrix). For two blocks rho(Gamma)^2 = L_12 L_21 / (mu_1 mu_2), the small-gain product.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import cvxpy as cp
import numpy as np
import torch
from flint import arb
from scipy.optimize import minimize

from games.outward import arb_precision


@dataclass(frozen=True)
class WeightSearch:
    """The best weights found (normalised so w_1 = 1), their exact margin, and the work it took."""

    weights: np.ndarray
    margin: float
    method: str
    evaluations: int


def small_gain_matrix(w: np.ndarray, mu: np.ndarray, L: np.ndarray) -> np.ndarray:
    w = np.asarray(w, dtype=float)
    cross = L - np.diag(np.diag(L))
    S = -(w[:, None] * cross + (w[:, None] * cross).T) / 2
    np.fill_diagonal(S, w * mu)
    return S


def margin(w: np.ndarray, mu: np.ndarray, L: np.ndarray) -> float:
    """lambda_min(S(w), diag(w)), computed as the smallest eigenvalue of D^-1/2 S(w) D^-1/2."""
    w = np.asarray(w, dtype=float)
    if not np.all(np.isfinite(w)) or np.any(w <= 0):
        raise ValueError(f"block weights must be positive and finite, got {w}")
    s = 1 / np.sqrt(w)
    return float(np.linalg.eigvalsh(s[:, None] * small_gain_matrix(w, mu, L) * s[None, :])[0])


def gain_radius(mu: np.ndarray, L: np.ndarray) -> float:
    """rho(Gamma), Gamma_ij = L_ij / mu_i off the diagonal; infinite when some mu_i <= 0."""
    if np.any(mu <= 0):
        return math.inf
    cross = L - np.diag(np.diag(L))
    return float(np.max(np.abs(np.linalg.eigvals(cross / mu[:, None]))))


def timescale_band(mu: np.ndarray, L: np.ndarray) -> tuple[float, float] | None:
    """For two blocks: an open interval of ratios r = w_2 / w_1 with S(w) positive definite, proven.

    det S(1, r) > 0 reads L_21^2 r^2 - 2 (2 mu_1 mu_2 - L_12 L_21) r + L_12^2 < 0, whose roots are
    (sqrt(mu_1 mu_2) -+ sqrt(mu_1 mu_2 - L_12 L_21))^2 / L_21^2: real, and the band non-empty, exactly
    when L_12 L_21 < mu_1 mu_2. With L_21 = 0 the band is (L_12^2 / (4 mu_1 mu_2), infinity). The roots
    are computed in Arb from the (exact) float constants and rounded inwards, so every ratio inside
    the returned interval satisfies the inequality (mu_i > 0 gives the diagonal).
    """
    if len(mu) != 2:
        raise ValueError(f"the timescale band is defined for two blocks, got {len(mu)}")
    (m1, m2), l12, l21 = mu, L[0, 1], L[1, 0]
    if m1 <= 0 or m2 <= 0 or l12 * l21 >= m1 * m2:
        return None
    with arb_precision():
        p, a, b = arb(float(m1)) * arb(float(m2)), arb(float(l12)), arb(float(l21))
        if l21 == 0:
            lo, hi_value = a * a / (4 * p), math.inf
        else:
            # the smaller root written as L_12^2 / (larger root's numerator) to avoid cancellation
            big = 2 * p - a * b + 2 * (p * (p - a * b)).sqrt()
            hi = big / (b * b)
            lo = a * a / (b * b * hi) if l12 > 0 else arb(0)
            hi_value = float(np.nextafter(float(hi.lower()), -np.inf))
        lo_value = float(np.nextafter(float(lo.upper()), np.inf)) if l12 > 0 else 0.0
    return (lo_value, hi_value) if lo_value < hi_value else None


def _normalised(w: np.ndarray) -> np.ndarray:
    w = np.asarray(w, dtype=float)
    return w / w[0]


def convex_weights(mu: np.ndarray, L: np.ndarray, tol: float = 1e-9, solver: str = "CLARABEL") -> WeightSearch:
    """Maximise the margin exactly: bisection on m, an SDP feasibility problem per step."""
    n = len(mu)
    best_w, best = np.ones(n), margin(np.ones(n), mu, L)
    if n == 1:
        return WeightSearch(best_w, best, "convex", 0)
    # For fixed m: is there w >= 0 with S(w) - m diag(w) >= I? (The problem is homogeneous in w, so
    # ">= I" is ">= some positive multiple of I"; minimising sum(w) keeps w bounded.) Feasible iff m is
    # below the optimal margin. Scaling the margin into the weights keeps the test well conditioned
    # where a normalised w with a tiny eigenvalue gap would be lost in the solver's tolerance.
    w, m = cp.Variable(n), cp.Parameter()
    cross = L - np.diag(np.diag(L))
    S = cp.diag(cp.multiply(w, mu)) - (cp.diag(w) @ cross + (cp.diag(w) @ cross).T) / 2
    lmi = S - m * cp.diag(w) - np.eye(n)
    problem = cp.Problem(cp.Minimize(cp.sum(w)), [(lmi + lmi.T) / 2 >> 0, w >= 0])
    lo, hi = best, float(np.min(mu))  # S_ii >= m w_i forces m <= mu_i
    solves = 0
    while hi - lo > tol * max(1.0, abs(hi)) and solves < 200:
        m.value = (lo + hi) / 2
        solves += 1
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                problem.solve(solver=solver)
            except cp.error.SolverError:
                hi = float(m.value)
                continue
        candidate = w.value
        if problem.status in (cp.OPTIMAL, cp.OPTIMAL_INACCURATE) and candidate is not None and np.all(candidate > 0):
            value = margin(candidate, mu, L)  # the exact margin of the weights returned
            if value > best:
                best, best_w = value, candidate
            lo = float(m.value)
        else:
            hi = float(m.value)
    return WeightSearch(_normalised(best_w), best, "convex", solves)


def bo_weights(mu: np.ndarray, L: np.ndarray, budget: int = 30, span: float = 8.0, seed: int = 0,
               polish: bool = True) -> WeightSearch:
    """Maximise the margin over log(w_i / w_1) in [-span, span]^(N-1) with BoTorch, then polish locally."""
    from botorch.acquisition import LogExpectedImprovement
    from botorch.fit import fit_gpytorch_mll
    from botorch.models import SingleTaskGP
    from botorch.models.transforms import Normalize, Standardize
    from botorch.optim import optimize_acqf
    from gpytorch.mlls import ExactMarginalLogLikelihood

    n = len(mu)
    if n == 1:
        return WeightSearch(np.ones(1), margin(np.ones(1), mu, L), "bo", 1)

    def value(u: np.ndarray) -> float:
        return margin(np.exp(np.concatenate([[0.0], np.clip(u, -span, span)])), mu, L)

    d = n - 1
    bounds = torch.tensor([[-span] * d, [span] * d], dtype=torch.float64)
    sobol = torch.quasirandom.SobolEngine(d, scramble=True, seed=seed)
    X = torch.cat([torch.zeros(1, d, dtype=torch.float64), bounds[0] + (bounds[1] - bounds[0]) * sobol.draw(2 * d + 3, dtype=torch.float64)])
    Y = torch.tensor([[value(x.numpy())] for x in X], dtype=torch.float64)
    generator = torch.Generator().manual_seed(seed)
    while len(X) < budget:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # constant margins (uncoupled blocks) make BoTorch warn about scaling
            gp = SingleTaskGP(X, Y, input_transform=Normalize(d, bounds=bounds), outcome_transform=Standardize(1))
            fit_gpytorch_mll(ExactMarginalLogLikelihood(gp.likelihood, gp))
            acq = LogExpectedImprovement(gp, best_f=Y.max())
            torch.manual_seed(int(torch.randint(0, 2 ** 31 - 1, (1,), generator=generator)))
            x_next, _ = optimize_acqf(acq, bounds=bounds, q=1, num_restarts=4, raw_samples=128)
        X = torch.cat([X, x_next])
        Y = torch.cat([Y, torch.tensor([[value(x_next[0].numpy())]], dtype=torch.float64)])
    evaluations = len(X)
    u = X[int(Y.argmax())].numpy()
    best = float(Y.max())
    if polish:
        result = minimize(lambda v: -value(v), u, method="Nelder-Mead",
                          options={"xatol": 1e-10, "fatol": 1e-14, "maxfev": 400 * d})
        evaluations += int(result.nfev)
        if -result.fun > best:
            u, best = np.clip(result.x, -span, span), -float(result.fun)
    return WeightSearch(np.exp(np.concatenate([[0.0], u])), best, "bo", evaluations)
