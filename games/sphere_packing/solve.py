"""The numerical solver for the Cohn–Elkies problem at a fixed radius: a sampled LP with exchange.

It finds coordinates x (in a chosen basis, see :mod:`.bases`) of p, with q = F x its Fourier side,
minimising p(0) subject to q(0) = 1, q >= 0 on [0, inf) and p <= 0 on [R, inf), with a safety margin
so that dips between samples cannot break a sign condition. The conditions are imposed at finitely
many points, each row scaled to unit size; an exchange method adds the points where the current
solution violates them (found on a dense grid and by the exact verifier) and solves again, until
nothing is violated. It does not trust itself: the result is only a candidate until :mod:`.verify`
has checked it exactly.

A sum-of-squares formulation (Lukacs: q = s0 + t s1, -p = s2 + (t - R) s3, the identities matched at
d + 1 nodes) was offered before and removed: in double precision its row-scaled constraint data
spanned 18 orders of magnitude at degree 15 in dimension 8; Clarabel stopped with a numerical error
at its first iteration, SCS returned "optimal_inaccurate" points violating the program's own
equalities (q(0) = -74 where q(0) = 1 was imposed: the source of the "densities" below E8 it
claimed), and SDPA-GMP called it infeasible from degree 11. None of its candidates ever verified;
the LP reaches the same bounds.
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

LP_SOLVERS = {"highs": "HIGHS", "clarabel": "CLARABEL", "scs": "SCS"}
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
    objective: float  # p(0) / q(0) of the solver's function, in floating point
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
            values = self._solve_lp(self.cost, upper, bound, self.normal, np.ones(1))
            new_q, new_p = self._violations(values, radius_t)
            if len(new_q) == 0 and len(new_p) == 0:
                certificate = self.basis.laguerre_coefficients(values)
                check = verify_certificate(self.dimension, certificate, radius_t)
                if check.verified:
                    self.q_points = self._near_active(values, self.q_points, fourier=True)
                    self.p_points = self._near_active(values, p_points, fourier=False)
                    # p(0) / q(0) of the function found, not the solver's objective: an inaccurate solve
                    # may not meet q(0) = 1, and the radius search must compare true ratios
                    ratio = float(self.cost @ values) / float(self.normal[0] @ values)
                    return Candidate(tuple(certificate), ratio, radius_t)
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

    def _solve_lp(self, cost, upper, bound, equal, rhs) -> np.ndarray:
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
            return np.asarray(result.x)
        x = cp.Variable(len(cost))
        problem = cp.Problem(cp.Minimize(cost @ x), [upper @ x <= bound, equal @ x == rhs])
        _solve_cvxpy(problem, self.solver, self.options)
        return np.asarray(x.value, dtype=float)

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


def make_solver(dimension: int, degree: int, **components) -> SampledLP:
    """The fixed-radius solver for one formulation."""
    return SampledLP(dimension, degree, **components)


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


__all__ = ["Candidate", "SampledLP", "SolveError", "make_solver"]
