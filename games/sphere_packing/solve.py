"""Numerical solvers for the Cohn–Elkies problem at a fixed radius: sampled LP and sum-of-squares SDP.

Both find coordinates x (in a chosen basis, see :mod:`.bases`) of p, with q = F x its Fourier side,
minimising p(0) subject to q(0) = 1, q >= 0 on [0, inf) and p <= 0 on [R, inf), with a safety margin
so that the rounding of the final certificate cannot break a sign condition:

* ``sampled``: the conditions imposed at finitely many points, each row scaled to unit size; an
  exchange method adds the points where the current solution violates them (found on a dense grid
  and by the exact verifier) and solves again, until nothing is violated.
* ``sos``: q(t) = s0(t) + t s1(t) and -p(t) = s2(t) + (t - R) s3(t) with s_i sums of squares
  (Gram matrices PSD, at least ``margin`` times the identity), which is exactly nonnegativity on a
  half-line (Lukacs). The polynomial identities are imposed at d + 1 Chebyshev nodes.

Neither trusts itself: the result is only a candidate until :mod:`.verify` has checked it exactly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

import cvxpy as cp
import numpy as np
from scipy import optimize

from games.sphere_packing.bases import Basis, make_basis
from games.sphere_packing.verify import verify_certificate

POSITIVITY = ("sampled", "sos")
LP_SOLVERS = {"highs": "HIGHS", "clarabel": "CLARABEL", "scs": "SCS"}
SDP_SOLVERS = {"clarabel": "CLARABEL", "scs": "SCS", "sdpa-gmp": "SDPA"}
MAX_EXCHANGE_ROUNDS = 40
INITIAL_POINTS = 3  # per unknown, on each side
NEAR_TOUCH = 1e-3  # grid minima this close to zero are polished: touching points hide dips
SLACK_USED = 0.01  # dips between samples may use 99% of the margin: exchange only real threats
DEFAULT_MARGIN = 1e-8  # per scaled row; HiGHS cannot reliably meet tolerances below ~1e-9
DEFAULT_TOLERANCE = 1e-9


class SolveError(RuntimeError):
    """The numerical solve produced no candidate (infeasible, solver failure, no convergence)."""


@dataclass(frozen=True)
class Candidate:
    """A numerical solution at radius R = 2 pi r^2, not yet verified."""

    coefficients: tuple[Fraction, ...]  # exact Laguerre coefficients of the function the solver gave
    objective: float  # p(0) with q(0) = 1, as the solver saw it
    radius_t: float


def sample_range(dimension: int, degree: int) -> int:
    """Past 4d + 2 alpha + 2 every Laguerre polynomial of degree <= d is monotone: sample up to there."""
    return math.ceil(4 * degree + dimension + 10)


def _scaled(rows: np.ndarray) -> np.ndarray:
    """Each constraint row divided by its largest entry: a positive factor, so the sign is kept."""
    return rows / np.maximum(np.abs(rows).max(axis=1, keepdims=True), 1e-300)


def _solve_cvxpy(problem: cp.Problem, solver: str, options: dict) -> None:
    try:
        problem.solve(solver=solver, **options)
    except (cp.error.SolverError, ValueError, ArithmeticError) as exc:
        raise SolveError(f"{solver} failed: {exc}") from None
    if problem.status not in (cp.OPTIMAL, cp.OPTIMAL_INACCURATE):
        raise SolveError(f"{solver} reports {problem.status}")


def _tolerance_options(solver: str, tolerance: float) -> dict:
    if solver == "SCS":
        return {"eps_abs": tolerance, "eps_rel": tolerance, "max_iters": 5_000}
    if solver == "CLARABEL":
        return {"tol_gap_abs": tolerance, "tol_gap_rel": tolerance, "tol_feas": tolerance}
    if solver == "SDPA":
        return {"epsilonStar": tolerance, "epsilonDash": tolerance}
    return {}


class SampledLP:
    """Exchange-method LP at one radius; keeps its Fourier-side points across radii (they do not move)."""

    def __init__(self, dimension: int, degree: int, basis: str = "laguerre", solver: str = "highs",
                 margin: float = DEFAULT_MARGIN, tolerance: float = DEFAULT_TOLERANCE) -> None:
        if solver not in LP_SOLVERS:
            raise ValueError(f"unknown LP solver {solver!r}; choose one of {', '.join(LP_SOLVERS)}")
        self.dimension, self.degree, self.margin = dimension, degree, margin
        self.top = sample_range(dimension, degree)
        self.basis: Basis = make_basis(basis, degree, dimension, self.top)
        self.solver, self.tolerance = LP_SOLVERS[solver], tolerance
        self.options = _tolerance_options(self.solver, tolerance)
        self.q_points = np.empty(0)  # exchange points where earlier solutions touched, reused
        self.p_points = np.empty(0)
        self.grid = np.concatenate([np.linspace(0.0, self.top, 60 * (degree + 1)),
                                    self.top * np.geomspace(1.01, 16.0, 200)])
        # radius-independent rows, computed once: the grid is searched for violations every round
        self.grid_rows = {True: self._signed_rows(self.grid, fourier=True),
                          False: self._signed_rows(self.grid, fourier=False)}
        lead = np.array([float(self.basis.to_laguerre[degree, j]) for j in range(degree + 1)])
        self.lead = lead / np.abs(lead).max()
        self.cost = self.basis.evaluate(np.zeros(1))[0]  # p(0)
        self.normal = self._q_rows(np.zeros(1))  # q(0) = 1

    def _q_rows(self, t: np.ndarray) -> np.ndarray:
        return self.basis.evaluate(t) @ self.basis.fourier

    def solve(self, radius_t: float) -> Candidate:
        nodes = INITIAL_POINTS * (self.degree + 1)
        self.q_points = np.union1d(_nodes(0.0, self.top, nodes), self.q_points)
        p_points = np.union1d(_nodes(radius_t, self.top, nodes), self.p_points[self.p_points >= radius_t])
        for _ in range(MAX_EXCHANGE_ROUNDS):
            # rows: -q(t_i) <= -margin, p(t_j) <= -margin, -a_d <= 0 (q >= 0, p <= 0 at infinity; d odd)
            upper = np.vstack([-self._signed_rows(self.q_points, fourier=True),
                               -self._signed_rows(p_points, fourier=False), -self.lead])
            bound = np.concatenate([np.full(len(self.q_points) + len(p_points), -self.margin), [0.0]])
            values, objective = self._solve_lp(self.cost, upper, bound, self.normal, np.ones(1))
            new_q, new_p = self._violations(values, radius_t)
            if len(new_q) == 0 and len(new_p) == 0:
                certificate = self.basis.laguerre_coefficients(values)
                check = verify_certificate(self.dimension, certificate, radius_t)
                if check.verified:
                    self.q_points = self._near_active(values, self.q_points, fourier=True)
                    self.p_points = self._near_active(values, p_points, fourier=False)
                    return Candidate(tuple(certificate), objective, radius_t)
                if check.violation_t is None:
                    raise SolveError(f"solution does not verify: {check.reason}")
                if check.reason.startswith("f^"):
                    new_q = self._refine(values, np.array([check.violation_t]), fourier=True)
                else:  # the sign change of p lies beyond R: sample the hump after it
                    new_p = self._refine(values, np.array([check.violation_t]), fourier=False, low=radius_t)
            if np.isin(new_q, self.q_points).all() and np.isin(new_p, p_points).all():
                raise SolveError(f"the solver violates constraints it was given by more than the margin "
                                 f"{self.margin:g}: its tolerance is too loose for this margin")
            self.q_points = np.union1d(self.q_points, new_q)
            p_points = np.union1d(p_points, new_p)
        raise SolveError(f"exchange did not converge in {MAX_EXCHANGE_ROUNDS} rounds")

    def _near_active(self, x: np.ndarray, points: np.ndarray, fourier: bool) -> np.ndarray:
        """The exchange points where the solution nearly touches: the next radius starts from these
        (plus its fresh nodes), so the LPs do not grow with every radius tried."""
        return points[self._signed(x, points, fourier) < NEAR_TOUCH]

    def _solve_lp(self, cost, upper, bound, equal, rhs) -> tuple[np.ndarray, float]:
        """min cost.x s.t. upper x <= bound, equal x = rhs: HiGHS directly (no modelling overhead),
        the conic solvers through cvxpy."""
        if self.solver == "HIGHS":
            result = optimize.linprog(cost, A_ub=upper, b_ub=bound, A_eq=equal, b_eq=rhs, bounds=(None, None),
                                      method="highs", options={"primal_feasibility_tolerance": self.tolerance,
                                                               "dual_feasibility_tolerance": self.tolerance})
            if result.status == 4:  # "numerical difficulties": HiGHS stopped short of its tolerances
                raise SolveError(f"HiGHS stopped without a solution ({result.message}): the tolerance "
                                 f"{self.tolerance:g} may be tighter than it can meet; try a larger margin")
            if result.status != 0:
                raise SolveError(f"HiGHS: {result.message}")
            return np.asarray(result.x), float(result.fun)
        x = cp.Variable(len(cost))
        problem = cp.Problem(cp.Minimize(cost @ x), [upper @ x <= bound, equal @ x == rhs])
        _solve_cvxpy(problem, self.solver, self.options)
        return np.asarray(x.value, dtype=float), float(problem.value)

    def _signed_rows(self, t: np.ndarray, fourier: bool) -> np.ndarray:
        """Rows giving scaled q (``fourier``) or scaled -p at t: both must stay >= margin."""
        if fourier:
            return _scaled(self._q_rows(t))
        return -_scaled(self.basis.evaluate(t))

    def _signed(self, x: np.ndarray, t: np.ndarray, fourier: bool) -> np.ndarray:
        return self._signed_rows(t, fourier) @ x

    def _refine(self, x: np.ndarray, starts: np.ndarray, fourier: bool, low: float = 0.0) -> np.ndarray:
        """Polish grid minima of the scaled condition by zooming in (vectorised, 4 levels of 33 points);
        keep those that use more of the margin than allowed."""
        step = self.top / (60 * (self.degree + 1))
        out = []
        for t0 in starts:
            best, width = t0, step
            for _ in range(4):
                t = np.linspace(max(low, best - width), best + width, 33)
                best, width = t[int(np.argmin(self._signed(x, t, fourier)))], width / 16
            if self._signed(x, np.array([best]), fourier)[0] < self.margin * SLACK_USED:
                out.append(best)
        return np.array(out)

    def _violations(self, x: np.ndarray, radius_t: float) -> tuple[np.ndarray, np.ndarray]:
        """Where scaled q (on [0, inf)) or scaled -p (on [R, inf)) uses more of the margin than allowed."""
        found = []
        for fourier, low in ((True, 0.0), (False, radius_t)):
            keep = self.grid >= low
            values = self.grid_rows[fourier][keep] @ x
            near = _local_minima(self.grid[keep], values, values < NEAR_TOUCH)  # a dip may hide between grid points
            found.append(self._refine(x, near, fourier, low))
        return found[0], found[1]


class SumOfSquaresSDP:
    """Lukacs sum-of-squares certificates on the half-lines, one SDP per radius."""

    def __init__(self, dimension: int, degree: int, basis: str = "laguerre", solver: str = "clarabel",
                 margin: float = DEFAULT_MARGIN, tolerance: float = DEFAULT_TOLERANCE) -> None:
        if solver not in SDP_SOLVERS:
            raise ValueError(f"unknown SDP solver {solver!r}; choose one of {', '.join(SDP_SOLVERS)}")
        if degree % 2 == 0:
            raise ValueError("the sum-of-squares formulation needs an odd degree")
        self.dimension, self.degree, self.margin = dimension, degree, margin
        self.top = sample_range(dimension, degree)
        self.basis = make_basis(basis, degree, dimension, self.top)
        self.half = make_basis(basis, (degree - 1) // 2, dimension, self.top)
        self.solver = SDP_SOLVERS[solver]
        self.options = _tolerance_options(self.solver, tolerance)
        self.nodes = _nodes(0.0, self.top, degree + 1)
        self.rows = self.basis.evaluate(self.nodes)
        half = self.half.evaluate(self.nodes)
        self.gram_size = half.shape[1]
        self.outer = np.einsum("ni,nj->nij", half, half).reshape(len(self.nodes), self.gram_size ** 2)
        self.scale = 1.0 / np.maximum(np.abs(self.rows).max(axis=1), np.abs(half).max(axis=1) ** 2)
        self.cost = self.basis.evaluate(np.zeros(1))[0]  # p(0)

    def _gram_terms(self, shift: float) -> tuple[list, list]:
        """b(t)^T Q b(t) and (t - shift) b(t)^T Q b(t) at the nodes, as cvxpy expressions."""
        m, outer = self.gram_size, self.outer
        grams = [cp.Variable((m, m), PSD=True), cp.Variable((m, m), PSD=True)]
        terms = [outer @ cp.vec(grams[0], order="C"), cp.multiply(self.nodes - shift, outer @ cp.vec(grams[1], order="C"))]
        return grams, terms

    def solve(self, radius_t: float) -> Candidate:
        x = cp.Variable(self.degree + 1)
        rows, scale = self.rows, self.scale
        q_grams, q_terms = self._gram_terms(0.0)
        p_grams, p_terms = self._gram_terms(radius_t)
        eye = np.eye(q_grams[0].shape[0])
        constraints = [
            cp.multiply(scale, rows @ self.basis.fourier @ x) == cp.multiply(scale, q_terms[0] + q_terms[1]),
            cp.multiply(scale, -(rows @ x)) == cp.multiply(scale, p_terms[0] + p_terms[1]),
            self.cost @ self.basis.fourier @ x == 1.0,  # q(0) = 1
        ] + [g >> self.margin * eye for g in (*q_grams, *p_grams)]
        problem = cp.Problem(cp.Minimize(self.cost @ x), constraints)
        _solve_cvxpy(problem, self.solver, self.options)
        values = np.asarray(x.value, dtype=float)
        certificate = self.basis.laguerre_coefficients(values)
        return Candidate(tuple(certificate), float(problem.value), radius_t)


def make_solver(dimension: int, degree: int, positivity: str = "sampled", **components):
    """The fixed-radius solver for one formulation."""
    if positivity == "sampled":
        return SampledLP(dimension, degree, **components)
    if positivity == "sos":
        return SumOfSquaresSDP(dimension, degree, **components)
    raise ValueError(f"unknown positivity {positivity!r}; choose one of {', '.join(POSITIVITY)}")


def _nodes(low: float, high: float, count: int) -> np.ndarray:
    """Chebyshev points of the second kind on [low, high]: dense near the ends, where roots crowd."""
    return low + (high - low) * (1 - np.cos(np.pi * np.arange(count) / (count - 1))) / 2


def _local_minima(t: np.ndarray, values: np.ndarray, bad: np.ndarray) -> np.ndarray:
    """Grid points that are local minima of ``values`` and flagged ``bad``."""
    if len(t) == 0:
        return t
    left = np.concatenate([[np.inf], values[:-1]])
    right = np.concatenate([values[1:], [np.inf]])
    return t[bad & (values <= left) & (values <= right)]


__all__ = ["Candidate", "SampledLP", "SolveError", "SumOfSquaresSDP", "make_solver"]
